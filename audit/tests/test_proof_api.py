"""GET /api/v2/admin/audit-logs/<id>/proof and /consistency: proofs an auditor checks offline."""

import base64
import json

import pytest

from audit.api.export import NDJSON_FIELDS
from audit.chain import row_payload
from audit.models import AuditEvent
from audit.services import record_event
from audit.tests.fixtures import sealed
from audit.transparency.keys import verifiers
from audit.transparency.tree_heads import sign_tree_head
from audit.transparency.verifier.merkle import leaf_hash, verify_consistency, verify_inclusion
from audit.transparency.verifier.signed_note import open_checkpoint

URL = "/api/v2/admin/audit-logs"


def decode(values: list[str]) -> list[bytes]:
    return [base64.b64decode(value) for value in values]


@pytest.fixture
def trail(db):
    """Ten events, signed at size 6 and at size 10."""
    events = sealed([record_event(event_type="task_create", resource_id=n) for n in range(6)])
    sign_tree_head()
    events += sealed([record_event(event_type="auth_login", username=f"u{n}") for n in range(4)])
    sign_tree_head()
    return events


def test_an_inclusion_proof_verifies_against_the_signed_checkpoint(trail, staff_client):
    event = trail[2]
    response = staff_client.get(f"{URL}/{event.pk}/proof")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"leaf_index", "tree_size", "leaf_hash", "proof", "checkpoint"}
    assert (body["leaf_index"], body["tree_size"]) == (2, 10)  # the newest checkpoint's size
    checkpoint, _ = open_checkpoint(
        body["checkpoint"], origin="test.example/ocr-audit", verifiers=verifiers()
    )
    assert checkpoint.size == 10
    verify_inclusion(
        leaf_hash=base64.b64decode(body["leaf_hash"]),
        index=2,
        size=10,
        proof=decode(body["proof"]),
        root=checkpoint.root_hash,
    )


def test_the_leaf_hash_is_rebuilt_from_the_ndjson_export(trail, staff_client):
    response = staff_client.get(URL, {"format": "ndjson"})
    documents = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert set(documents[0]) == set(NDJSON_FIELDS)
    document = next(d for d in documents if d["id"] == trail[4].pk)
    assert document["leaf_index"] == 4
    # docs/transparency.md: the leaf bytes are the event's canonical record.
    values = (
        document["sequence"],
        document["timestamp"],
        document["event_type"],
        document["category"],
        document["outcome"],
        document["username"],
        document["ip_address"],
        document["user_agent"],
        document["request_id"],
        document["resource_type"],
        document["resource_id"],
        document["message"],
        document["metadata"],
        document["prev_hash"],
    )
    proof = staff_client.get(f"{URL}/{trail[4].pk}/proof").json()
    assert base64.b64encode(leaf_hash(row_payload(values))).decode() == proof["leaf_hash"]


def test_a_size_with_no_signed_checkpoint_gives_a_null_checkpoint(trail, staff_client):
    body = staff_client.get(f"{URL}/{trail[0].pk}/proof", {"size": 7}).json()
    assert (body["tree_size"], body["checkpoint"]) == (7, None)


@pytest.mark.parametrize("size", ["0", "-1", "x", "1000", "2"])
def test_a_bad_size_is_a_400_naming_it(trail, staff_client, size):
    # trail[4] is leaf 4: a tree of 2 leaves does not hold it; 1000 is beyond the tree.
    response = staff_client.get(f"{URL}/{trail[4].pk}/proof", {"size": size})
    assert response.status_code == 400
    assert list(response.json()) == ["size"]


def test_an_unknown_or_unsealed_event_is_a_404(trail, staff_client, settings):
    assert staff_client.get(f"{URL}/999999/proof").status_code == 404
    settings.AUDIT_SEALING = "background"
    unsealed = record_event(event_type="auth_logout")
    assert staff_client.get(f"{URL}/{unsealed.pk}/proof").status_code == 404


def test_a_consistency_proof_links_two_signed_checkpoints(trail, staff_client):
    response = staff_client.get(f"{URL}/consistency", {"from": 6})
    assert response.status_code == 200
    body = response.json()
    assert (body["from"], body["to"]) == (6, 10)
    notes = staff_client.get(f"{URL}/{trail[0].pk}/proof", {"size": 6}).json()["checkpoint"]
    old, _ = open_checkpoint(notes, origin="test.example/ocr-audit", verifiers=verifiers())
    new_note = staff_client.get(f"{URL}/{trail[0].pk}/proof").json()["checkpoint"]
    new, _ = open_checkpoint(new_note, origin="test.example/ocr-audit", verifiers=verifiers())
    verify_consistency(
        old_size=6,
        new_size=10,
        old_root=old.root_hash,
        new_root=new.root_hash,
        proof=decode(body["proof"]),
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "from"),
        ({"from": 0}, "from"),
        ({"from": 7, "to": 5}, "from"),
        ({"from": 1, "to": 1000}, "to"),
    ],
)
def test_bad_consistency_sizes_are_a_400_naming_the_field(trail, staff_client, query, field):
    response = staff_client.get(f"{URL}/consistency", query)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_each_proof_read_is_recorded_as_an_audit_view(trail, staff_client, staff):
    staff_client.get(f"{URL}/{trail[1].pk}/proof", {"size": 8})
    staff_client.get(f"{URL}/consistency", {"from": 3, "to": 9})
    views = AuditEvent.objects.filter(event_type="audit_view").order_by("sequence")
    assert [(v.username, v.resource_id, v.metadata) for v in views] == [
        (staff.username, str(trail[1].pk), {"proof": "inclusion", "size": 8}),
        (staff.username, "", {"proof": "consistency", "from": 3, "to": 9}),
    ]


def test_proofs_need_the_audit_list_permission(trail, client_for, make_user, client):
    clerk = client_for(make_user(staff=True))
    assert clerk.get(f"{URL}/{trail[0].pk}/proof").status_code == 403
    assert clerk.get(f"{URL}/consistency", {"from": 1}).status_code == 403
    assert client.get(f"{URL}/consistency", {"from": 1}).status_code in (401, 403)


def test_the_schema_documents_both_endpoints(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    proof = schema["paths"]["/api/v2/admin/audit-logs/{event_id}/proof"]["get"]
    assert [p["name"] for p in proof["parameters"] if p["in"] == "query"] == ["size"]
    consistency = schema["paths"]["/api/v2/admin/audit-logs/consistency"]["get"]
    assert {p["name"] for p in consistency["parameters"]} == {"from", "to"}
    components = schema["components"]["schemas"]
    assert set(components["InclusionProofOutput"]["properties"]) == {
        "leaf_index",
        "tree_size",
        "leaf_hash",
        "proof",
        "checkpoint",
    }
    assert set(components["ConsistencyProofOutput"]["properties"]) == {"from", "to", "proof"}
