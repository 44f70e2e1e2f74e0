"""The witness: its key and state, cosigning over real HTTP, refusals, and the quorum."""

import base64
import hashlib
import io
import json
import stat
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.api.export import NDJSON_COLUMNS, ndjson_lines, rows
from audit.chain import key_ring
from audit.management.commands.audit_witness import Command
from audit.models import AuditEvent, TreeCheckpoint, WitnessCosignature
from audit.tests.tamper import insert_tree_checkpoint, raw_sql, rebuild_tree_from, rehash_from
from audit.tests.witnessing import (
    drop_checkpoints,
    init_witness,
    log_key,
    record,
    record_and_sign,
    run_witness,
    verify,
)
from audit.transparency.keys import load_signer
from audit.transparency.node_store import DatabaseNodeStore
from audit.transparency.tree_heads import sign_tree_head
from audit.transparency.verifier.merkle import root_hash
from audit.transparency.verifier.offline import run as offline
from audit.transparency.verifier.signed_note import (
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    generate_key,
    sign_note,
)
from audit.transparency.verifier.tlog_cosignature import (
    Cosigner,
    CosignerVerifier,
    generate_cosigner_key,
    note_cosignatures,
)
from audit.transparency.witness import STATE_FILE, LogClient, WitnessState

TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


def test_a_cosignature_is_the_c2sp_cosignature_v1_bytes():
    skey, vkey = generate_cosigner_key("witness.example/w1")
    line = Cosigner.from_key(skey).cosign(TEXT, timestamp=1679315147).line()
    # Rebuilt from the spec's text alone (c2sp.org/tlog-cosignature), not from our code.
    name, encoded = line.removeprefix("— ").rstrip("\n").split(" ")
    assert name == "witness.example/w1"
    raw = base64.b64decode(encoded)
    public = base64.b64decode(vkey.split("+", 2)[2])
    assert public[0] == 0x04 and len(public) == 33
    expected_id = hashlib.sha256(name.encode() + b"\n" + b"\x04" + public[1:]).digest()[:4]
    assert raw[:4] == expected_id
    assert int(vkey.split("+")[1], 16) == int.from_bytes(expected_id, "big")
    assert int.from_bytes(raw[4:12], "big") == 1679315147
    message = b"cosignature/v1\ntime 1679315147\n" + TEXT.encode()
    Ed25519PublicKey.from_public_bytes(public[1:]).verify(raw[12:], message)  # raises if not
    assert len(raw) == 4 + 8 + 64
    # And our reader agrees, on this note and not on another text.
    witness = CosignerVerifier.from_key(vkey)
    note = TEXT + "\n— log.example abcdefgh\n" + line
    [found] = note_cosignatures(note, witnesses=[witness])
    assert found.timestamp == 1679315147
    assert note_cosignatures(note.replace("20852163", "20852164"), witnesses=[witness]) == []


def test_a_log_key_is_not_a_witness_key_nor_the_reverse():
    _, log_vkey = generate_key("log.example")
    _, witness_vkey = generate_cosigner_key("witness.example")
    with pytest.raises(NoteError, match="type 0x04"):
        CosignerVerifier.from_key(log_vkey)
    with pytest.raises(NoteError, match="type 0x01"):
        Verifier.from_key(witness_vkey)


def test_a_witness_key_round_trips_and_a_mangled_one_is_refused():
    skey, vkey = generate_cosigner_key("witness.example")
    assert Cosigner.from_key(skey).key() == skey
    assert CosignerVerifier.from_key(vkey).key() == vkey
    name, id_hex, material = vkey.split("+", 2)
    other_id = f"{int(id_hex, 16) ^ 1:08x}"
    log_skey, _ = generate_key("witness.example")
    refused = {
        "no private prefix": (Cosigner, skey.removeprefix("PRIVATE+KEY+")),
        "another key id": (Cosigner, skey.replace(f"+{id_hex}+", f"+{other_id}+")),
        "a log's key": (Cosigner, log_skey),
        "a verifier key's id": (CosignerVerifier, f"{name}+{other_id}+{material}"),
    }
    for why, (kind, key) in refused.items():
        with pytest.raises(NoteError):
            kind.from_key(key)
            pytest.fail(f"accepted {why}")


