"""RateLimit-Policy and RateLimit headers on every throttled answer, Retry-After on a 429.

draft-ietf-httpapi-ratelimit-headers-10 syntax: `"login";q=3;w=60` and `"login";r=2;t=60`.
The throttles' clock is a fake one the tests move, so `t` is exact without reading
the wall clock; the counters are the real ones, in the database cache.
"""

import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.throttling import LoginRateThrottle, LogoutRateThrottle, RefreshRateThrottle
from audit.tests.fixtures import PASSWORD
from ocr_project.common.rate_limits import ReportingRateThrottle

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

LOGIN = "/api/v2/auth/login"
START = 1_900_000_000.0
LIMIT = re.compile(r'^"(?P<policy>\w+)";r=(?P<r>\d+);t=(?P<t>\d+)$')


@pytest.fixture
def clock(monkeypatch):
    """The throttles' time, in seconds; the test moves it with clock[0] += n."""
    now = [START]
    monkeypatch.setattr(ReportingRateThrottle, "timer", staticmethod(lambda: now[0]))
    return now


@pytest.fixture
def three_per_minute(monkeypatch):
    # DRF copies the rates onto the class when it is defined; settings alone come too late.
    for throttle in (LoginRateThrottle, RefreshRateThrottle, LogoutRateThrottle):
        monkeypatch.setattr(throttle, "THROTTLE_RATES", {throttle.scope: "3/min"})


def limit(response) -> tuple[str, int, int]:
    match = LIMIT.match(response["RateLimit"])
    assert match, response["RateLimit"]
    return match["policy"], int(match["r"]), int(match["t"])


def login(client: Client, username: str, password: str = "wrong"):  # noqa: S107
    return client.post(
        LOGIN, {"username": username, "password": password}, content_type="application/json"
    )


@pytest.mark.usefixtures("three_per_minute")
def test_login_headers_count_down_with_use_and_the_429_says_when(user, clock):
    client = Client(REMOTE_ADDR="198.51.100.7")
    answers = []
    for _ in range(3):
        answers.append(login(client, user.username))
        clock[0] += 10

    assert [answer.status_code for answer in answers] == [401, 401, 401]
    assert {answer["RateLimit-Policy"] for answer in answers} == {'"login";q=3;w=60'}
    # r counts down; t is when the oldest counted attempt (at START) leaves the window.
    assert [limit(answer) for answer in answers] == [
        ("login", 2, 60),
        ("login", 1, 50),
        ("login", 0, 40),
    ]

    throttled = login(client, user.username, PASSWORD)
    assert throttled.status_code == 429
    assert throttled["RateLimit-Policy"] == '"login";q=3;w=60'
    assert limit(throttled) == ("login", 0, 30)
    assert throttled["Retry-After"] == "30"

    # Once the first attempt has left the window, one more fits.
    clock[0] += 30
    again = login(client, user.username, PASSWORD)
    assert again.status_code == 200
    assert limit(again) == ("login", 0, 10)


@pytest.mark.usefixtures("three_per_minute")
def test_the_headers_count_no_request_twice(user, clock):
    client = Client(REMOTE_ADDR="198.51.100.8")
    for _ in range(2):
        login(client, user.username)
    key = LoginRateThrottle().cache_format % {"scope": "login", "ident": "198.51.100.8"}
    # Two requests, two entries: writing the headers read the history, added nothing.
    assert cache.get(key) == [START, START]


@pytest.mark.usefixtures("three_per_minute")
def test_refresh_and_logout_carry_their_own_policies(user, clock):
    client = Client(REMOTE_ADDR="198.51.100.9")
    pair = login(client, user.username, PASSWORD).json()

    refreshed = client.post(
        "/api/v2/auth/refresh", {"refresh": pair["refresh"]}, content_type="application/json"
    )
    assert refreshed.status_code == 200
    assert refreshed["RateLimit-Policy"] == '"refresh";q=3;w=60'
    assert limit(refreshed) == ("refresh", 2, 60)

    new = refreshed.json()
    logout = client.post(
        "/api/v2/auth/logout",
        {"refresh": new["refresh"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {new['access']}",
    )
    assert logout.status_code == 204
    assert logout["RateLimit-Policy"] == '"logout";q=3;w=60'
    assert limit(logout) == ("logout", 2, 60)


@pytest.mark.usefixtures("three_per_minute")
def test_the_login_form_429_page_carries_them_too(db, clock):
    client = Client(REMOTE_ADDR="198.51.100.10")
    for name in ("ann", "ben", "cat"):
        client.post("/accounts/login/", {"username": name, "password": "guess"})
    page = client.post("/accounts/login/", {"username": "dan", "password": "guess"})
    assert page.status_code == 429
    assert page["Content-Type"].startswith("text/html")
    assert page["RateLimit-Policy"] == '"login";q=3;w=60'
    assert limit(page) == ("login", 0, 60)
    assert page["Retry-After"] == "60"


def test_a_quota_lowered_below_what_was_counted_still_says_when(user, clock, monkeypatch):
    monkeypatch.setattr(LoginRateThrottle, "THROTTLE_RATES", {"login": "5/min"})
    client = Client(REMOTE_ADDR="198.51.100.11")
    for _ in range(4):
        login(client, user.username)
        clock[0] += 5
    # Four counted at START, +5, +10, +15; now 2/min: one more fits once three have left,
    # i.e. when the one at +10 leaves (DRF alone would give no wait at all here).
    monkeypatch.setattr(LoginRateThrottle, "THROTTLE_RATES", {"login": "2/min"})
    throttled = login(client, user.username)
    assert throttled.status_code == 429
    assert throttled["RateLimit-Policy"] == '"login";q=2;w=60'
    assert limit(throttled) == ("login", 0, 50)
    assert throttled["Retry-After"] == "50"


def test_an_unthrottled_endpoint_sends_no_rate_limit_headers(staff_client):
    response = staff_client.get("/api/v2/admin/audit-logs")
    assert response.status_code == 200
    assert "RateLimit" not in response
    assert "RateLimit-Policy" not in response


def views(resolver: URLResolver):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from views(pattern)
        elif isinstance(pattern, URLPattern):
            yield getattr(pattern.callback, "cls", None)


def test_every_throttle_the_api_applies_reports_its_headers():
    throttles = {
        throttle
        for view in views(get_resolver())
        if view is not None
        for throttle in getattr(view, "throttle_classes", [])
    }
    assert LoginRateThrottle in throttles
    assert all(issubclass(throttle, ReportingRateThrottle) for throttle in throttles), throttles
