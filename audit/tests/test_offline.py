"""The offline verifier, run as an auditor runs it: its package pip-installed into a fresh
virtualenv that holds cryptography and nothing else."""

import gzip
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from audit.api.export import NDJSON_COLUMNS, ndjson_lines, rows
from audit.models import AuditEvent
from audit.recording.client import ClientContext
from audit.retention import write_archive
from audit.services import record_event
from audit.tests.fixtures import drain_sealer
from audit.transparency.keys import verifiers
from audit.transparency.node_store import DatabaseNodeStore
from audit.transparency.tree_heads import checkpoint_file_name, sign_tree_head
from audit.transparency.verifier import exports, offline
from audit.transparency.verifier.merkle import leaf_hash
from audit.transparency.verifier.signed_note import Checkpoint, Signer, generate_key, sign_note

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "audit" / "transparency" / "verifier"
URL = "/api/v2/admin/audit-logs"
# One exported line as the service writes it (audit/export.py's layout).
EVENT = {
    "id": 2,
    "sequence": 2,
    "timestamp": "2026-01-01T00:00:00.037000Z",
    "event_type": "task_create",
    "category": "task",
    "outcome": "success",
    "user_id": None,
    "username": "alice",
    "ip_address": None,
    "user_agent": "Mozilla/5.0",
    "request_id": "req-1",
    "resource_type": "task",
    "resource_id": "1",
    "message": "Task 1",
    "metadata": {"b": 1, "a": [1.0, None, "x"]},
    "prev_hash": "0" * 64,
    "leaf_index": 1,
}


def with_requirements(name: str) -> list[metadata.Distribution]:
    """Return the installed distribution `name` and those it needs here, recursively."""
    found: dict[str, metadata.Distribution] = {}
    pending = [name]
    while pending:
        dist = metadata.distribution(pending.pop())
        if dist.name in found:
            continue
        found[dist.name] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return list(found.values())


@pytest.fixture(scope="session")
def auditor_command(tmp_path_factory) -> Path:
    """Return `ocr-audit-verify` as pip installs it into a fresh virtualenv without Django.

    The virtualenv sees none of this one's packages (no --system-site-packages) except
    cryptography and what it needs: links to their installed files in a directory of
    their own, which a .pth file puts on the fresh virtualenv's path. So pip finds
    cryptography installed and the test needs no network and no wheel from a registry
    (pip cannot make a wheel back from an installed distribution). The package itself is
    installed as an auditor installs it, `pip install --no-index <its directory>`, built
    by its own stdlib-only backend.
    """
    base = tmp_path_factory.mktemp("auditor")
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True)
    python = base / "venv" / "bin" / "python"
    shared = base / "cryptography-only"
    shared.mkdir()
    for dist in with_requirements("cryptography"):
        for top in {Path(str(file)).parts[0] for file in dist.files or []}:
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (shared / top).exists() and top != "..":
                (shared / top).symlink_to(source)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "cryptography-only.pth").write_text(f"{shared}\n")
    subprocess.run(
        # --isolated: no pip configuration or PIP_* variable adds a place to look.
        [str(python), "-m", "pip", "--isolated", "install", "--quiet", "--no-index", str(PACKAGE)],
        check=True,
    )
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    installed = {line.split("==")[0].lower() for line in listed.split()}
    assert installed == {"cffi", "cryptography", "ocr-audit-verifier", "pip", "pycparser"}
    no_django = subprocess.run([str(python), "-c", "import django"], capture_output=True)
    assert no_django.returncode != 0  # the verifier cannot lean on it unnoticed
    return base / "venv" / "bin" / "ocr-audit-verify"


def run_offline(auditor_command, *arguments: str) -> tuple[int, str]:
    result = subprocess.run(
        [str(auditor_command), *arguments],
        capture_output=True,
        text=True,
        cwd=auditor_command.parent,  # not the project: only the virtualenv can be imported
        env={"PATH": os.environ.get("PATH", "")},
    )
    return result.returncode, result.stdout + result.stderr


