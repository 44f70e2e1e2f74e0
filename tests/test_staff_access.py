"""Every staff URL x every kind of visitor: one table, checked against the URL resolver.

A staff URL added to the project without a row here fails test_every_staff_route_is_in_the_table.
"""

from dataclasses import dataclass, field

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group, Permission
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_tasks_db.models import DBTaskResult
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.api_tokens.services import api_token_create
from audit.models import AuditEvent
from audit.services import record_event
from audit.tests.fixtures import sealed
from tasks.jobs import run_ocr_task
from tasks.models import OcrTask

ROLES = ("anonymous", "user", "staff", "permitted", "superuser")
# What each kind of surface answers a visitor who may not enter.
REFUSED = {
    "admin": {"anonymous": 302, "user": 302, "staff": 403},
    "api": {"anonymous": 401, "user": 403, "staff": 403},
    "staff_only": {"anonymous": 302, "user": 302},
}

# Routes that are not staff surfaces (open, or showing only the visitor's own data).
NOT_STAFF = {
    "",
    "tasks/upload/",
    "tasks/rows/",
    "tasks/progress/",
    "tasks/<uuid:task_id>/",
    "tasks/<uuid:task_id>/pages/<int:number>.png",
    "tasks/<uuid:task_id>/download.<str:fmt>",
    "tasks/<uuid:task_id>/original/",
    "tasks/<uuid:task_id>/retry/",
    "tasks/<uuid:task_id>/rerun/",
    "tasks/<uuid:task_id>/delete/",
    "tasks/<uuid:task_id>/thumbnail.png",
    "tasks/delete/",
    "tasks/rerun/",
    "tasks/download/",
    "accounts/login/",
    "accounts/logout/",
    "accounts/logout-all/",
    "accounts/password/",
    "accounts/password/done/",
    # The keyboard shortcuts and accessibility notes, public (ocr_project/urls.py).
    "help/",
    "api/v2/auth/login",
    "api/v2/auth/refresh",
    "api/v2/auth/logout",
    "api/v2/auth/logout-all",
    # The signed-in user's own API tokens (accounts/api_tokens/api.py).
    "api/v2/auth/api-tokens",
    "api/v2/auth/api-tokens/<str:lookup_id>",
    "api/v2/tasks",
    "api/v2/tasks/<uuid:task_id>",
    "api/v2/tasks/<uuid:task_id>/result",
    "api/v2/tasks/<uuid:task_id>/retry",
    "api/schema/",
    "api/docs/",
    "i18n/setlang/",
    "favicon.ico",
    # For load balancers: no login, no session, no audit event (ocr_project/health.py).
    "healthz",
    # The public key of the audit trail's signed checkpoints: public by design.
    ".well-known/audit-log-key",
    # The transparency log's public face for witnesses: hashes only, and a cosignature
    # that must verify with a configured witness key (audit/log_api.py, test_witness.py).
    "api/v2/audit-log/checkpoint",
    "api/v2/audit-log/consistency",
    "api/v2/audit-log/cosignatures",
    # The admin's own sign-in and sign-out pages, open by design.
    "admin/login/",
    "admin/logout/",
    # Django's fallbacks: a redirect to a real admin URL (checked there) or 404.
    "admin/r/<path:content_type_id>/<path:object_id>/",
    "admin/(?P<url>.*)$",
}


@dataclass(frozen=True)
class Door:
    route: str
    path: str
    kind: str  # "admin", "api" or "staff_only"
    permission: str = ""  # "app.codename", or several joined by "+"
    granted: int = 200
    overrides: dict[str, int] = field(default_factory=dict)
    method: str = "get"

    def expected(self, role: str) -> int:
        if role in self.overrides:
            return self.overrides[role]
        refused = REFUSED[self.kind]
        if role in refused:
            return refused[role]
        if role == "staff" and self.permission:
            raise AssertionError("unreachable: staff is refused by every permissioned kind")
        return self.granted


