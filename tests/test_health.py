"""GET /healthz: what a load balancer reads, and what it must not leave behind."""

import pytest
from django.core.files.storage import default_storage

from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_a_healthy_site_answers_200_with_every_check(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "storage": "ok"},
    }
    assert "no-store" in response["Cache-Control"]


def test_the_check_leaves_no_trace(client, user):
    client.force_login(user)
    before = AuditEvent.objects.count()

    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    anonymous = client.__class__().get("/healthz")

    assert anonymous.status_code == 200
    assert AuditEvent.objects.count() == before
    # No cookie for a load balancer to keep, and no probe file left in the storage.
    assert not anonymous.cookies
    assert default_storage.listdir("health") == ([], [])


def test_unwritable_storage_is_a_503_that_names_the_storage(client, settings, tmp_path):
    # Under a regular file no directory can be made: unwritable even for root, who
    # ignores permission bits.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocker / "media")},
        },
    }
    before = AuditEvent.objects.count()

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "migrations": "ok", "storage": "failed"},
    }
    assert AuditEvent.objects.count() == before


def test_the_check_is_not_redirected_to_https(client, settings):
    # The load balancer asks each backend over plain HTTP; a 301 would mark it down.
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/accounts/login/").status_code == 301
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_head_is_answered_and_writes_are_refused(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405
