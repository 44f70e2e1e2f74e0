"""The tamper matrix, witness cases: what a witness refuses and what verification says.

Every case starts from one trail: 4 events signed and cosigned, 4 more signed and
cosigned (the witness's last size is 8), over real HTTP (live server). Attackers:
- "chain key": database write access and AUDIT_CHAIN_KEYS (a web host), no log key;
- "log key": the above and the checkpoint signer key (the worker host).
Each case states what the witness answers (exit 1 and its ALERT kind, or 0) and what
verify_audit_chain answers with the checkpoint directory (1 when it detects).
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from audit.chain import key_ring
from audit.tests.tamper import insert_tree_checkpoint, raw_sql, rebuild_tree_from, rehash_from
from audit.tests.witnessing import (
    drop_checkpoints,
    init_witness,
    record,
    record_and_sign,
    run_witness,
    verify,
)
from audit.transparency.node_store import DatabaseNodeStore
from audit.transparency.tree_heads import sign_tree_head
from audit.transparency.verifier.merkle import root_hash
from audit.transparency.verifier.signed_note import Checkpoint, Signer, generate_key, sign_note

WITNESSED = 8


def rewrite(sequence: int) -> None:
    """Change an event, re-link it and every later one with the chain key, rebuild the tree."""
    raw_sql("UPDATE {table} SET message = 'rewritten' WHERE sequence = %s", [sequence])
    rehash_from(sequence, key=key_ring().signing)
    rebuild_tree_from(sequence)


def forge_checkpoint_with_own_key(url: str, state: Path) -> None:
    rewrite(6)
    drop_checkpoints(above=0)
    skey, _ = generate_key("test.example/ocr-audit")  # the log's name, another key
    store = DatabaseNodeStore()
    size, root = store.size(), root_hash(store, size=store.size())
    note = sign_note(
        Checkpoint("test.example/ocr-audit", size, root).text(), signers=[Signer.from_key(skey)]
    )
    insert_tree_checkpoint(size=size, root_hash=root, note=note)


def rewrite_and_sign_larger(url: str, state: Path) -> None:
    rewrite(6)
    drop_checkpoints(above=0)
    record(1)
    sign_tree_head()  # the real log key


def rewrite_and_sign_same_size(url: str, state: Path) -> None:
    rewrite(6)
    drop_checkpoints(above=0)
    sign_tree_head()


def roll_back(url: str, state: Path) -> None:
    drop_checkpoints(above=4)


def rewrite_after_the_witnessed_one_once_it_cosigned_the_next(url: str, state: Path) -> None:
    record_and_sign(4)  # one signing period later: size 12, cosigned at the next round
    assert run_witness(state, url)[0] == 0
    rewrite(10)
    drop_checkpoints(above=WITNESSED)
    record(1)
    sign_tree_head()


def rewrite_after_the_witnessed_one_before_it_cosigned_the_next(url: str, state: Path) -> None:
    record_and_sign(4)  # size 12 signed, its file written; the witness has not run yet
    rewrite(10)
    drop_checkpoints(above=WITNESSED)
    record(1)
    sign_tree_head()


@dataclass(frozen=True)
class Case:
    name: str
    attacker: str
    tamper: Callable[[str, Path], None]
    alert: str | None  # the witness's ALERT kind, None when it cosigns
    verify_detects: bool


CASES = [
    Case(
        "forge a checkpoint with a key of one's own",
        "chain key",
        forge_checkpoint_with_own_key,
        "bad signature",
        True,
    ),
    Case(
        "rewrite the history, sign a larger checkpoint",
        "log key",
        rewrite_and_sign_larger,
        "inconsistent",
        True,
    ),
    Case(
        "rewrite the history, sign the same size again",
        "log key",
        rewrite_and_sign_same_size,
        "split view",
        True,
    ),
    Case("show an older checkpoint", "log key", roll_back, "rollback", True),
    Case(
        "rewrite after the witnessed checkpoint, once the next is cosigned",
        "log key",
        rewrite_after_the_witnessed_one_once_it_cosigned_the_next,
        "inconsistent",
        True,
    ),
    Case(
        # The witness cannot tell (8 is a prefix of the new tree); the checkpoint of size
        # 12 signed within the period and kept outside the database can.
        "rewrite after the witnessed checkpoint, before the next is cosigned",
        "log key",
        rewrite_after_the_witnessed_one_before_it_cosigned_the_next,
        None,
        True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_witness_tamper_case(live_server, settings, tmp_path, case):
    state = tmp_path / "witness"
    settings.AUDIT_WITNESS_KEYS = [init_witness(state, "witness.example/w1")]
    record_and_sign(4)
    assert run_witness(state, live_server.url)[0] == 0
    assert record_and_sign(4) == WITNESSED
    assert run_witness(state, live_server.url)[0] == 0
    assert verify("--require-witnesses", "1")[0] == 0  # intact and witnessed before

    case.tamper(live_server.url, state)

    code, _, err = run_witness(state, live_server.url)
    if case.alert is None:
        assert code == 0, err
    else:
        assert code == 1, err
        assert f"ALERT {case.alert}: test.example/ocr-audit" in err
    code, output = verify("--checkpoint-dir", settings.AUDIT_CHECKPOINT_DIR)
    assert (code == 1) == case.verify_detects, output