def record_some(count: int) -> None:
    for number in range(count):
        record_event(
            event_type="task_create",
            client=ClientContext(
                None if number % 2 else "2001:db8::7", 'agent "q" \\', f"r{number}"
            ),
            resource_type="task",
            resource_id=number,
            message=f"東京 line\n{number}\t\x01",
            metadata={"ratio": 0.1, "tiny": 1e-07, "big": 1e300, "n": [1, {"ü": None}]},
        )
    drain_sealer()


@pytest.fixture
def trail(db, settings, tmp_path) -> dict:
    """14 events, signed at sizes 4, 5, 8 and 12; its export, checkpoint files and key."""
    for count in (4, 1, 3, 4):
        record_some(count)
        assert sign_tree_head() is not None
    record_some(2)  # past the newest checkpoint
    export = tmp_path / "events.ndjson"
    export.write_text(
        "".join(
            ndjson_lines(rows(AuditEvent.objects.order_by("sequence"), columns=NDJSON_COLUMNS))
        ),
        encoding="utf-8",
    )
    key = tmp_path / "audit-log-key.txt"
    key.write_text(verifiers()[0].key() + "\n")
    return {"export": export, "checkpoints": Path(settings.AUDIT_CHECKPOINT_DIR), "key": key}


def export_run(auditor_command, trail, export: Path | None = None, *more: str) -> tuple[int, str]:
    return run_offline(
        auditor_command,
        "--key",
        str(trail["key"]),
        "--checkpoints",
        str(trail["checkpoints"]),
        "--export",
        str(export or trail["export"]),
        *more,
    )


def lines_of(trail) -> list[dict]:
    return [json.loads(line) for line in trail["export"].read_text(encoding="utf-8").splitlines()]


def write_lines(path: Path, documents: list[dict]) -> Path:
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents), "utf-8")
    return path


def test_the_leaves_rebuilt_from_the_export_are_the_servers(trail):
    documents = lines_of(trail)
    stored = DatabaseNodeStore().get_nodes([(0, index) for index in range(len(documents))])
    assert [leaf_hash(exports.leaf_bytes(document)) for document in documents] == stored


def test_the_services_lines_take_the_fast_way_to_the_same_leaves(trail):
    lines = trail["export"].read_bytes().splitlines(keepends=True)
    fast = [exports.fast_leaf_bytes(line) for line in lines]
    assert None not in fast
    reference = [exports.leaf_bytes(json.loads(line)) for line in lines]
    assert [leaf for leaf, _, _ in fast] == reference
    assert [(sequence, index) for _, sequence, index in fast] == [
        (number, number - 1) for number in range(1, len(lines) + 1)
    ]


@pytest.mark.parametrize(
    ("original", "written"),
    [
        ('"Task 1"', '"Task \\u0031"'),  # an escape the encoder does not write
        ('"req-1"', '"req\\/1"'),  # another
        ('"username": ', '"username":'),  # another separator
        ('"leaf_index": 1}', '"leaf_index": 1, "extra": true}'),  # a field more
        ('"metadata": {', '"metadata": ['),  # metadata that is no JSON: not a line at all
    ],
)
def test_a_line_not_in_the_services_layout_takes_the_reference_way(original, written):
    line = json.dumps(EVENT, ensure_ascii=False).replace(original, written, 1).encode()
    assert exports.fast_leaf_bytes(line) is None
    block = exports.hash_block("x.ndjson", 1, line + b"\n")
    try:
        reference = exports.leaf_bytes(json.loads(line))
    except ValueError:
        assert block.problem is not None and block.problem[:2] == ("bad", 1)
        return
    assert block.problem is None
    assert block.leaves == leaf_hash(reference)


def test_the_fast_way_copies_escapes_only_as_the_encoder_writes_them():
    for text in ('a "q" \\ b', "tab\tnl\nnul\x00 us\x1f del\x7f", "東京 \u2028 é", ""):
        event = {**EVENT, "message": text, "username": text, "metadata": {"k": [text, 1.5]}}
        line = json.dumps(event, ensure_ascii=False).encode()
        fast = exports.fast_leaf_bytes(line)
        assert fast is not None, line
        assert fast[0] == exports.leaf_bytes(json.loads(line))
    # Valid JSON, the same message, but not the encoder's spelling: the reference way.
    escaped = json.dumps({**EVENT, "message": "東京"})  # ensure_ascii: \\u6771\\u4eac
    assert exports.fast_leaf_bytes(escaped.encode()) is None
    assert exports.hash_block("x", 1, escaped.encode()).leaves == leaf_hash(
        exports.leaf_bytes({**EVENT, "message": "東京"})
    )


