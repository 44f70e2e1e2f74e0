"""API tokens for machines: scopes ∩ the owner's permissions, expiry, revocation, audit."""

import hashlib
import logging
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from accounts.api_tokens.format import TOKEN_LENGTH, parse
from accounts.api_tokens.permissions import TokenScopePermission
from accounts.api_tokens.services import api_token_create, service_account_create
from accounts.models import ApiToken, ApiTokenAddress
from audit.models import AuditEvent
from audit.tests.fixtures import PASSWORD, drain_sealer
from ocr_project.common.permissions import HasDjangoPermission

pytestmark = pytest.mark.usefixtures("fresh_cache")

ADDRESS = "192.0.2.10"


def grant(user, *permissions: str) -> None:
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


def issue(user, *scopes: str, days: int = 30, name: str = "siem"):
    return api_token_create(
        user=user, name=name, scopes=list(scopes), days=days, actor=None, via="command"
    )


def machine(text: str, address: str = ADDRESS) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {text}", REMOTE_ADDR=address)


def token_events(event_type: str) -> list[AuditEvent]:
    drain_sealer()
    return list(AuditEvent.objects.filter(event_type=event_type).order_by("sequence"))


def test_a_token_reads_the_audit_trail_with_audit_read_when_its_owner_may(make_user):
    owner = make_user(username="poller")
    grant(owner, "audit.view_auditevent")
    issued = issue(owner, "audit:read")
    response = machine(issued.text).get("/api/v2/admin/audit-logs")
    assert response.status_code == 200, response.content
    # The read is attributed to the token's owner, like any other read of the trail.
    [view] = token_events("audit_view")
    assert view.user_id == owner.pk and view.username == "poller"
    # First use from this address: audited once, with the owner as actor.
    [use] = token_events("api_token_use")
    assert (use.outcome, use.user_id, use.username) == ("success", owner.pk, "poller")
    assert (use.category, use.resource_type) == ("authentication", "token")
    assert use.resource_id == issued.token.lookup_id
    assert use.ip_address == ADDRESS
    assert use.metadata["new_address"] == ADDRESS and use.metadata["name"] == "siem"
    # The same address again is not new; another one is.
    assert machine(issued.text).get("/api/v2/admin/audit-logs").status_code == 200
    assert len(token_events("api_token_use")) == 1
    assert machine(issued.text, "192.0.2.11").get("/api/v2/admin/audit-logs").status_code == 200
    assert [e.metadata["new_address"] for e in token_events("api_token_use")] == [
        ADDRESS,
        "192.0.2.11",
    ]
    token = ApiToken.objects.get(pk=issued.token.pk)
    assert token.last_used_ip == "192.0.2.11" and token.last_used_at is not None
    assert ApiTokenAddress.objects.filter(token=token).count() == 2


def test_a_token_cannot_do_what_its_owner_may_not(make_user):
    owner = make_user(username="poller")
    issued = issue(owner, "audit:read", "users:read")
    # The scope is there; the owner's permission is not: the intersection is empty.
    response = machine(issued.text).get("/api/v2/admin/audit-logs")
    assert response.status_code == 403
    denied = AuditEvent.objects.get(event_type="access_denied")
    assert denied.user_id == owner.pk
    assert denied.metadata["permission"] == "audit.view_auditevent"


def test_a_token_loses_a_permission_the_moment_its_owner_does(make_user):
    owner = make_user(username="poller")
    grant(owner, "auth.view_user")
    issued = issue(owner, "users:read")
    assert machine(issued.text).get("/api/v2/admin/users").status_code == 200
    owner.user_permissions.clear()
    assert machine(issued.text).get("/api/v2/admin/users").status_code == 403


def test_a_superusers_token_is_held_to_its_scopes(make_user):
    root = make_user(username="root", superuser=True)
    issued = issue(root, "tasks:read")
    response = machine(issued.text).get("/api/v2/admin/audit-logs")
    assert response.status_code == 403
    assert response.json()["detail"] == "The API token lacks the scope audit:read."
    response = machine(issued.text).post(
        "/api/v2/admin/cleanup", {}, content_type="application/json"
    )
    assert response.json()["detail"] == "The API token lacks the scope tasks:cleanup."


