"""The offline verifier, run as an auditor runs it: a fresh virtualenv with cryptography only."""

import ast
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from audit.client import ClientContext
from audit.export import NDJSON_COLUMNS, ndjson_lines, rows
from audit.models import AuditEvent
from audit.retention import write_archive
from audit.services import record_event
from audit.transparency import offline
from audit.transparency.keys import verifiers
from audit.transparency.merkle import leaf_hash
from audit.transparency.node_store import DatabaseNodeStore
from audit.transparency.signed_note import Checkpoint, Signer, generate_key, sign_note
from audit.transparency.tree_heads import checkpoint_file_name, sign_tree_head

ROOT = Path(__file__).resolve().parents[2]
# What the verifier needs, and all it gets in the fresh virtualenv.
VERIFIER_FILES = (
    "audit/__init__.py",
    "audit/transparency/__init__.py",
    "audit/transparency/records.py",
    "audit/transparency/merkle.py",
    "audit/transparency/signed_note.py",
    "audit/transparency/offline.py",
)
LOCKED = ("cryptography", "cffi", "pycparser")
URL = "/api/v2/admin/audit-logs"


def locked_requirements() -> str:
    """Return requirements.txt's pinned, hashed entries for cryptography and its dependencies."""
    text = (ROOT / "requirements.txt").read_text()
    entries = re.findall(r"^([a-z][^\n]*\\\n(?:[ \t]+--hash=\S+(?: \\)?\n)+)", text, re.M)
    chosen = [entry for entry in entries if entry.split("==")[0] in LOCKED]
    assert [entry.split("==")[0] for entry in chosen] == sorted(LOCKED)
    return "".join(chosen)


@pytest.fixture(scope="session")
def auditor_python(tmp_path_factory) -> tuple[Path, Path]:
    """Return a fresh virtualenv's python (cryptography only) and a PYTHONPATH with the verifier."""
    base = tmp_path_factory.mktemp("auditor")
    requirements = base / "requirements.txt"
    requirements.write_text(locked_requirements())
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True)
    python = base / "venv" / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--require-hashes",
            "-r",
            str(requirements),
        ],
        check=True,
    )
    code = base / "code"
    for name in VERIFIER_FILES:
        (code / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, code / name)
    no_django = subprocess.run([str(python), "-c", "import django"], capture_output=True)
    assert no_django.returncode != 0  # the verifier cannot lean on it unnoticed
    return python, code


def run_offline(auditor_python, *arguments: str) -> tuple[int, str]:
    python, code = auditor_python
    result = subprocess.run(
        [str(python), "-m", "audit.transparency.offline", *arguments],
        capture_output=True,
        text=True,
        cwd=code.parent,  # not the project: only PYTHONPATH's files can be imported
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(code)},
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


def export_run(auditor_python, trail, export: Path | None = None, *more: str) -> tuple[int, str]:
    return run_offline(
        auditor_python,
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
    assert [leaf_hash(offline.leaf_bytes(document)) for document in documents] == stored


def test_the_package_inits_import_nothing():
    for name in ("audit/__init__.py", "audit/transparency/__init__.py"):
        tree = ast.parse((ROOT / name).read_text())
        assert not [
            node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
        ]


def test_an_untouched_export_verifies(auditor_python, trail):
    code, out = export_run(auditor_python, trail)
    assert code == 0, out
    assert "OK: leaves 0..11 (12 events) reproduce 4 signed checkpoint(s)" in out
    assert "leaves 12..13 are past the newest checkpoint and not verified" in out


def test_a_gzipped_export_verifies(auditor_python, trail, tmp_path):
    packed = tmp_path / "events.ndjson.gz"
    packed.write_bytes(gzip.compress(trail["export"].read_bytes()))
    assert export_run(auditor_python, trail, packed)[0] == 0


def test_an_altered_field_is_a_mismatch_naming_its_leaf(auditor_python, trail, tmp_path):
    documents = lines_of(trail)
    documents[4]["message"] = "nothing happened"
    code, out = export_run(auditor_python, trail, write_lines(tmp_path / "x.ndjson", documents))
    assert code == 1, out
    assert "the first bad leaf is leaf_index 4" in out
    assert checkpoint_file_name(5) in out


def test_an_altered_field_between_distant_checkpoints_names_the_range(
    auditor_python, trail, tmp_path
):
    documents = lines_of(trail)
    documents[9]["metadata"]["ratio"] = 0.2
    code, out = export_run(auditor_python, trail, write_lines(tmp_path / "x.ndjson", documents))
    assert code == 1, out
    assert "the first bad leaf is a leaf_index in 8..11" in out


def test_an_event_removed_from_the_middle_is_a_mismatch(auditor_python, trail, tmp_path):
    documents = lines_of(trail)
    del documents[6]
    code, out = export_run(auditor_python, trail, write_lines(tmp_path / "x.ndjson", documents))
    assert code == 1, out
    assert "leaf_index 6 is missing" in out


def test_a_tail_cut_below_the_newest_checkpoint_is_a_mismatch(auditor_python, trail, tmp_path):
    documents = lines_of(trail)[:10]
    code, out = export_run(auditor_python, trail, write_lines(tmp_path / "x.ndjson", documents))
    assert code == 1, out
    assert "signs 12 leaves: leaf_index 10 is missing" in out


def test_a_checkpoint_by_another_key_is_bad_input(auditor_python, trail):
    other = Signer.from_key(generate_key("test.example/ocr-audit")[0])
    note = sign_note(Checkpoint("test.example/ocr-audit", 12, b"\x07" * 32).text(), signers=[other])
    (trail["checkpoints"] / checkpoint_file_name(12)).write_text(note)
    code, out = export_run(auditor_python, trail)
    assert code == 2, out
    assert f"{checkpoint_file_name(12)}: the note has no signature by a known key" in out


def test_an_export_not_from_leaf_0_is_refused(auditor_python, trail, tmp_path):
    documents = lines_of(trail)[5:]
    code, out = export_run(auditor_python, trail, write_lines(tmp_path / "x.ndjson", documents))
    assert code == 2, out
    assert "the full export, from leaf_index 0, is required" in out


def test_one_event_verifies_by_its_proof(auditor_python, trail, staff_client, tmp_path):
    documents = lines_of(trail)
    proof = tmp_path / "proof.json"
    proof.write_text(staff_client.get(f"{URL}/{documents[9]['id']}/proof").content.decode())
    line = json.dumps(documents[9], ensure_ascii=False)
    arguments = ("--key", str(trail["key"]), "--proof", str(proof))
    code, out = run_offline(auditor_python, *arguments, "--event", line)
    assert code == 0, out
    assert "leaf_index 9 is in the tree of size 12" in out
    documents[9]["username"] = "someone else"
    code, out = run_offline(
        auditor_python, *arguments, "--event", json.dumps(documents[9], ensure_ascii=False)
    )
    assert code == 1, out
    assert "leaf_index 9: the event's fields are not those the proof hashes" in out


def test_a_retention_archive_then_the_rest_of_the_export_verifies(auditor_python, trail, tmp_path):
    archive = tmp_path / "audit-archive.ndjson.gz"
    write_archive(archive, first=1, last=5)  # what retention writes before it deletes
    rest = write_lines(tmp_path / "rest.ndjson", lines_of(trail)[5:])
    code, out = run_offline(
        auditor_python,
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