def test_an_untouched_export_verifies(auditor_command, trail):
    code, out = export_run(auditor_command, trail)
    assert code == 0, out
    assert "OK: leaves 0..11 (12 events) reproduce 4 signed checkpoint(s)" in out
    assert "leaves 12..13 are past the newest checkpoint and not verified" in out


def test_a_gzipped_export_verifies(auditor_command, trail, tmp_path):
    packed = tmp_path / "events.ndjson.gz"
    packed.write_bytes(gzip.compress(trail["export"].read_bytes()))
    assert export_run(auditor_command, trail, packed)[0] == 0


def test_an_altered_field_is_a_mismatch_naming_its_leaf(auditor_command, trail, tmp_path):
    documents = lines_of(trail)
    documents[4]["message"] = "nothing happened"
    code, out = export_run(auditor_command, trail, write_lines(tmp_path / "x.ndjson", documents))
    assert code == 1, out
    assert "the first bad leaf is leaf_index 4" in out
    assert checkpoint_file_name(5) in out


def test_an_altered_field_between_distant_checkpoints_names_the_range(
    auditor_command, trail, tmp_path
):
    documents = lines_of(trail)
    documents[9]["metadata"]["ratio"] = 0.2
    code, out = export_run(auditor_command, trail, write_lines(tmp_path / "x.ndjson", documents))
    assert code == 1, out
    assert "the first bad leaf is a leaf_index in 8..11" in out


def test_an_event_removed_from_the_middle_is_missing(auditor_command, trail, tmp_path):
    documents = lines_of(trail)
    del documents[6]
    code, out = export_run(auditor_command, trail, write_lines(tmp_path / "x.ndjson", documents))
    assert code == 4, out
    assert "MISSING: leaf_index 6 is missing: the export goes from 5 to 7" in out


def test_two_events_swapped_are_out_of_order(auditor_command, trail, tmp_path):
    documents = lines_of(trail)
    documents[6], documents[7] = documents[7], documents[6]
    code, out = export_run(auditor_command, trail, write_lines(tmp_path / "x.ndjson", documents))
    assert code == 5, out
    assert "REORDERED: leaf_index 6 comes later than 7" in out


def test_an_event_moved_back_or_repeated_is_out_of_order(auditor_command, trail, tmp_path):
    documents = lines_of(trail)
    documents.insert(9, documents[3])
    code, out = export_run(auditor_command, trail, write_lines(tmp_path / "x.ndjson", documents))
    assert code == 5, out
    assert "leaf_index 3 comes again or out of order after 8" in out


def test_the_exit_codes_of_a_tampered_export_differ_by_case(auditor_command, trail, tmp_path):
    """Altered, removed, reordered: each its own exit code, an auditor's script can tell."""
    codes = set()
    for number, tamper in enumerate(
        (
            lambda d: d[2].update(outcome="failure"),
            lambda d: d.pop(2),
            lambda d: d.insert(3, d.pop(2)),
        )
    ):
        documents = lines_of(trail)
        tamper(documents)
        path = write_lines(tmp_path / f"{number}.ndjson", documents)
        codes.add(export_run(auditor_command, trail, path)[0])
    assert codes == {1, 4, 5}


def test_a_tail_cut_below_the_newest_checkpoint_is_missing(auditor_command, trail, tmp_path):
    documents = lines_of(trail)[:10]
    code, out = export_run(auditor_command, trail, write_lines(tmp_path / "x.ndjson", documents))
    assert code == 4, out
    assert "signs 12 leaves: leaf_index 10 is missing" in out


def test_a_checkpoint_by_another_key_is_bad_input(auditor_command, trail):
    other = Signer.from_key(generate_key("test.example/ocr-audit")[0])
    note = sign_note(Checkpoint("test.example/ocr-audit", 12, b"\x07" * 32).text(), signers=[other])
    (trail["checkpoints"] / checkpoint_file_name(12)).write_text(note)
    code, out = export_run(auditor_command, trail)
    assert code == 2, out
    assert f"{checkpoint_file_name(12)}: the note has no signature by a known key" in out