def routes(patterns, prefix: str = ""):
    """Yield every route of the URL configuration as its pattern text."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def admin_model_doors(objects: dict[str, Model], superuser) -> list[Door]:
    """Return a row for every page of every registered ModelAdmin."""
    request = RequestFactory().get("/admin/")
    request.user = superuser
    doors = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        base = f"admin/{opts.app_label}/{opts.model_name}/"
        obj = objects[opts.label_lower]
        pk = obj.pk
        view = f"{opts.app_label}.view_{opts.model_name}"

        def allowed(check, *args) -> int:
            return 200 if check(request, *args) else 403

        add = f"{opts.app_label}.add_{opts.model_name}"
        if isinstance(model_admin, UserAdmin):
            # Django's rule: creating a user needs the change permission too ("+": both).
            add += "+auth.change_user"

        doors += [
            Door(base, f"/{base}", "admin", view),
            Door(
                f"{base}add/",
                f"/{base}add/",
                "admin",
                add,
                allowed(model_admin.has_add_permission),
            ),
            Door(f"{base}<path:object_id>/change/", f"/{base}{pk}/change/", "admin", view),
            Door(f"{base}<path:object_id>/history/", f"/{base}{pk}/history/", "admin", view),
            Door(
                f"{base}<path:object_id>/delete/",
                f"/{base}{pk}/delete/",
                "admin",
                f"{opts.app_label}.delete_{opts.model_name}",
                allowed(model_admin.has_delete_permission, obj),
            ),
            # The bare object URL redirects to its change page (checked above).
            Door(
                f"{base}<path:object_id>/",
                f"/{base}{pk}/",
                "staff_only",
                granted=302,
                overrides={"staff": 302},
            ),
        ]
    return doors


@pytest.fixture
def objects(make_user):
    """Return one object of every model the admin shows, keyed by model label."""
    target = make_user(username="target")
    group = Group.objects.create(name="auditors")
    refresh = RefreshToken.for_user(target)
    outstanding = OutstandingToken.objects.get(jti=refresh["jti"])
    blacklisted = BlacklistedToken.objects.create(token=outstanding)
    task = OcrTask.objects.create(
        owner=target,
        original_name="scan.png",
        file="uploads/2000/01/scan.png",
        content_type="image/png",
        size=100,
        sha256="0" * 64,
        page_count=1,
    )
    result = run_ocr_task.enqueue(task_id=str(task.pk))
    common = {"ip_address": "203.0.113.9", "user_agent": "probe", "username": "target"}
    # Sealed: the admin shows an event once the sealer has linked it.
    [event] = sealed([record_event(event_type="audit_view", resource_type="audit_log")])
    return {
        "auth.user": target,
        "auth.group": group,
        "token_blacklist.outstandingtoken": outstanding,
        "token_blacklist.blacklistedtoken": blacklisted,
        "django_tasks_database.dbtaskresult": DBTaskResult.objects.get(pk=result.id),
        "axes.accessattempt": AccessAttempt.objects.create(failures_since_start=1, **common),
        "axes.accesslog": AccessLog.objects.create(**common),
        "axes.accessfailurelog": AccessFailureLog.objects.create(locked_out=False, **common),
        "audit.auditevent": event,
        "tasks.ocrtask": OcrTask.objects.get(pk=task.pk),
        "accounts.apitoken": api_token_create(
            user=target, name="probe", scopes=["tasks:read"], days=1, actor=None, via="command"
        ).token,
    }


@pytest.fixture
def doors(objects, make_user) -> list[Door]:
    superuser = make_user(username="root", superuser=True)
    target = objects["auth.user"]
    return [
        *admin_model_doors(objects, superuser),
        Door("admin/", "/admin/", "staff_only"),
        Door("admin/password_change/", "/admin/password_change/", "staff_only"),
        Door("admin/password_change/done/", "/admin/password_change/done/", "staff_only"),
        Door("admin/jsi18n/", "/admin/jsi18n/", "staff_only"),
        # Only answers a well-formed widget query; the refusal of strangers is what counts.
        Door("admin/autocomplete/", "/admin/autocomplete/", "admin", "", 403),
        Door(
            "admin/^(?P<app_label>auth|token_blacklist|audit|django_tasks_database|axes|accounts|tasks)/$",
            "/admin/audit/",
            "admin",
            "audit.view_auditevent",
            # An app the visitor may see nothing of does not exist for them.
            overrides={"staff": 404},
        ),
        Door("admin/dashboard/", "/admin/dashboard/", "admin", "audit.view_auditevent"),
        # An empty POST unlocks nothing: the permitted are sent back to the dashboard.
        Door(
            "accounts/unlock/",
            "/accounts/unlock/",
            "admin",
            "axes.delete_accessattempt",
            granted=302,
            method="post",
        ),
        Door(
            "admin/audit-logs",
            "/admin/audit-logs",
            "staff_only",
            granted=302,
            overrides={"anonymous": 302, "user": 302, "staff": 302},
        ),
        Door(
            "admin/audit-logs/",
            "/admin/audit-logs/",
            "staff_only",
            granted=302,
            overrides={"staff": 302},
        ),
        Door(
            "admin/tasks/ocrtask/cleanup/",
            "/admin/tasks/ocrtask/cleanup/",
            "admin",
            "tasks.delete_ocrtask",
        ),
        Door(
            "admin/auth/user/<id>/password/",
            f"/admin/auth/user/{target.pk}/password/",
            "admin",
            "auth.change_user",
        ),
        Door("api/v2/admin/users", "/api/v2/admin/users", "api", "auth.view_user"),
        Door(
            "api/v2/admin/audit-logs",
            "/api/v2/admin/audit-logs",
            "api",
            "audit.view_auditevent",
        ),
        Door(
            "api/v2/admin/audit-logs",
            "/api/v2/admin/audit-logs?format=csv",
            "api",
            "audit.view_auditevent",
        ),
        Door(
            "api/v2/admin/audit-logs",
            "/api/v2/admin/audit-logs?format=ndjson",
            "api",
            "audit.view_auditevent",
        ),
        Door(
            "api/v2/admin/audit-logs/<int:event_id>/proof",
            f"/api/v2/admin/audit-logs/{objects['audit.auditevent'].pk}/proof",
            "api",
            "audit.view_auditevent",
        ),
        Door(
            "api/v2/admin/audit-logs/consistency",
            "/api/v2/admin/audit-logs/consistency?from=1",
            "api",
            "audit.view_auditevent",
        ),
        # A POST with no body cleans up tasks past the default age: none exist here.
        Door("api/v2/admin/cleanup", "/api/v2/admin/cleanup", "api", "tasks.delete_ocrtask"),
    ]


def visitor(role: str, door: Door, make_user) -> Client:
    client = Client(REMOTE_ADDR="198.51.100.20")
    if role == "anonymous":
        return client
    if role == "superuser":
        account = make_user(superuser=True)
    else:
        account = make_user(staff=role in ("staff", "permitted"))
        granted = door.permission.split("+") if role == "permitted" else []
        for permission in filter(None, granted):
            app_label, codename = permission.split(".")
            account.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
    client.force_login(account)
    return client


def test_every_staff_route_is_in_the_table(doors):
    tabled = {door.route for door in doors}
    unlisted = sorted(set(routes(get_resolver().url_patterns)) - tabled - NOT_STAFF)
    assert unlisted == [], "Add these staff URLs to the access table"


def test_each_door_admits_exactly_the_right_visitors(doors, make_user):
    mismatches = []
    for door in doors:
        for role in ROLES:
            client = visitor(role, door, make_user)
            if door.path.startswith("/api/v2/admin/cleanup"):
                response = client.post(door.path, {}, content_type="application/json")
            else:
                response = getattr(client, door.method)(door.path)
            if response.status_code != door.expected(role):
                mismatches.append((door.path, role, response.status_code, door.expected(role)))
    assert mismatches == []


def test_a_staff_member_without_permissions_reads_nothing_of_the_trail(make_user, client_for):
    staff = make_user(username="plainstaff", staff=True)
    client = client_for(staff)
    refused = [
        client.get("/api/v2/admin/audit-logs").status_code,
        client.get("/api/v2/admin/audit-logs?format=csv").status_code,
        client.get("/api/v2/admin/audit-logs?format=ndjson").status_code,
        client.get("/admin/dashboard/").status_code,
        client.get(reverse("admin:audit_auditevent_changelist")).status_code,
        client.get("/api/v2/admin/users").status_code,
        client.post("/api/v2/admin/cleanup", {}, content_type="application/json").status_code,
    ]
    assert refused == [403] * 7
    assert not AuditEvent.objects.filter(event_type__in=["audit_view", "audit_export"]).exists()
    assert staff.is_staff


@pytest.mark.parametrize("path", ["/admin/audit-logs", "/admin/audit-logs/"])
def test_the_audit_log_address_people_type_leads_to_the_audit_log(path, staff, client_for):
    response = client_for(staff).get(path, {"outcome__exact": "failure"}, follow=True)
    assert response.redirect_chain == [("/admin/audit/auditevent/?outcome__exact=failure", 302)]
    assert response.status_code == 200


# --- Staff with no permission -----------------------------------------------------------


def test_staff_without_permissions_get_no_admin_link_and_a_next_step_on_the_index(
    make_user, client_for
):
    bare = make_user(username="newstaff", staff=True)
    client = client_for(bare)

    # The top bar offers no "Admin" that leads to an empty page.
    assert 'href="/admin/"' not in client.get("/").content.decode()
    # Arrived anyway (a bookmark): the index says why it is empty and whom to ask.
    index = client.get("/admin/")
    body = index.content.decode()
    assert index.status_code == 200
    assert "have permission to view or edit anything" not in body
    assert "Ask an administrator of this service" in body
    assert 'href="/"' in body
    chinese = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "请本服务的管理员" in chinese

    # One permission is enough for the link, and the index lists what it opens.
    bare.user_permissions.add(Permission.objects.get(codename="view_ocrtask"))
    client = client_for(bare)
    assert 'href="/admin/"' in client.get("/").content.decode()
    index = client.get("/admin/").content.decode()
    assert "/admin/tasks/ocrtask/" in index
    assert "no-admin-permissions" not in index
