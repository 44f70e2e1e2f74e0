"""The SIEM stream: each sealed event once, with its link, on a sink of its own.

These tests commit for real (transactional database): the stream reads what the
sealer committed, as a sealer in another process would.
"""

import json
import os
import socket

import pytest
from django.db import transaction

from audit.lease import LeaseHolder
from audit.models import AuditEvent, AuditStreamPosition
from audit.recording.client import ClientContext
from audit.sealing.batches import seal_pending
from audit.services import record_event
from audit.siem.sinks import parse_stream_setting
from audit.siem.streamer import configured_sink, stream_lag, stream_pending
from audit.tests.fixtures import PASSWORD, drain_sealer

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT = ClientContext(ip_address="198.51.100.4", user_agent="agent/1", request_id="req-0001")


def test_a_sealed_event_is_one_json_line_with_its_link_and_its_writer(audit_stream):
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
    assert lines[0].isascii()
    document = json.loads(lines[0])
    stored = AuditEvent.objects.get(pk=event.pk)
    assert document["sequence"] == stored.sequence == document["leaf_index"] + 1
    assert document["hash"] == stored.hash
    assert document["prev_hash"] == stored.prev_hash
    assert document["key_id"] == stored.key_id != ""
    assert document["event_type"] == "auth_login"
    assert document["outcome"] == "failure"
    assert document["username"] == stored.username
    assert document["ip_address"] == "198.51.100.4"
    assert document["request_id"] == "req-0001"
    assert document["metadata"] == {"reason": "invalid_credentials"}
    assert document["host"] == socket.gethostname()
    assert document["process"] == {"pid": os.getpid(), "role": "sealer"}
    assert document["service"] == "ocr-service"


def test_a_rolled_back_event_emits_nothing(audit_stream):
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(event_type="task_create", client=CLIENT)
        raise RuntimeError("the action failed")
    assert audit_stream() == []
    assert not AuditEvent.objects.exists()


def test_each_event_is_streamed_once_however_often_the_stream_runs(audit_stream):
    with transaction.atomic():
        record_event(event_type="task_create", client=CLIENT)
        record_event(event_type="file_upload", client=CLIENT)
    lines = [json.loads(line) for line in audit_stream()]
    assert [line["event_type"] for line in lines] == ["task_create", "file_upload"]
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    record_event(event_type="task_delete", client=CLIENT)
    again = [json.loads(line) for line in audit_stream()]
    assert [line["sequence"] for line in again] == [1, 2, 3]
    assert AuditStreamPosition.objects.get().sequence == 3
    assert stream_lag() == 0


def test_a_login_over_http_emits_its_event(audit_stream, browser, user):
    response = browser.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    documents = [json.loads(line) for line in audit_stream()]
    assert [(d["event_type"], d["outcome"], d["username"]) for d in documents] == [
        ("auth_login", "success", "alice")
    ]
    assert documents[0]["request_id"] == response["X-Request-ID"]


def test_only_the_sealer_lease_holder_streams(audit_stream, settings):
    record_event(event_type="task_create", client=CLIENT)
    drain_sealer()
    other = LeaseHolder()
    # Another process holds the lease: this one writes nothing, and moves nothing.
    with transaction.atomic():
        assert other.hold()
    assert stream_pending() == 0
    assert not AuditStreamPosition.objects.filter(sequence__gt=0).exists()
    assert stream_pending(lease=other) == 1


def test_lines_written_but_not_committed_are_not_written_again(audit_stream, settings):
    """A sealer killed between writing a batch and committing its position repeats nothing."""
    for number in range(3):
        record_event(event_type="task_create", client=CLIENT, resource_id=number)
    assert len(audit_stream()) == 3
    # As if the process died before its commit: the position is back where it was.
    AuditStreamPosition.objects.update(sequence=1)
    record_event(event_type="task_delete", client=CLIENT)
    lines = [json.loads(line) for line in audit_stream()]
    assert [line["sequence"] for line in lines] == [1, 2, 3, 4]


def test_a_file_from_another_trail_moves_nothing(audit_stream, settings, tmp_path):
    record_event(event_type="task_create", client=CLIENT)
    path = tmp_path / "audit-stream.log"
    forged = {"sequence": 40, "hash": "0" * 64, "event_type": "task_create"}
    path.write_text(json.dumps(forged) + "\n")
    lines = audit_stream()
    assert [json.loads(line)["sequence"] for line in lines] == [40, 1]


def test_a_fragment_left_by_a_killed_writer_is_ended_before_the_next_line(audit_stream, tmp_path):
    path = tmp_path / "audit-stream.log"
    path.write_text('{"sequence": 1, "ha')
    record_event(event_type="task_create", client=CLIENT)
    lines = audit_stream()
    assert lines[0] == '{"sequence": 1, "ha'
    assert json.loads(lines[1])["sequence"] == 1


def test_a_rotated_file_is_reopened(audit_stream, tmp_path):
    path = tmp_path / "audit-stream.log"
    record_event(event_type="task_create", client=CLIENT)
    assert len(audit_stream()) == 1
    path.rename(tmp_path / "audit-stream.log.1")  # what logrotate does (without copytruncate)
    record_event(event_type="task_delete", client=CLIENT)
    [line] = audit_stream()
    assert json.loads(line)["sequence"] == 2
    assert len((tmp_path / "audit-stream.log.1").read_text().splitlines()) == 1


def test_events_recorded_by_a_background_writer_are_streamed_once_sealed(audit_stream, settings):
    settings.AUDIT_SEALING = "background"
    record_event(event_type="task_create", client=CLIENT)
    assert audit_stream(seal=False) == []  # committed, not sealed: not on the stream
    seal_pending()
    [line] = audit_stream()
    assert json.loads(line)["sequence"] == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("file:relative/path", "absolute path"),
        ("syslog+tcp://127.0.0.1", "host:port"),
        ("syslog+udp://127.0.0.1:514?facility=nope", "unknown syslog facility"),
        ("syslog+unix:", "socket path"),
        ("kafka://broker:9092", "is not one of"),
    ],
)
def test_a_bad_stream_setting_is_refused_naming_what_is_wrong(value, message):
    with pytest.raises(ValueError, match=message):
        parse_stream_setting(value)


def test_off_writes_nothing(settings):
    settings.AUDIT_STREAM = "off"
    record_event(event_type="task_create", client=CLIENT)
    assert configured_sink() is None
    assert stream_pending() == 0