def test_init_writes_an_owner_only_key_and_never_replaces_it(tmp_path):
    state = tmp_path / "witness"
    vkey = init_witness(state, "witness.example/w1")
    assert CosignerVerifier.from_key(vkey).name == "witness.example/w1"
    mode = stat.S_IMODE((state / "witness.key").stat().st_mode)
    assert mode == 0o600
    with pytest.raises(CommandError, match="never replaced") as refused:
        call_command("audit_witness", "--init", "other", "--state-dir", str(state))
    assert refused.value.returncode == 2
    out = io.StringIO()
    call_command("audit_witness", "--show-key", "--state-dir", str(state), stdout=out)
    assert out.getvalue().strip() == vkey


@pytest.fixture
def witness(tmp_path, settings):
    """A witness state directory whose key the service accepts (AUDIT_WITNESS_KEYS)."""
    state = tmp_path / "witness"
    settings.AUDIT_WITNESS_KEYS = [init_witness(state, "witness.example/w1")]
    return state


def state_of(state) -> dict:
    return json.loads((state / STATE_FILE).read_text())["logs"]["test.example/ocr-audit"]


def test_the_witness_cosigns_over_http_and_the_service_keeps_it(live_server, witness, settings):
    first = record_and_sign(4)
    code, out, err = run_witness(witness, live_server.url)
    assert code == 0, err
    assert f"cosigned test.example/ocr-audit at size {first}; submitted (201)" in out
    row = WitnessCosignature.objects.get()
    assert (row.checkpoint.size, row.witness_name) == (first, "witness.example/w1")
    assert state_of(witness)["size"] == first
    # Served publicly, with the cosignature, to anyone.
    served = live_server_get(live_server, "/api/v2/audit-log/checkpoint")
    assert served.endswith(f"— witness.example/w1 {row.signature}\n")
    # Grown: the consistency proof from the cosigned size holds, so it cosigns again.
    second = record_and_sign(5)
    code, out, err = run_witness(witness, live_server.url)
    assert code == 0, err
    assert state_of(witness)["size"] == second
    assert WitnessCosignature.objects.filter(checkpoint__size=second).count() == 1
    # Unchanged: nothing new to cosign, the same cosignature is resubmitted.
    code, out, _ = run_witness(witness, live_server.url)
    assert (code, "already cosigned" in out, "submitted (200)" in out) == (0, True, True)
    assert WitnessCosignature.objects.count() == 2
    # The witness keeps every note it cosigned beside its state.
    kept = WitnessState(witness).cosigned_path("test.example/ocr-audit", second)
    assert kept.read_text().startswith(TreeCheckpoint.objects.get(size=second).note)


def live_server_get(live_server, path: str) -> str:
    with urllib.request.urlopen(live_server.url + path) as response:  # noqa: S310
        return response.read().decode()


def test_verify_requires_witness_cosignatures_on_the_newest_checkpoint(
    live_server, witness, settings
):
    record_and_sign(4)
    assert verify("--require-witnesses", "1")[0] == 5  # not cosigned yet
    assert run_witness(witness, live_server.url)[0] == 0
    code, output = verify("--require-witnesses", "1")
    assert code == 0, output
    assert "1 valid witness cosignature (witness.example/w1), 1 required" in output
    # A second witness configured but silent: two required is a shortfall, exit 5.
    other = init_witness(witness.parent / "w2", "witness.example/w2")
    settings.AUDIT_WITNESS_KEYS = [*settings.AUDIT_WITNESS_KEYS, other]
    code, output = verify("--require-witnesses", "2")
    assert code == 5, output
    assert "has 1 of the 2 witness cosignatures required" in output
    # The setting is the default; a newer checkpoint nobody cosigned is a shortfall too.
    settings.AUDIT_REQUIRE_WITNESSES = 1
    assert verify()[0] == 0
    record_and_sign(1)
    assert verify()[0] == 5
    # A range is held against the first checkpoint that covers it.
    assert verify("--to", "4")[0] == 0


