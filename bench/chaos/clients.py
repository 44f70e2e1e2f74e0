"""The bounded load: a few users through haproxy over TLS, each request with its own id."""

import http.client
import ssl
import time
import traceback

from bench.chaos import netns
from bench.chaos.cluster import SITE
from bench.loadtest.clients import LoadClient
from bench.loadtest.exchanges import fixed

ACTIONS = {"upload": 30, "task_list": 20, "task_detail": 20, "refresh": 20, "session_login": 5}
PAUSE = 0.3  # between one client's actions: a bounded load on a shared 2-core machine


class ChaosClient(LoadClient):
    """A LoadClient that reaches the site through the load balancer and tags each request."""

    # Django checks the Referer of HTTPS form posts against the site (CSRF).
    fixed_headers = {"Host": SITE, "Referer": f"https://{SITE}/accounts/login/"}
    stage = "setup"

    def __init__(self, *, cafile: str, **kwargs) -> None:
        super().__init__(port=443, deadline=None, iterations=None, **kwargs)
        self.context = ssl.create_default_context(cafile=cafile)
        self.context.check_hostname = False  # the cert names SITE; we dial the address
        self.submitted: list[str] = []

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPSConnection(
            netns.address("lb"), 443, timeout=30, context=self.context
        )

    def send(self, action, method, path, **kwargs):
        started = time.monotonic()
        stage = self.stage
        reply = super().send(action, method, path, **kwargs)
        exchange = self.exchanges[-1]
        exchange.stage, exchange.started, exchange.ended = stage, started, time.monotonic()
        exchange.code = ""
        if reply is not None and reply.status == 507:
            exchange.code = "storage_full" if b"storage_full" in reply.body else "?"
        return reply

    def upload(self, *, bad: bool = False) -> None:
        before = len(self.tasks)
        super().upload(bad=bad)
        self.submitted.extend(self.tasks[before:])

    def task_list(self) -> None:
        if self.has_access():
            reply = self.send(
                "task_list",
                "GET",
                "/api/v2/tasks",
                headers=self.bearer(),
                ok=(200,),
                expect=fixed({200: [], 401: []}),
            )
            if reply is not None and reply.status == 401:
                self.access = None

    def task_detail(self) -> None:
        if not self.submitted:
            return self.upload()
        if self.has_access():
            task = self.submitted[self.rng.randrange(len(self.submitted))]
            reply = self.send(
                "task_detail",
                "GET",
                f"/api/v2/tasks/{task}",
                headers=self.bearer(),
                ok=(200,),
                expect=fixed({200: [], 401: []}),
            )
            if reply is not None and reply.status == 401:
                self.access = None
        return None

    def run(self) -> None:
        names, weights = list(ACTIONS), list(ACTIONS.values())
        try:
            self.jwt_login()
            while not self.stop.is_set():
                getattr(self, self.rng.choices(names, weights)[0])()
                self.stop.wait(PAUSE)
        except Exception:
            self.crash = traceback.format_exc()