def test_a_token_cannot_write_tasks_without_tasks_write(make_user, media_root):
    owner = make_user(username="uploader")
    issued = issue(owner, "tasks:read")
    client = machine(issued.text)
    assert client.get("/api/v2/tasks").status_code == 200
    response = client.post("/api/v2/tasks", {"file": []})
    assert response.status_code == 403
    assert response.json()["detail"] == "The API token lacks the scope tasks:write."
    # With tasks:write the same request reaches the upload (and is refused as empty: 400).
    writer = issue(owner, "tasks:write", name="writer")
    assert machine(writer.text).post("/api/v2/tasks", {"file": []}).status_code == 400
    # ...but cannot read without tasks:read.
    assert machine(writer.text).get("/api/v2/tasks").status_code == 403


def test_a_token_cannot_log_anyone_out_or_list_tokens(make_user):
    owner = make_user(username="poller")
    issued = issue(owner, *["audit:read", "users:read", "tasks:read", "tasks:write"])
    client = machine(issued.text)
    for path in ("/api/v2/auth/logout-all", "/api/v2/auth/logout"):
        response = client.post(path, {"refresh": "x"}, content_type="application/json")
        assert response.status_code == 403, (path, response.content)
        assert response.json()["detail"] == "API tokens cannot use this endpoint."
    assert client.get("/api/v2/auth/api-tokens").status_code == 403


