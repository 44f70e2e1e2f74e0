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

from audit.tests.fixtures import PASSWORD, drain_sealer
from tasks.models import Status

from . import samples

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]
PNG = samples.encode_image(samples.make_text_image(["contract"]), format="PNG")


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_schema_is_valid_openapi(schema):
    validate(schema)


def test_the_served_schema_is_valid_openapi(client, staff):
    client.force_login(staff)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    validate(response.json())


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def test_every_body_is_declared_under_exactly_one_media_type(schema):
    media = {
        (method, path): list(operation["requestBody"]["content"])
        for method, path, operation in operations(schema)
        if "requestBody" in operation
    }
    assert {key: types for key, types in media.items() if len(types) != 1} == {}
    assert media[("POST", "/api/v2/tasks")] == ["multipart/form-data"]
    for path in ("/api/v2/auth/login", "/api/v2/auth/refresh", "/api/v2/auth/logout"):
        assert media[("POST", path)] == ["application/json"]
    assert media[("POST", "/api/v2/admin/cleanup")] == ["application/json"]


def test_the_upload_answers_an_array_of_tasks_and_takes_no_list_filters(schema):
    upload = schema["paths"]["/api/v2/tasks"]["post"]
    assert upload["responses"]["201"]["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/TaskOutput"},
    }
    assert upload.get("parameters", []) == []
    names = {p["name"] for p in schema["paths"]["/api/v2/tasks"]["get"]["parameters"]}
    assert {"status", "created_before", "q", "page", "page_size"} <= names


@pytest.mark.parametrize(
    ("path", "default", "maximum"),
    [
        ("/api/v2/tasks", 50, 200),
        ("/api/v2/admin/users", 50, 200),
        ("/api/v2/admin/audit-logs", 100, 1000),
    ],
)
def test_every_paginated_list_declares_its_page_size_bounds(schema, path, default, maximum):
    operation = schema["paths"][path]["get"]
    [page_size] = [p for p in operation["parameters"] if p["name"] == "page_size"]
    assert page_size["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": maximum,
        "default": default,
    }
    assert "400" in operation["responses"]


def test_audit_vocabulary_and_ids_are_declared(schema):
    from audit.events import EVENT_CATEGORIES, Category, Outcome

    components = schema["components"]["schemas"]
    event = components["AuditEventOutput"]["properties"]
    enums = {
        name: components[event[name]["$ref"].rsplit("/", 1)[1]]["enum"]
        for name in ("event_type", "category", "outcome")
    }
    assert {name: sorted(values) for name, values in enums.items()} == {
        "event_type": sorted(EVENT_CATEGORIES),
        "category": sorted(Category.values),
        "outcome": sorted(Outcome.values),
    }
    parameters = {
        p["name"]: p for p in schema["paths"]["/api/v2/admin/audit-logs"]["get"]["parameters"]
    }
    assert parameters["event_type"]["schema"] == {
        "type": "array",
        "items": {"type": "string", "enum": sorted(EVENT_CATEGORIES)},
    }
    assert (parameters["event_type"]["style"], parameters["event_type"]["explode"]) == (
        "form",
        False,
    )
    assert parameters["category"]["schema"]["enum"] == sorted(Category.values)
    assert parameters["outcome"]["schema"]["enum"] == sorted(Outcome.values)
    assert parameters["user_id"]["schema"]["minimum"] == 1