def test_the_witness_refuses_a_rollback_a_split_view_and_a_rewrite(live_server, witness):
    record_and_sign(4)
    witnessed = record_and_sign(4)
    assert run_witness(witness, live_server.url)[0] == 0
    before = (witness / STATE_FILE).read_text()
    ring = key_ring()

    # Split view: event #6 rewritten with the chain key, the tree rebuilt, and the
    # checkpoint of the same size signed again with the real log key.
    raw_sql("UPDATE {table} SET message = 'rewritten' WHERE sequence = 6")
    rehash_from(6, key=ring.signing)
    rebuild_tree_from(6)
    drop_checkpoints(above=witnessed - 1)
    assert sign_tree_head().size == witnessed
    code, _, err = run_witness(witness, live_server.url)
    assert code == 1
    assert "ALERT split view: test.example/ocr-audit" in err

    # Rewritten history at a larger size: the consistency proof fails.
    record(1)
    assert sign_tree_head().size == witnessed + 1
    code, _, err = run_witness(witness, live_server.url)
    assert code == 1
    assert "ALERT inconsistent" in err and "history rewritten" in err

    # Rollback: the service shows an older, smaller checkpoint.
    drop_checkpoints(above=4)
    code, _, err = run_witness(witness, live_server.url)
    assert code == 1
    assert "ALERT rollback" in err and "smaller than the 8 already cosigned" in err

    # Nothing was cosigned, the state did not move, no secret in an alert line.
    assert (witness / STATE_FILE).read_text() == before
    assert WitnessCosignature.objects.filter(checkpoint__size__gt=witnessed).count() == 0
    assert "PRIVATE" not in err


def test_a_witness_whose_state_was_rolled_back_stops_rather_than_cosign_a_fork(
    live_server, witness
):
    # The witness host restored from an older backup: its state remembers size 4 though
    # it cosigned 8. A log that rewrote #6 on would pass the consistency check from 4.
    first = record_and_sign(4)
    assert run_witness(witness, live_server.url)[0] == 0
    older = (witness / STATE_FILE).read_text()
    record_and_sign(4)
    assert run_witness(witness, live_server.url)[0] == 0
    (witness / STATE_FILE).write_text(older)
    raw_sql("UPDATE {table} SET message = 'rewritten' WHERE sequence = 6")
    rehash_from(6, key=key_ring().signing)
    rebuild_tree_from(6)
    drop_checkpoints(above=first)
    record(1)
    assert sign_tree_head().size == 9

    code, _, err = run_witness(witness, live_server.url)

    assert code == 2, err
    assert "remembers size 4, but this witness cosigned size 8" in err
    assert WitnessCosignature.objects.filter(checkpoint__size=9).count() == 0
    # Lost altogether: the same.
    (witness / STATE_FILE).unlink()
    code, _, err = run_witness(witness, live_server.url)
    assert code == 2 and "remembers no size" in err, err


def test_the_witness_loop_keeps_refusing_and_alerting(live_server, witness, caplog):
    record_and_sign(3)
    assert run_witness(witness, live_server.url)[0] == 0
    drop_checkpoints(above=0)
    raw_sql("UPDATE {table} SET message = 'x' WHERE sequence = 2")
    rehash_from(2, key=key_ring().signing)
    rebuild_tree_from(2)
    sign_tree_head()
    command = Command()
    state = WitnessState(witness)
    rounds = [
        command.round(
            client=LogClient(live_server.url),
            state=state,
            cosigner=state.cosigner(),
            keys=[Verifier.from_key(log_key())],
            origin="test.example/ocr-audit",
            submit=True,
        )
        for _ in range(3)
    ]
    assert rounds == [1, 1, 1]
    alerts = [r.message for r in caplog.records if r.name == "audit_witness"]
    assert len(alerts) == 3 and all(a.startswith("ALERT split view") for a in alerts)


def test_the_witness_refuses_a_checkpoint_the_log_key_did_not_sign(live_server, witness):
    record(3)
    forged_key, _ = generate_key("test.example/ocr-audit")

    store = DatabaseNodeStore()
    root = root_hash(store, size=store.size())
    note = sign_note(
        Checkpoint("test.example/ocr-audit", store.size(), root).text(),
        signers=[Signer.from_key(forged_key)],
    )
    insert_tree_checkpoint(size=store.size(), root_hash=root, note=note)
    code, _, err = run_witness(witness, live_server.url)
    assert code == 1
    assert "ALERT bad signature" in err
    assert not (witness / STATE_FILE).exists()