def test_every_api_view_decides_about_tokens():
    """A new endpoint must name its scopes or ask a Django permission: no silent door."""

    def views(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from views(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "cls"):
                yield pattern.callback.cls

    open_views = {"LoginApi", "RefreshApi", "SpectacularAPIView", "SpectacularSwaggerSplitView"}
    # The log's public face (audit/log_api.py): hashes and signed notes anyone may read,
    # cosignatures that prove themselves. No credential is asked, so none is scoped.
    open_views |= {"LatestCheckpointApi", "PublicConsistencyProofApi", "CosignatureApi"}
    for view in views(get_resolver().url_patterns):
        if view.__name__ in open_views:
            continue
        classes = view().get_permissions()
        kinds = {type(permission) for permission in classes}
        assert kinds & {TokenScopePermission, HasDjangoPermission}, view.__name__


@pytest.mark.parametrize("ended", ["expired", "revoked"])
def test_an_expired_or_revoked_token_is_401_and_audited(make_user, ended):
    owner = make_user(username="poller")
    grant(owner, "audit.view_auditevent")
    issued = issue(owner, "audit:read")
    if ended == "expired":
        ApiToken.objects.filter(pk=issued.token.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    else:
        call_command("api_token", "revoke", issued.token.lookup_id)
    response = machine(issued.text).get("/api/v2/admin/audit-logs")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    body = response.json()
    assert body["code"] == f"api_token_{ended}"
    assert ("expired" if ended == "expired" else "revoked") in body["detail"]
    [refusal] = token_events("api_token_use")
    assert (refusal.outcome, refusal.user_id, refusal.username) == ("failure", owner.pk, "poller")
    assert refusal.metadata["reason"] == ended
    assert refusal.resource_id == issued.token.lookup_id
    assert refusal.ip_address == ADDRESS


def test_unknown_and_malformed_tokens_are_401_without_an_event(make_user):
    owner = make_user(username="poller")
    issued = issue(owner, "audit:read")
    text = issued.text
    # One character changed breaks the checksum; a right-shaped token of no row is unknown.
    broken = text[:-1] + ("A" if text[-1] != "A" else "B")
    other = issue(owner, "audit:read", name="other")
    ApiToken.objects.filter(pk=other.token.pk).delete()
    for bad, code in ((broken, "api_token_malformed"), (other.text, "api_token_unknown")):
        response = machine(bad).get("/api/v2/admin/audit-logs")
        assert response.status_code == 401
        assert response.json()["code"] == code
    assert token_events("api_token_use") == []


def test_jwt_still_works_beside_tokens(make_user, api_login):
    owner = make_user(username="person")
    grant(owner, "audit.view_auditevent")
    access = api_login(owner)["access"]
    response = Client(HTTP_AUTHORIZATION=f"Bearer {access}").get("/api/v2/admin/audit-logs")
    assert response.status_code == 200


def test_only_the_hash_is_stored(make_user):
    issued = issue(make_user(username="poller"), "audit:read")
    text = issued.text
    assert text.startswith("ocrs_") and len(text) == TOKEN_LENGTH
    assert parse(text).lookup_id == issued.token.lookup_id
    row = ApiToken.objects.filter(pk=issued.token.pk).values().get()
    assert row["secret_hash"] == hashlib.sha256(text.encode()).hexdigest()
    secret_part = text[len("ocrs_") + 10 :]
    assert not any(secret_part in str(value) for value in row.values())


def test_the_secret_never_reaches_the_trail_or_a_log(make_user, caplog, audit_stream):
    owner = make_user(username="poller")
    grant(owner, "audit.view_auditevent")
    caplog.set_level(logging.DEBUG)
    issued = issue(owner, "audit:read")
    secret = issued.text[len("ocrs_") + 10 :]
    client = machine(issued.text)
    assert client.get("/api/v2/admin/audit-logs").status_code == 200
    # A token pasted where a username goes, and a refused (revoked) one.
    Client().post(
        "/api/v2/auth/login",
        {"username": issued.text, "password": "x"},
        content_type="application/json",
    )
    call_command("api_token", "revoke", issued.token.lookup_id)
    assert client.get("/api/v2/admin/audit-logs").status_code == 401
    kinds = {event.event_type for event in AuditEvent.objects.all()}
    assert {"api_token_create", "api_token_use", "api_token_revoke", "auth_login"} <= kinds
    for values in AuditEvent.objects.values():
        assert secret not in str(values)
    assert secret not in caplog.text
    assert not any(secret in line for line in audit_stream())


def test_the_command_creates_lists_and_revokes(make_user, capsys):
    owner = make_user(username="siem-bot")
    call_command(
        "api_token",
        "create",
        "--user",
        "siem-bot",
        "--scope",
        "audit:read",
        "--days",
        "30",
        "--name",
        "siem",
    )
    out = capsys.readouterr()
    text = out.out.strip()
    token = ApiToken.objects.get(user=owner)
    assert parse(text).lookup_id == token.lookup_id
    assert token.scopes == ["audit:read"] and token.name == "siem"
    assert timedelta(days=29, hours=23) < token.expires_at - timezone.now() <= timedelta(days=30)
    [created] = token_events("api_token_create")
    assert (created.user_id, created.category, created.resource_id) == (
        None,
        "account",
        token.lookup_id,
    )
    assert created.metadata["via"] == "command"
    assert created.metadata["owner"] == "siem-bot" and created.metadata["owner_id"] == owner.pk
    assert created.metadata["scopes"] == ["audit:read"]
    assert "os_user" in created.metadata

    call_command("api_token", "list")
    listing = capsys.readouterr().out
    assert token.lookup_id in listing and "live" in listing and text not in listing

    call_command("api_token", "revoke", token.lookup_id)
    assert "Revoked" in capsys.readouterr().out
    [revoked] = token_events("api_token_revoke")
    assert revoked.metadata["via"] == "command" and revoked.resource_id == token.lookup_id
    call_command("api_token", "revoke", token.lookup_id)
    assert "already revoked" in capsys.readouterr().out
    assert len(token_events("api_token_revoke")) == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--user", "nobody", "--days", "3"], "no user named"),
        (["--user", "siem-bot", "--days", "0"], "days"),
        (["--user", "siem-bot", "--days", "366"], "days"),
    ],
)
def test_the_command_refuses_bad_input_and_writes_nothing(make_user, arguments, message):
    make_user(username="siem-bot")
    with pytest.raises(CommandError, match=message):
        call_command("api_token", "create", "--scope", "audit:read", "--name", "x", *arguments)
    assert not ApiToken.objects.exists()
    assert token_events("api_token_create") == []


