"""Passwords and tokens submitted through any authentication path never reach the trail or logs."""

import json
import logging
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from audit.models import AuditEvent
from audit.tests.fixtures import PASSWORD

WRONG_PASSWORD = "wrong but secret passphrase 913"
NEW_PASSWORD = "freshly chosen passphrase 5150"
JSON = "application/json"


def every_column(event: AuditEvent) -> str:
    """Return every stored column of an event as one searchable text."""
    values = AuditEvent.objects.filter(pk=event.pk).values().get()
    return json.dumps(values, default=str, ensure_ascii=False)


def fragments(secret: str) -> list[str]:
    """Return the secret and, for a JWT, its signature: a partial leak counts too."""
    parts = [secret]
    if secret.count(".") == 2:
        parts.append(secret.rsplit(".", 1)[1])
    return parts


@pytest.fixture
def walk_every_auth_path(user, staff, browser_headers):
    """Submit known credentials through every authentication surface; return the secrets."""

    def walk() -> list[str]:
        secrets = [PASSWORD, WRONG_PASSWORD, NEW_PASSWORD]
        browser = Client(**browser_headers)
        api = Client(**browser_headers)

        # Session login page: failure, then success.
        browser.post("/accounts/login/", {"username": "alice", "password": WRONG_PASSWORD})
        assert (
            browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
        ).status_code == 302

        # Password change page.
        changed = browser.post(
            "/accounts/password/",
            {
                "old_password": PASSWORD,
                "new_password1": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD,
            },
        )
        assert changed.status_code == 302

        # Admin login: failure, then success.
        admin = Client(**browser_headers)
        admin.post("/admin/login/", {"username": "staffer", "password": WRONG_PASSWORD})
        assert (
            admin.post("/admin/login/", {"username": "staffer", "password": PASSWORD})
        ).status_code == 302

        # JWT login: failure, then success (twice, for two token pairs).
        api.post(
            "/api/v2/auth/login",
            {"username": "staffer", "password": WRONG_PASSWORD},
            content_type=JSON,
        )
        pairs = []
        for _ in range(2):
            response = api.post(
                "/api/v2/auth/login",
                {"username": "staffer", "password": PASSWORD},
                content_type=JSON,
            )
            assert response.status_code == 200
            pairs.append(response.json())
        other = api.post(
            "/api/v2/auth/login",
            {"username": "alice", "password": NEW_PASSWORD},
            content_type=JSON,
        ).json()
        secrets += [pair[kind] for pair in [*pairs, other] for kind in ("access", "refresh")]

        # Refresh: success, then the rotated token again (failure).
        rotated = api.post(
            "/api/v2/auth/refresh", {"refresh": pairs[0]["refresh"]}, content_type=JSON
        )
        assert rotated.status_code == 200
        secrets += list(rotated.json().values())
        reuse = api.post(
            "/api/v2/auth/refresh", {"refresh": pairs[0]["refresh"]}, content_type=JSON
        )
        assert reuse.status_code == 401

        bearer: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {pairs[1]['access']}"}
        # Logout with another user's token (refused), then with one's own.
        foreign = api.post(
            "/api/v2/auth/logout", {"refresh": other["refresh"]}, content_type=JSON, **bearer
        )
        assert foreign.status_code == 403
        own = api.post(
            "/api/v2/auth/logout", {"refresh": pairs[1]["refresh"]}, content_type=JSON, **bearer
        )
        assert own.status_code == 204

        # Logout everywhere: the API, then the page.
        everywhere: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {rotated.json()['access']}"}
        assert api.post("/api/v2/auth/logout-all", **everywhere).status_code == 204
        assert browser.post("/accounts/logout-all/").status_code == 302
        return secrets

    return walk


def test_no_secret_reaches_an_audit_row(walk_every_auth_path):
    secrets = walk_every_auth_path()
    events = list(AuditEvent.objects.order_by("sequence"))
    # The walk is recorded: every surface left rows, successes and failures alike.
    recorded = {(event.event_type, event.outcome, event.metadata.get("method")) for event in events}
    assert {
        ("auth_login", "failure", "session"),
        ("auth_login", "success", "session"),
        ("auth_login", "failure", "admin"),
        ("auth_login", "success", "admin"),
        ("auth_login", "failure", "jwt"),
        ("auth_login", "success", "jwt"),
        ("auth_token_refresh", "success", None),
        ("auth_token_refresh", "failure", None),
        ("auth_logout", "failure", "jwt"),
        ("auth_logout", "success", "jwt"),
        ("auth_logout", "success", "session"),
    } <= recorded
    for event in events:
        text = every_column(event)
        for secret in secrets:
            for fragment in fragments(secret):
                assert fragment not in text, (event.event_type, event.outcome)


@pytest.fixture
def committed(transactional_db):
    """Commit for real, so the SIEM stream (written on commit) is part of what is checked."""
    yield
    # Throttle counters live in the cache table, which the flush after a transactional
    # test leaves alone; later tests must start with a full allowance.
    cache.clear()


def test_no_secret_reaches_the_logs(audit_stream, committed, walk_every_auth_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    secrets = walk_every_auth_path()
    stream = audit_stream()
    captured = capsys.readouterr()
    logged = "\n".join(
        [
            caplog.text,
            *(record.getMessage() for record in caplog.records),
            *(str(record.args) for record in caplog.records),
            *stream,
            captured.out,
            captured.err,
        ]
    )
    # The trail's own stream is among what was checked: one line per committed event.
    assert len(stream) == AuditEvent.objects.count() > 0
    for secret in secrets:
        for fragment in fragments(secret):
            assert fragment not in logged
