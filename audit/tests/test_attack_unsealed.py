"""Attacks through unsealed rows: what someone who can write to the table but holds no
key can insert, change or remove before the sealer comes by, and what that must not buy.

Rows are inserted with raw SQL (triggers off on PostgreSQL where a DBA would turn them
off) exactly as record_event leaves an event: sequence, prev_hash and hash NULL.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.integrity import file_sha256, verify_archive
from audit.retention import write_archive
from audit.tests.tamper import append_chain, raw_sql

INSERT = (
    "INSERT INTO {table} (timestamp, event_type, category, outcome, username, user_agent, "
    "request_id, resource_type, resource_id, message, metadata, key_id) "
    "VALUES (%s, %s, %s, 'success', %s, %s, %s, %s, %s, %s, %s, '')"
)


def insert_unsealed(*, timestamp, event_type="auth_login", category="authentication", **fields):
    """Insert one unsealed row by hand, as an attacker at the SQL prompt would."""
    values = {
        "username": "admin",
        "user_agent": "",
        "request_id": "",
        "resource_type": "",
        "resource_id": "",
        "message": "forged",
        "metadata": "{}",
        **fields,
    }
    raw_sql(
        INSERT,
        [
            timestamp,
            event_type,
            category,
            values["username"],
            values["user_agent"],
            values["request_id"],
            values["resource_type"],
            values["resource_id"],
            values["message"],
            values["metadata"],
        ],
    )


@pytest.mark.django_db(transaction=True)
def test_an_unsealed_audit_prune_does_not_vouch_for_an_archive(tmp_path):
    append_chain(5, start=timezone.now() - timedelta(days=60))
    archive = tmp_path / "audit.ndjson.gz"
    write_archive(archive, first=1, last=5, chunk_size=100)
    insert_unsealed(
        timestamp=timezone.now(),
        event_type="audit_prune",
        category="audit",
        metadata=f'{{"archive_sha256": "{file_sha256(archive)}", "last_sequence": 5}}',
    )

    result = verify_archive(archive)

    assert result.ok
    assert "no audit_prune event in this database records its SHA-256" in result.reason



@pytest.fixture
def background(settings):
    settings.AUDIT_SEALING = "background"


@pytest.mark.django_db(transaction=True)
def test_the_admin_lists_only_sealed_events_as_the_api_does(background, client_for, make_user):
    # Unsealed rows are anyone's INSERT until the sealer has vetted and linked them.
    insert_unsealed(timestamp=timezone.now(), username="mallory", message="forged-by-sql")
    staff = client_for(make_user(username="root", staff=True, superuser=True))

    listing = staff.get("/admin/audit/auditevent/", {"q": "mallory"})

    assert listing.status_code == 200
    assert "forged-by-sql" not in listing.content.decode()
    assert staff.get("/api/v2/admin/audit-logs", {"username": "mallory"}).json()["results"] == []