def test_a_user_without_an_address_is_declared_as_null_email(schema):
    email = schema["components"]["schemas"]["UserOutput"]["properties"]["email"]
    assert email == {"type": "string", "format": "email", "nullable": True}


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
        Call("GET", f"{audit}?since=", 400, "staff"),
        Call("GET", f"{audit}?user_id=0", 400, "staff"),
        Call("GET", f"{audit}?page_size=0", 400, "staff"),
        Call("GET", f"{users}?page_size=abc", 400, "staff"),
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
        Call("POST", logout, 401, "user", data={"refresh": "not-a-token"}),
        Call("POST", login, 415, data=wrong, content_type="multipart/form-data"),
        Call("POST", logout_all, 401),
        # Tasks.
        Call("GET", tasks, 401),
        Call("GET", tasks, 200, "user"),
        Call("GET", f"{tasks}?status=junk", 400, "user"),
        Call("GET", f"{tasks}?page=99", 404, "user"),
        Call("GET", f"{tasks}?created_before=", 400, "user"),
        Call("GET", f"{tasks}?page_size=100000", 400, "user"),
        Call("POST", tasks, 401, data={}, content_type="multipart/form-data"),
        Call("POST", tasks, 400, "user", data={}, content_type="multipart/form-data"),
        Call("POST", tasks, 403, "session", data={}, content_type="multipart/form-data"),
        Call("GET", f"{tasks}/{own.pk}", 200, "user"),
        Call("GET", f"{tasks}/{theirs.pk}", 404, "user"),
        Call("GET", f"{tasks}/{own.pk}", 401),
        Call("GET", f"{tasks}/{theirs.pk}/result", 404, "user"),
        Call("GET", f"{tasks}/{theirs.pk}/result?format=txt", 404, "user"),
        Call("GET", f"{tasks}/{theirs.pk}/result?format=alto", 404, "user"),
        Call("GET", f"{tasks}/{own.pk}/result?format=json", 200, "user"),
        Call("GET", f"{tasks}/{own.pk}/result?format=hocr", 200, "user"),
        Call("GET", f"{tasks}/{own.pk}/result?format=alto", 200, "user"),
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


@pytest.mark.parametrize(
    "path", ["/api/v2/tasks", "/api/v2/admin/users", "/api/v2/admin/audit-logs"]
)
@pytest.mark.parametrize("size", ["-1", "0", "abc", "", "1.5", "100000", "9" * 5000])
def test_a_page_size_out_of_bounds_is_400_naming_it(client, staff, path, size):
    client.force_login(staff)
    response = client.get(path, {"page_size": size})
    assert response.status_code == 400
    assert list(response.json()) == ["page_size"]


@pytest.mark.parametrize(
    ("path", "size", "maximum"),
    [
        ("/api/v2/tasks", 2, 200),
        ("/api/v2/admin/users", 1, 200),
        ("/api/v2/admin/audit-logs", 1, 1000),
    ],
)
def test_page_sizes_within_bounds_are_honoured(client, staff, make_task_row, path, size, maximum):
    for _ in range(3):
        make_task_row(staff)
    client.force_login(staff)
    client.get("/api/v2/admin/users")  # at least one audit event
    drain_sealer()  # listed once linked
    assert len(client.get(path, {"page_size": size}).json()["results"]) == size
    assert client.get(path, {"page_size": maximum}).status_code == 200


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v2/tasks", "created_before"),
        ("/api/v2/tasks", "created_after"),
        ("/api/v2/tasks", "status"),
        ("/api/v2/admin/audit-logs", "since"),
        ("/api/v2/admin/audit-logs", "until"),
        ("/api/v2/admin/audit-logs", "user_id"),
        ("/api/v2/admin/audit-logs", "event_type"),
        ("/api/v2/admin/audit-logs", "ip_address"),
    ],
)
def test_an_empty_typed_filter_is_400_naming_it(client, staff, path, parameter):
    client.force_login(staff)
    response = client.get(path, {parameter: ""})
    assert response.status_code == 400
    assert list(response.json()) == [parameter]


@pytest.mark.parametrize(
    ("path", "parameter"), [("/api/v2/tasks", "q"), ("/api/v2/admin/audit-logs", "username")]
)
def test_an_empty_free_text_filter_is_no_filter(client, staff, path, parameter):
    client.force_login(staff)
    assert client.get(path, {parameter: ""}).status_code == 200