def test_the_witness_cannot_run_without_its_key_or_the_log(tmp_path, live_server):
    code, _, err = run_witness(tmp_path / "none", live_server.url)
    assert code == 2 and "audit_witness --init" in err
    init_witness(tmp_path / "w", "w")
    code, _, err = run_witness(tmp_path / "w", "http://127.0.0.1:9")
    assert code == 2 and "cannot be reached" in err
    code, _, err = run_witness(tmp_path / "w", "file:///etc/passwd")
    assert code == 2 and "http(s)" in err


def test_the_offline_verifier_requires_witness_cosignatures(live_server, witness, tmp_path):
    size = record_and_sign(5)
    export = tmp_path / "events.ndjson"
    export.write_text(
        "".join(ndjson_lines(rows(AuditEvent.objects.order_by("sequence"), columns=NDJSON_COLUMNS)))
    )
    key_file = tmp_path / "audit-log-key.txt"
    key_file.write_text(log_key() + "\n")
    witness_key = WitnessState(witness).cosigner().verifier().key()
    log_files = str(Path(settings_dir()))
    base = ["--key", str(key_file), "--export", str(export), "--witness-key", witness_key]
    # The log's own files carry no cosignature: unwitnessed, exit 3.
    code, verdict = offline([*base, "--checkpoints", log_files, "--require-witnesses", "1"])
    assert code == 3, verdict
    assert f"size {size}) has 0 of the 1 witness cosignatures required" in verdict
    # The cosigned copy, from the witness or the public endpoint, is witnessed.
    assert run_witness(witness, live_server.url)[0] == 0
    cosigned = WitnessState(witness).cosigned_path("test.example/ocr-audit", size)
    code, verdict = offline(
        [*base, "--checkpoints", log_files, str(cosigned), "--require-witnesses", "1"]
    )
    assert code == 0, verdict
    assert "witnessed by 1 or more" in verdict
    # Two required of one key is bad input; a tampered cosignature counts for nothing.
    code, _ = offline([*base, "--checkpoints", str(cosigned), "--require-witnesses", "2"])
    assert code == 2
    forged = tmp_path / "tree-forged.checkpoint"
    text = cosigned.read_text()
    head, _, line = text.rstrip("\n").rpartition("\n")
    name, encoded = line.removeprefix("— ").split(" ")
    raw = bytearray(base64.b64decode(encoded))
    raw[-1] ^= 1
    forged.write_text(f"{head}\n— {name} {base64.b64encode(bytes(raw)).decode()}\n")
    code, verdict = offline([*base, "--checkpoints", str(forged), "--require-witnesses", "1"])
    assert code == 3, verdict


def settings_dir() -> str:
    return django_settings.AUDIT_CHECKPOINT_DIR


def test_the_cosignature_endpoint_refuses_what_it_cannot_verify(live_server, witness, client):
    size = record_and_sign(3)
    note = TreeCheckpoint.objects.get(size=size).note
    post = lambda body: client.post(  # noqa: E731
        "/api/v2/audit-log/cosignatures", data=body, content_type="text/plain"
    )
    assert post("not a note").status_code == 400
    # Signed by the log, but no witness line: 403; by an unconfigured witness: 403.
    assert post(note).status_code == 403
    stranger, _ = generate_cosigner_key("stranger.example")
    line = Cosigner.from_key(stranger).cosign(note[: note.rfind("\n\n") + 1], timestamp=1).line()
    assert post(note + line).status_code == 403
    # Signed by the log key, cosigned by our witness, but another root for a stored size
    # (a split view shown to the witness): 409; a size never stored: 404.
    ours = WitnessState(witness).cosigner()
    for other_size, status in ((size, 409), (size + 5, 404)):
        text = Checkpoint("test.example/ocr-audit", other_size, b"\x07" * 32).text()
        signed = sign_note(text, signers=[load_signer()])
        assert post(signed + ours.cosign(text, timestamp=1).line()).status_code == status
    assert WitnessCosignature.objects.count() == 0
    # JSON is 415: the body is the signed note.
    response = client.post(
        "/api/v2/audit-log/cosignatures", data={}, content_type="application/json"
    )
    assert response.status_code == 415
    # Public reads need no login; a bad size is a 400 naming it.
    assert client.get("/api/v2/audit-log/consistency?from=99").status_code == 400
    assert client.get("/api/v2/audit-log/consistency?from=1").json()["to"] == size


def test_the_public_checkpoint_is_404_before_the_first(db, client):
    response = client.get("/api/v2/audit-log/checkpoint")
    assert response.status_code == 404