def test_a_service_account_cannot_log_in_with_a_password(db, client):
    account = service_account_create(username="siem-bot")
    # Even with a password set by hand, no password login works for it.
    account.set_password(PASSWORD)
    account.save()
    response = client.post(
        "/api/v2/auth/login",
        {"username": "siem-bot", "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 401
    page = client.post("/accounts/login/", {"username": "siem-bot", "password": PASSWORD})
    assert page.status_code == 200 and "_auth_user_id" not in client.session
    admin = client.post("/admin/login/", {"username": "siem-bot", "password": PASSWORD})
    assert admin.status_code == 200 and "_auth_user_id" not in client.session
    # Its tokens work: what a machine has instead.
    grant(account, "auth.view_user")
    issued = issue(account, "users:read")
    assert machine(issued.text).get("/api/v2/admin/users").status_code == 200


def test_the_owner_lists_and_revokes_their_own_tokens(make_user, client_for):
    owner = make_user(username="person")
    stranger = make_user(username="stranger")
    mine = issue(owner, "tasks:read")
    theirs = issue(stranger, "tasks:read")
    client = client_for(owner)
    listed = client.get("/api/v2/auth/api-tokens").json()["results"]
    assert [row["id"] for row in listed] == [mine.token.lookup_id]
    assert mine.text not in str(listed)
    assert client.delete(f"/api/v2/auth/api-tokens/{theirs.token.lookup_id}").status_code == 404
    assert client.delete(f"/api/v2/auth/api-tokens/{mine.token.lookup_id}").status_code == 204
    [revoked] = token_events("api_token_revoke")
    assert (revoked.user_id, revoked.metadata["via"]) == (owner.pk, "api")
    assert machine(mine.text).get("/api/v2/tasks").status_code == 401
    assert machine(theirs.text).get("/api/v2/tasks").status_code == 200


def test_the_admin_issues_a_token_once_and_revokes_it_with_its_permissions(make_user, client_for):
    owner = make_user(username="siem-bot")
    issuer = make_user(username="issuer", staff=True)
    grant(issuer, "accounts.add_apitoken", "accounts.view_apitoken")
    client = client_for(issuer)
    response = client.post(
        "/admin/accounts/apitoken/add/",
        {"username": "siem-bot", "name": "siem", "scopes": ["audit:read"], "days": "30"},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(user=owner)
    text = response.context["text"]
    assert parse(text).lookup_id == token.lookup_id and text in response.content.decode()
    [created] = token_events("api_token_create")
    assert (created.user_id, created.username, created.metadata["via"]) == (
        issuer.pk,
        "issuer",
        "admin",
    )
    assert created.metadata["owner"] == "siem-bot" and created.metadata["scopes"] == ["audit:read"]
    # The list never shows the text again.
    listing = client.get("/admin/accounts/apitoken/")
    assert token.lookup_id in listing.content.decode() and text not in listing.content.decode()
    # Too long a life is refused on the form, nothing issued.
    refused = client.post(
        "/admin/accounts/apitoken/add/",
        {"username": "siem-bot", "name": "x", "scopes": ["audit:read"], "days": "9999"},
    )
    assert refused.status_code == 200 and ApiToken.objects.count() == 1
    # Revoking needs change_apitoken: without it the action is not there.
    action = {"action": "revoke", "_selected_action": [token.pk]}
    client.post("/admin/accounts/apitoken/", action)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    grant(issuer, "accounts.change_apitoken")
    client.post("/admin/accounts/apitoken/", action)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    [revoked] = token_events("api_token_revoke")
    assert (revoked.user_id, revoked.category, revoked.metadata["via"]) == (
        issuer.pk,
        "account",
        "admin",
    )


def test_the_schema_documents_the_token_scheme(client):
    schema = client.get("/api/schema/?format=json").json()
    scheme = schema["components"]["securitySchemes"]["apiToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    audit = schema["paths"]["/api/v2/admin/audit-logs"]["get"]["security"]
    assert {"apiToken": []} in audit and {"jwtAuth": []} in audit