def test_an_export_not_from_leaf_0_is_refused(auditor_command, trail, tmp_path):
    documents = lines_of(trail)[5:]
    code, out = export_run(auditor_command, trail, write_lines(tmp_path / "x.ndjson", documents))
    assert code == 2, out
    assert "the full export, from leaf_index 0, is required" in out


def test_one_event_verifies_by_its_proof(auditor_command, trail, staff_client, tmp_path):
    documents = lines_of(trail)
    proof = tmp_path / "proof.json"
    proof.write_text(staff_client.get(f"{URL}/{documents[9]['id']}/proof").content.decode())
    line = json.dumps(documents[9], ensure_ascii=False)
    arguments = ("--key", str(trail["key"]), "--proof", str(proof))
    code, out = run_offline(auditor_command, *arguments, "--event", line)
    assert code == 0, out
    assert "leaf_index 9 is in the tree of size 12" in out
    documents[9]["username"] = "someone else"
    code, out = run_offline(
        auditor_command, *arguments, "--event", json.dumps(documents[9], ensure_ascii=False)
    )
    assert code == 1, out
    assert "leaf_index 9: the event's fields are not those the proof hashes" in out


def test_a_retention_archive_then_the_rest_of_the_export_verifies(auditor_command, trail, tmp_path):
    archive = tmp_path / "audit-archive.ndjson.gz"
    write_archive(archive, first=1, last=5)  # what retention writes before it deletes
    rest = write_lines(tmp_path / "rest.ndjson", lines_of(trail)[5:])
    code, out = run_offline(
        auditor_command,
        "--key",
        str(trail["key"]),
        "--checkpoints",
        str(trail["checkpoints"]),
        "--export",
        str(archive),
        str(rest),
    )
    assert code == 0, out
    assert "OK: leaves 0..11 (12 events)" in out


