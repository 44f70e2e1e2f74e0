"""The OpenAPI schema is valid and documents every status the API really answers.

Each operation is called through the real stack for its success and its error cases;
every (operation, status) observed must be in the schema with a body of the documented
media type.
"""

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator
from openapi_spec_validator import validate

from audit.tests.fixtures import PASSWORD
from tasks.models import Status

from . import samples

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]
PNG = samples.encode_image(samples.make_text_image(["contract"]), format="PNG")


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_schema_is_valid_openapi(schema):
    validate(schema)


def test_exports_are_documented_as_streams_of_single_events(schema):
    content = schema["paths"]["/api/v2/admin/audit-logs"]["get"]["responses"]["200"]["content"]

    assert content["text/csv"]["schema"]["type"] == "string"
    ndjson = content["application/x-ndjson"]["schema"]
    assert ndjson["allOf"] == [{"$ref": "#/components/schemas/AuditEventOutput"}]
    assert "Paginated" in content["application/json"]["schema"]["$ref"]


@dataclass
class Call:
    """One request and the status it must get."""

    method: str
    path: str
    status: int
    who: str = "anonymous"
    data: Any = None
    extra: dict = field(default_factory=dict)
    content_type: str = "application/json"


def operation_of(schema: dict, method: str, path: str) -> dict:
    """Return the schema's operation that serves method + path."""
    route = resolve(path.split("?")[0]).route
    template = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
    return schema["paths"][template][method.lower()]


def calls(user, staff, own, theirs, failed) -> list[Call]:
    tasks, audit, users = "/api/v2/tasks", "/api/v2/admin/audit-logs", "/api/v2/admin/users"
    cleanup, login, refresh = "/api/v2/admin/cleanup", "/api/v2/auth/login", "/api/v2/auth/refresh"
    logout, logout_all = "/api/v2/auth/logout", "/api/v2/auth/logout-all"
    wrong = {"username": user.username, "password": "wrong"}
    big = {"CONTENT_LENGTH": str(3 * 1024 * 1024)}
    return [
        # The audit trail (staff).
        Call("GET", audit, 401),
        Call("GET", audit, 403, "user"),
        Call("GET", audit, 200, "staff"),
        Call("GET", f"{audit}?format=csv", 200, "staff"),
        Call("GET", f"{audit}?format=ndjson", 200, "staff"),
        Call("GET", f"{audit}?since=junk", 400, "staff"),
        Call("GET", f"{audit}?cursor=junk", 400, "staff"),
        Call("GET", users, 401),
        Call("GET", users, 403, "user"),
        Call("GET", users, 200, "staff"),
        Call("GET", f"{users}?page=99", 404, "staff"),
        Call("POST", cleanup, 401, data={"dry_run": True}),
        Call("POST", cleanup, 403, "user", data={"dry_run": True}),
        Call("POST", cleanup, 400, "staff", data={"older_than_days": -1, "dry_run": True}),
        Call("POST", cleanup, 413, "staff", data={"dry_run": True}, extra=big),
        Call("POST", cleanup, 200, "staff", data={"older_than_days": 9999, "dry_run": True}),
        # Authentication.
        Call("POST", login, 400, data={}),
        Call("POST", login, 413, data=wrong, extra=big),
        *[Call("POST", login, 401, data=wrong) for _ in range(4)],
        Call("POST", login, 429, data=wrong),
        Call("POST", refresh, 400, data={}),
        Call("POST", refresh, 401, data={"refresh": "not-a-token"}),
        Call("POST", logout, 401, data={"refresh": "x"}),
        Call("POST", logout, 400, "user", data={}),
        Call("POST", logout_all, 401),
        # Tasks.
        Call("GET", tasks, 401),
        Call("GET", tasks, 200, "user"),
        Call("GET", f"{tasks}?status=junk", 400, "user"),
        Call("GET", f"{tasks}?page=99", 404, "user"),
        Call("POST", tasks, 401, data={}, content_type="multipart/form-data"),
        Call("POST", tasks, 400, "user", data={}, content_type="multipart/form-data"),
        Call("POST", tasks, 403, "session", data={}, content_type="multipart/form-data"),
        Call("GET", f"{tasks}/{own.pk}", 200, "user"),
        Call("GET", f"{tasks}/{theirs.pk}", 404, "user"),
        Call("GET", f"{tasks}/{own.pk}", 401),
        Call("GET", f"{tasks}/{theirs.pk}/result", 404, "user"),
        Call("GET", f"{tasks}/{theirs.pk}/result?format=txt", 404, "user"),
        Call("POST", f"{tasks}/{own.pk}/retry", 400, "user"),
        Call("POST", f"{tasks}/{theirs.pk}/retry", 404, "user"),
        Call("POST", f"{tasks}/{failed.pk}/retry", 202, "user"),
        Call("DELETE", f"{tasks}/{theirs.pk}", 404, "user"),
        Call("DELETE", f"{tasks}/{own.pk}", 204, "user"),
        Call("DELETE", f"{tasks}/{own.pk}", 401),
        Call("POST", logout_all, 204, "user"),
    ]


def client_as(who: str, *, user, staff) -> Client:
    if who == "anonymous":
        return Client(REMOTE_ADDR="198.51.100.30")
    if who == "session":
        # A browser session without its CSRF token: refused on unsafe methods.
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        return client
    account = staff if who == "staff" else user
    login = Client().post(
        "/api/v2/auth/login",
        {"username": account.username, "password": PASSWORD},
        content_type="application/json",
    )
    return Client(HTTP_AUTHORIZATION=f"Bearer {login.json()['access']}")


def test_every_status_the_api_answers_is_documented_with_its_body(
    schema, user, staff, other_user, make_task_row
):
    own = make_task_row(user, status=Status.COMPLETED)
    theirs = make_task_row(other_user, status=Status.COMPLETED)
    failed = make_task_row(user, status=Status.FAILED)
    clients = {who: client_as(who, user=user, staff=staff) for who in ("user", "staff")}
    cache.clear()  # the logins above count against the auth throttle
    problems = []
    for call in calls(user, staff, own, theirs, failed):
        client = clients.get(call.who) or client_as(call.who, user=user, staff=staff)
        kwargs: dict[str, Any] = dict(call.extra)
        if call.data is not None:
            if call.content_type == "application/json":
                kwargs["content_type"] = "application/json"
            kwargs["data"] = call.data
        response = getattr(client, call.method.lower())(call.path, **kwargs)
        operation = operation_of(schema, call.method, call.path)
        documented = operation["responses"].get(str(response.status_code))
        where = f"{call.method} {call.path} as {call.who}"
        if response.status_code != call.status:
            problems.append(f"{where}: got {response.status_code}, expected {call.status}")
        if documented is None:
            problems.append(f"{where}: {response.status_code} is not documented")
            continue
        media = response.get("Content-Type", "").split(";")[0]
        if response.status_code != 204 and media not in documented.get("content", {}):
            problems.append(f"{where}: {response.status_code} {media} is not documented")
        if response.status_code >= 400 and media == "application/json":
            body = response.json()
            if response.status_code != 400 and "detail" not in body:
                problems.append(f"{where}: error body without detail: {body}")

    assert problems == []
