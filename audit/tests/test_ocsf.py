"""The stream and the export in OCSF 1.3 and CEF: every event type, against the schema."""

import json

import pytest

from audit.events import EVENT_CATEGORIES
from audit.models import AuditEvent
from audit.recording.client import ClientContext
from audit.services import record_event
from audit.siem.cef import cef_line
from audit.siem.documents import Writer, event_document
from audit.siem.ocsf import EVENT_MAPPINGS, ocsf_event
from audit.tests.fixtures import sealed
from audit.tests.ocsf_required import ocsf_problems

CLIENT = ClientContext(ip_address="198.51.100.4", user_agent="agent/1", request_id="req-0001")
WRITER = Writer(host="host-a", pid=4242, role="sealer")

# Metadata as the services record it, per event type (accounts/account_audit.py & co.).
SAMPLES = {
    "access_denied": {"path": "/api/v2/admin/audit-logs", "method": "GET", "status": 403},
    "user_update": {"target": "bob", "changes": {"email": {"old": "", "new": "b@example.org"}}},
    "user_create": {"target": "bob", "fields": {"is_staff": False}},
    "user_delete": {"target": "bob"},
    "password_change": {"target": "bob"},
    "group_update": {
        "action": "permissions",
        "name": "auditors",
        "permissions_added": ["audit.view_auditevent"],
    },
    "auth_login": {"method": "session"},
}


def ocsf_of(event: AuditEvent) -> dict:
    return ocsf_event(event_document(AuditEvent.objects.get(pk=event.pk)), WRITER)


def test_every_event_type_has_its_own_mapping():
    # A new event type must be mapped on purpose (docs/siem.md lists them all).
    assert set(EVENT_MAPPINGS) == set(EVENT_CATEGORIES)


@pytest.mark.parametrize("event_type", sorted(EVENT_CATEGORIES))
@pytest.mark.parametrize("outcome", ["success", "failure"])
def test_each_event_type_is_a_valid_ocsf_event(db, staff, event_type, outcome):
    event = record_event(
        event_type=event_type,
        outcome=outcome,
        user=staff,
        client=CLIENT,
        resource_type="user" if EVENT_CATEGORIES[event_type] == "account" else "task",
        resource_id="7",
        metadata=SAMPLES.get(event_type, {}),
    )
    document = ocsf_of(event)
    assert ocsf_problems(document) == []
    assert document["status_id"] == (2 if outcome == "failure" else 1)
    assert document["metadata"]["sequence"] == event.sequence
    assert document["metadata"]["event_code"] == event_type
    assert document["metadata"]["product"]["version"] == "0.1.0"
    assert document["src_endpoint"] == {"ip": "198.51.100.4"}
    assert document["http_request"]["user_agent"] == "agent/1"
    assert document["unmapped"]["hash"] == event.hash
    assert document["actor"]["user"] == {"name": "staffer", "uid": str(staff.pk)}
    assert json.dumps(document)  # plain JSON all through


def test_an_account_change_separates_who_did_it_from_whom_it_was_done_to(db, staff):
    event = record_event(
        event_type="user_delete", user=staff, client=CLIENT, resource_type="user",
        resource_id="9", metadata={"target": "bob"},
    )  # fmt: skip
    document = ocsf_of(event)
    assert (document["class_uid"], document["activity_id"], document["type_uid"]) == (
        3001,
        6,
        300106,
    )
    assert document["actor"]["user"]["name"] == "staffer"
    assert document["user"] == {"name": "bob", "uid": "9"}


def test_a_privilege_grant_is_user_access_management(db, staff):
    granted = {"target": "bob", "changes": {"is_superuser": {"old": False, "new": True}}}
    event = record_event(
        event_type="user_update", user=staff, client=CLIENT, resource_type="user",
        resource_id="9", metadata=granted,
    )  # fmt: skip
    document = ocsf_of(event)
    assert (document["class_uid"], document["activity_id"]) == (3005, 1)
    assert document["privileges"] == ["is_superuser"]
    assert document["user"]["name"] == "bob"
    assert ocsf_problems(document) == []


def test_a_group_created_without_privileges_is_a_web_resource_created(db, staff):
    event = record_event(
        event_type="group_update", user=staff, client=CLIENT, resource_type="group",
        resource_id="3", metadata={"action": "create", "name": "auditors"},
    )  # fmt: skip
    document = ocsf_of(event)
    assert (document["class_uid"], document["activity_id"]) == (6001, 1)
    assert document["web_resources"] == [{"type": "group", "uid": "3"}]
    assert ocsf_problems(document) == []