def test_a_line_that_is_no_utf8_is_bad_input(auditor_command, trail, tmp_path):
    data = trail["export"].read_bytes().replace("東京".encode(), b"\xff\xfe", 1)
    path = tmp_path / "x.ndjson"
    path.write_bytes(data)
    code, out = export_run(auditor_command, trail, path)
    assert code == 2, out
    assert "x.ndjson line 1 is not UTF-8" in out


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of two or three lines, hashed by a pool of two processes (--jobs 2)."""
    monkeypatch.setattr(exports, "BLOCK_BYTES", 1500)
    monkeypatch.setattr(exports, "POOL_MIN_BLOCKS", 2)


@pytest.mark.parametrize(
    ("tamper", "code", "verdict"),
    [
        (lambda d: None, 0, "OK: leaves 0..11 (12 events)"),
        (lambda d: d[10].update(message="x"), 1, "the first bad leaf is a leaf_index in 8..11"),
        (lambda d: d.pop(8), 4, "leaf_index 8 is missing"),
        (lambda d: d.insert(11, d.pop(2)), 5, "leaf_index 2 comes later than 3"),
        (lambda d: d.insert(12, d[3]), 5, "leaf_index 3 comes again"),
    ],
)
def test_a_pool_of_processes_finds_what_one_finds(
    trail, tmp_path, small_blocks, tamper, code, verdict
):
    documents = lines_of(trail)
    tamper(documents)
    path = write_lines(tmp_path / "x.ndjson", documents)
    packed = tmp_path / "x.ndjson.gz"  # read by the parent, not by each worker
    packed.write_bytes(gzip.compress(path.read_bytes()))
    arguments = ["--key", str(trail["key"]), "--checkpoints", str(trail["checkpoints"])]
    results = [
        offline.run([*arguments, "--export", str(export), "--jobs", jobs])
        for export in (path, packed)
        for jobs in ("1", "2")
    ]
    assert results[0] == results[1]
    assert [code for code, _ in results[2:]] == [code, code]
    assert results[0][0] == code, results[0][1]
    assert verdict in results[0][1]
    assert len(list(exports.read_blocks([str(path)]))) > 4


def test_spawned_workers_give_the_verdict_too(trail, tmp_path, small_blocks, monkeypatch):
    """Where fork is unsafe (another thread runs) the workers are spawned: same verdict."""
    monkeypatch.setattr(exports.threading, "active_count", lambda: 2)
    documents = lines_of(trail)
    del documents[8]
    path = write_lines(tmp_path / "x.ndjson", documents)
    arguments = ["--key", str(trail["key"]), "--checkpoints", str(trail["checkpoints"])]
    code, out = offline.run([*arguments, "--export", str(path), "--jobs", "2"])
    assert code == 4, out
    assert "leaf_index 8 is missing" in out


def rewrite_line(trail, tmp_path, number: int, old: str, new: str) -> Path:
    """Return an export whose line `number` (0-based) has `old` replaced by `new`, once."""
    lines = trail["export"].read_text(encoding="utf-8").splitlines(keepends=True)
    assert old in lines[number]
    lines[number] = lines[number].replace(old, new, 1)
    path = tmp_path / "x.ndjson"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def offline_export_run(trail, export: Path, *more: str) -> tuple[int, str]:
    """The command in this process: an exception escaping it fails the test, as it should."""
    arguments = ["--key", str(trail["key"]), "--checkpoints", str(trail["checkpoints"])]
    return offline.run([*arguments, "--export", str(export), *more])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # More digits than int() reads (4,300): a ValueError of its own, once a traceback.
        ('"sequence": 4, ', '"sequence": ' + "9" * 5000 + ", "),
        ('"leaf_index": 3}', '"leaf_index": ' + "9" * 5000 + "}"),
        # Nested deeper than json decodes (RecursionError), once a traceback.
        ('"metadata": {', '"metadata": ' + "[" * 10_000 + "]" * 10_000 + ', "was": {'),
    ],
    ids=["endless sequence", "endless leaf_index", "metadata nested too deep"],
)
def test_a_line_the_decoder_cannot_read_is_bad_input(trail, tmp_path, old, new):
    for jobs in ("1", "2"):
        code, out = offline_export_run(
            trail, rewrite_line(trail, tmp_path, 3, old, new), "--jobs", jobs
        )
        assert code == 2, out
        assert out.startswith("BAD INPUT: ") and "x.ndjson line 4" in out, out


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # json.loads keeps the last of two names, another reader the first: the line must
        # not show one username to an auditor's tool and hash another.
        ('{"id": ', '{"username": "mallory", "id": '),
        ('"metadata": {', '"metadata": {"ratio": 7, '),
    ],
    ids=["a field twice", "a metadata key twice"],
)
def test_a_name_twice_in_one_object_is_bad_input(trail, tmp_path, old, new):
    code, out = offline_export_run(trail, rewrite_line(trail, tmp_path, 2, old, new))
    assert code == 2, out
    assert "x.ndjson line 3: not JSON: the name" in out and "appears twice" in out, out


def test_a_checkpoint_whose_size_has_thousands_of_digits_is_bad_input(trail):
    # Parsed before its signature is checked (to learn the origin): int() of it was a
    # ValueError, not a NoteError, and stopped the command with a traceback.
    origin = offline.read_checkpoints(
        [str(trail["checkpoints"])],
        verifiers=offline.read_verifiers(str(trail["key"])),
        origin=None,
    )[0].checkpoint.origin
    note = f"{origin}\n{'9' * 5000}\n{'A' * 43}=\n\n— {origin} AAAAAAAA\n"
    (trail["checkpoints"] / "tree-99999999999999999999.checkpoint").write_text(note)
    code, out = offline_export_run(trail, trail["export"])
    assert code == 2, out
    assert "the size is beyond 2^64 - 1" in out


def test_an_event_nested_too_deep_is_bad_input(trail):
    deep = json.dumps({**EVENT, "metadata": "-"}).replace('"-"', "[" * 10_000 + "]" * 10_000)
    arguments = ["--key", str(trail["key"]), "--proof", '{"tree_size": 1, "proof": []}']
    code, out = offline.run([*arguments, "--event", deep])
    assert code == 2, out
    assert "nested too deeply" in out
