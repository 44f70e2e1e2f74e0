"""The SIEM stream: one JSON line on the `audit` logger per committed event.

These tests commit for real (transactional database), because the line is written
by an on_commit callback.
"""

import json

import pytest
from django.db import transaction

from audit.client import ClientContext
from audit.models import AuditEvent
from audit.services import record_event
from audit.tests.fixtures import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT = ClientContext(ip_address="198.51.100.4", user_agent="agent/1", request_id="req-0001")


def test_a_committed_event_emits_exactly_one_json_line(audit_stream):
    event = record_event(
        event_type="auth_login",
        outcome="failure",
        # A line break or non-ASCII text in a field must not split the line.
        username="mallory\nfake 中文",
        client=CLIENT,
        metadata={"reason": "invalid_credentials"},
    )
    lines = audit_stream()
    assert len(lines) == 1
    document = json.loads(lines[0])
    stored = AuditEvent.objects.get(pk=event.pk)
    assert document["sequence"] == stored.sequence
    assert document["hash"] == stored.hash
    assert document["prev_hash"] == stored.prev_hash
    assert document["key_id"] == stored.key_id != ""
    assert document["event_type"] == "auth_login"
    assert document["outcome"] == "failure"
    assert document["username"] == stored.username
    assert document["ip_address"] == "198.51.100.4"
    assert document["request_id"] == "req-0001"
    assert document["metadata"] == {"reason": "invalid_credentials"}


def test_a_rolled_back_event_emits_nothing(audit_stream):
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(event_type="task_create", client=CLIENT)
        raise RuntimeError("the action failed")
    assert audit_stream() == []
    assert not AuditEvent.objects.exists()


def test_an_event_is_emitted_only_when_its_transaction_commits(audit_stream):
    with transaction.atomic():
        record_event(event_type="task_create", client=CLIENT)
        record_event(event_type="file_upload", client=CLIENT)
        assert audit_stream() == []
    lines = [json.loads(line) for line in audit_stream()]
    assert [line["event_type"] for line in lines] == ["task_create", "file_upload"]
    assert lines[1]["prev_hash"] == lines[0]["hash"]


def test_a_login_over_http_emits_its_event(audit_stream, browser, user):
    response = browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    documents = [json.loads(line) for line in audit_stream()]
    assert [(d["event_type"], d["outcome"], d["username"]) for d in documents] == [
        ("auth_login", "success", "alice")
    ]
    assert documents[0]["request_id"] == response["X-Request-ID"]