def test_a_failed_login_is_authentication_logon_failure(db):
    event = record_event(
        event_type="auth_login", outcome="failure", username="mallory", client=CLIENT,
        metadata={"method": "jwt", "reason": "invalid_credentials"},
    )  # fmt: skip
    document = ocsf_of(event)
    assert (document["class_uid"], document["activity_id"], document["status_id"]) == (3002, 1, 2)
    assert document["user"]["name"] == "mallory"
    assert document["status_detail"] == "invalid_credentials"
    assert document["category_uid"] == 3


def test_a_refused_request_is_api_activity_with_its_method_and_path(db, user):
    event = record_event(
        event_type="access_denied", outcome="failure", user=user, client=CLIENT,
        metadata=SAMPLES["access_denied"],
    )  # fmt: skip
    document = ocsf_of(event)
    assert (document["class_uid"], document["activity_id"]) == (6003, 2)
    assert document["http_request"]["http_method"] == "GET"
    assert document["http_request"]["url"] == {"path": "/api/v2/admin/audit-logs"}
    assert document["http_response"] == {"code": 403}


def test_the_ocsf_check_catches_a_missing_requirement():
    # The check itself can fail: a document without its target user is refused.
    document = {
        "activity_id": 1, "category_uid": 3, "class_uid": 3001, "type_uid": 300101,
        "severity_id": 1, "status_id": 1, "time": 1,
        "metadata": {"version": "1.3.0", "product": {"vendor_name": "x"}},
    }  # fmt: skip
    assert ocsf_problems(document) == ["user is required by 3001"]
    assert "type_uid is not class_uid * 100 + activity_id" in ocsf_problems(
        {**document, "type_uid": 1, "user": {"name": "a"}}
    )


def split_cef(line: str) -> list[str]:
    """Split a CEF line's header on the pipes that are not escaped."""
    fields: list[str] = []
    current, escaped = "", False
    for index, char in enumerate(line):
        if escaped:
            current, escaped = current + char, False
        elif char == "\\":
            current, escaped = current + char, True
        elif char == "|" and len(fields) < 7:
            fields.append(current)
            current = ""
        else:
            current += char
        if len(fields) == 7:
            fields.append(line[index + 1 :])
            break
    return fields


def test_cef_escapes_pipes_in_the_header_and_equals_signs_in_extensions(db):
    event = record_event(
        event_type="auth_login", outcome="failure", username="a|b=c\\d", client=CLIENT,
        metadata={"reason": "invalid_credentials"},
    )  # fmt: skip
    line = cef_line(event_document(AuditEvent.objects.get(pk=event.pk)), WRITER)
    header = split_cef(line)
    assert header[:7] == [
        "CEF:0", "ocr-service project", "OCR Service", "0.1.0", "auth_login",
        "Authentication: Logon", "3",
    ]  # fmt: skip
    extension = header[7]
    assert "suser=a|b\\=c\\\\d " in extension
    assert f"cn1={event.sequence} " in extension
    assert f"cs1={event.hash} " in extension
    assert "src=198.51.100.4 " in extension
    assert "\n" not in line


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", ["ocsf", "cef"])
def test_the_stream_in_ocsf_or_cef_is_counted_once(audit_stream, settings, fmt):
    settings.AUDIT_STREAM_FORMAT = fmt
    for number in range(3):
        record_event(event_type="task_create", client=CLIENT, resource_id=number)
    lines = audit_stream()
    assert len(lines) == 3
    if fmt == "ocsf":
        documents = [json.loads(line) for line in lines]
        assert [ocsf_problems(document) for document in documents] == [[], [], []]
        assert [d["metadata"]["sequence"] for d in documents] == [1, 2, 3]
    else:
        assert all(line.startswith("CEF:0|") for line in lines)
    # Read back after a lost commit, as after a sealer killed mid-round: nothing twice.
    from audit.models import AuditStreamPosition

    AuditStreamPosition.objects.update(sequence=0)
    record_event(event_type="task_delete", client=CLIENT)
    assert len(audit_stream()) == 4


def test_the_export_in_ocsf_is_one_valid_event_per_line(staff_client, user):
    recorded = sealed(
        record_event(event_type="task_create", user=user, client=CLIENT, resource_id=number)
        for number in range(3)
    )
    response = staff_client.get("/api/v2/admin/audit-logs?format=ocsf&event_type=task_create")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    documents = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert len(documents) == 3
    assert all(ocsf_problems(document) == [] for document in documents)
    assert sorted(d["metadata"]["sequence"] for d in documents) == [e.sequence for e in recorded]
    assert {d["type_uid"] for d in documents} == {600101}
