"""C2SP signed notes and checkpoints, checked against the Go checksum database's notes.

The keys, texts and signatures are golang.org/x/mod's and C2SP's (sources and licences in
audit/tests/vectors/signed_note.json): an independent implementation produced them, so
matching them byte for byte means their tools read our notes and we read theirs.
"""

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from audit.transparency.verifier.merkle import (
    MemoryNodeStore,
    append_leaves,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from audit.transparency.verifier.signed_note import (
    MAX_SIGNATURES,
    Checkpoint,
    InvalidNoteSignature,
    NoteError,
    Signature,
    Signer,
    UnverifiedNote,
    Verifier,
    generate_key,
    key_id,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    sign_note,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "signed_note.json").read_text())
GO = VECTORS["golang_mod"]
TEXT = GO["text"]
PETER_LINE = GO["signature_line"]
ENOCH_LINE = GO["other_signature_line"]
PETER = Verifier.from_key(GO["verifier_key"])
ENOCH = Verifier.from_key(GO["other_verifier_key"])
PETER_SIGNATURE = Signature("PeterNeumann", 0xC74F20A3, PETER_LINE.split()[-1])
ENOCH_SIGNATURE = Signature("EnochRoot", 0xAF0CFE78, ENOCH_LINE.split()[-1])


def manglings(key: str):
    """Yield every proper substring of key and every copy with one character bumped."""
    for start in range(len(key) + 1):
        for end in range(start + 1, len(key) + 1):
            if (start, end) != (0, len(key)):
                yield key[start:end]
    for position in range(len(key)):
        yield key[:position] + chr(ord(key[position]) + 1) + key[position + 1 :]


# --- Keys -----------------------------------------------------------------------------------


def test_the_key_id_is_the_c2sp_hash_of_name_type_and_public_key():
    digest = hashlib.sha256(b"PeterNeumann\n\x01" + PETER.public_key).digest()
    assert PETER.key_id == int.from_bytes(digest[:4], "big") == 0xC74F20A3
    assert key_id("PeterNeumann", PETER.public_key) == 0xC74F20A3


def test_published_verifier_keys_parse_and_print_back():
    for vkey in (GO["verifier_key"], GO["other_verifier_key"], VECTORS["c2sp"]["verifier_key"]):
        assert Verifier.from_key(vkey).key() == vkey


def test_published_signer_key_gives_the_published_verifier_key():
    signer = Signer.from_key(GO["signer_key"])
    assert (signer.name, signer.key_id) == ("PeterNeumann", 0xC74F20A3)
    assert signer.verifier() == PETER
    assert signer.key() == GO["signer_key"]


def test_mangled_verifier_keys_are_refused():
    refused = 0
    for mangled in [*manglings(GO["verifier_key"]), *GO["bad_verifier_keys"]]:
        with pytest.raises(NoteError):
            Verifier.from_key(mangled)
            pytest.fail(f"accepted {mangled!r}")
        refused += 1
    assert refused > 2_000


def test_mangled_signer_keys_are_refused():
    for mangled in manglings(GO["signer_key"]):
        with pytest.raises(NoteError):
            Signer.from_key(mangled)
            pytest.fail(f"accepted {mangled!r}")


def test_a_signer_shows_no_secret():
    signer = Signer.from_key(GO["signer_key"])
    secret = GO["signer_key"].rsplit("+", 1)[-1]
    assert secret not in repr(signer) and secret not in str(signer)


def test_generated_keys_sign_and_verify():
    signer_key, verifier_key = generate_key("audit.example/ocr-service")
    assert signer_key.startswith("PRIVATE+KEY+audit.example/ocr-service+")
    signer, verifier = Signer.from_key(signer_key), Verifier.from_key(verifier_key)
    assert signer.verifier() == verifier
    assert signer_key.split("+")[3] == verifier_key.split("+")[1] == f"{verifier.key_id:08x}"
    note = open_note(sign_note(TEXT, signers=[signer]), verifiers=[verifier])
    assert note.text == TEXT
    [signature] = note.signatures
    assert (signature.name, signature.key_id) == (verifier.name, verifier.key_id)


def test_two_generated_keys_differ():
    assert generate_key("a.example")[1] != generate_key("a.example")[1]


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\there", "no\u00a0break"])
def test_invalid_key_names_are_refused(name):
    with pytest.raises(NoteError):
        generate_key(name)


# --- Signing --------------------------------------------------------------------------------


def test_signing_gives_the_published_note():
    signer = Signer.from_key(GO["signer_key"])
    assert sign_note(TEXT, signers=[signer]) == TEXT + "\n" + PETER_LINE


def test_signing_again_replaces_the_same_keys_signature():
    signer = Signer.from_key(GO["signer_key"])
    stale = Signature("PeterNeumann", 0xC74F20A3, "BADSIGN=")
    assert sign_note(TEXT, signers=[signer], signatures=[stale]) == TEXT + "\n" + PETER_LINE


def test_cosigning_keeps_the_earlier_signatures_first():
    signer = Signer.from_key(GO["signer_key"])
    both = sign_note(TEXT, signers=[signer], signatures=[ENOCH_SIGNATURE])
    assert both == TEXT + "\n" + ENOCH_LINE + PETER_LINE
    assert open_note(both, verifiers=[PETER, ENOCH]).signatures == (
        ENOCH_SIGNATURE,
        PETER_SIGNATURE,
    )


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("abc", []),  # no final newline
        ("a\x01b\n", []),  # a control character
        (TEXT, [Signature("a+b", 1, "AAAAAAAA")]),  # a kept signature with a bad name
        (TEXT, [Signature("EnochRoot", 0xAF0CFE78, "BADHASH=")]),  # its key id mismatches
    ],
)
def test_signing_a_malformed_note_is_refused(text, kept):
    with pytest.raises(NoteError):
        sign_note(text, signers=[Signer.from_key(GO["signer_key"])], signatures=kept)


# --- Opening --------------------------------------------------------------------------------


def test_opening_with_one_known_key_sets_the_unknown_aside():
    note = open_note(TEXT + "\n" + PETER_LINE + ENOCH_LINE, verifiers=[PETER])
    assert note.text == TEXT
    assert note.signatures == (PETER_SIGNATURE,)
    assert note.unverified == (ENOCH_SIGNATURE,)


def test_opening_with_both_keys_verifies_both():
    note = open_note((TEXT + "\n" + PETER_LINE + ENOCH_LINE).encode(), verifiers=[ENOCH, PETER])
    assert note.signatures == (PETER_SIGNATURE, ENOCH_SIGNATURE)
    assert note.unverified == ()


def test_a_note_no_known_key_signed_is_refused():
    with pytest.raises(UnverifiedNote):
        open_note(TEXT + "\n" + PETER_LINE + ENOCH_LINE, verifiers=[])
    with pytest.raises(UnverifiedNote):
        open_note(TEXT + "\n" + ENOCH_LINE, verifiers=[PETER])


def test_a_known_keys_bad_signature_rejects_the_note():
    # The Go test's corruption: four letters inside the base64, which stays valid.
    corrupted = PETER_LINE[:60] + "ABCD" + PETER_LINE[60:]
    with pytest.raises(InvalidNoteSignature, match="PeterNeumann\\+c74f20a3"):
        open_note(TEXT + "\n" + corrupted, verifiers=[PETER])
    # Even next to a good signature by another known key.
    with pytest.raises(InvalidNoteSignature):
        open_note(TEXT + "\n" + ENOCH_LINE + corrupted, verifiers=[PETER, ENOCH])


def test_a_known_keys_signature_of_the_wrong_length_rejects_the_note():
    short = base64.b64encode(PETER.key_id.to_bytes(4, "big") + b"short").decode()
    with pytest.raises(InvalidNoteSignature):
        open_note(TEXT + "\n" + f"— PeterNeumann {short}\n", verifiers=[PETER])


def test_a_changed_text_fails_its_signature():
    changed = TEXT.replace("answer", "question")
    with pytest.raises(InvalidNoteSignature):
        open_note(changed + "\n" + PETER_LINE, verifiers=[PETER])


def test_repeated_signatures_count_once():
    enoch_corrupted = ENOCH_LINE[:60] + "ABCD" + ENOCH_LINE[60:]
    note = open_note(
        TEXT + "\n" + PETER_LINE * 2 + ENOCH_LINE * 2 + enoch_corrupted, verifiers=[PETER]
    )
    assert note.signatures == (PETER_SIGNATURE,)
    assert [signature.base64 for signature in note.unverified] == [
        ENOCH_SIGNATURE.base64,
        enoch_corrupted.split()[-1],
    ]


def test_too_many_signatures_are_refused():
    open_note(TEXT + "\n" + PETER_LINE * MAX_SIGNATURES, verifiers=[PETER])
    with pytest.raises(NoteError, match="more than"):
        open_note(TEXT + "\n" + PETER_LINE * (MAX_SIGNATURES + 1), verifiers=[PETER])


def test_two_different_keys_under_one_name_and_id_are_refused():
    impostor = Verifier(name=ENOCH.name, key_id=ENOCH.key_id, public_key=PETER.public_key)
    with pytest.raises(NoteError, match="ambiguous"):
        open_note(TEXT + "\n" + ENOCH_LINE, verifiers=[ENOCH, impostor])


@pytest.mark.parametrize(
    "message",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_LINE[:-1],
        "\x01" + TEXT + "\n" + PETER_LINE,
        TEXT + "\n" + "— Bad Name " + PETER_SIGNATURE.base64 + "\n",
        TEXT + "\n" + PETER_LINE + "Unexpected line.\n",
        TEXT + "\n" + "- PeterNeumann " + PETER_SIGNATURE.base64 + "\n",  # hyphen, not em dash
        TEXT + "\n" + "— PeterNeumann AAAA\n",  # too short to hold a key id and a signature
        TEXT + "\n" + "— PeterNeumann not*base64\n",
    ],
)
def test_malformed_notes_are_refused(message):
    with pytest.raises(NoteError):
        open_note(message, verifiers=[PETER])


def test_a_note_that_is_not_utf8_is_refused():
    with pytest.raises(NoteError, match="UTF-8"):
        open_note(b"\xff" + (TEXT + "\n" + PETER_LINE).encode(), verifiers=[PETER])


def test_the_c2sp_example_note_verifies():
    example = VECTORS["c2sp"]
    note = open_note(example["signed_note"], verifiers=[Verifier.from_key(example["verifier_key"])])
    assert note.text == "This is an example message.\n"
    assert note.signatures[0].name == "example.com/foo"


# --- Checkpoints ----------------------------------------------------------------------------


def test_checkpoint_text_is_the_go_tree_note():
    checkpoint = Checkpoint(
        origin="go.sum database tree",
        size=GO["tree_size"],
        root_hash=leaf_hash(GO["tree_root_leaf_input"].encode()),
    )
    assert checkpoint.text() == GO["tree_note"]
    assert parse_checkpoint(GO["tree_note"]) == checkpoint


def test_extension_lines_round_trip():
    checkpoint = Checkpoint("example.com/log", 0, bytes(32), ("one", "two words"))
    assert (
        checkpoint.text()
        == f"example.com/log\n0\n{base64.b64encode(bytes(32)).decode()}\none\ntwo words\n"
    )
    assert parse_checkpoint(checkpoint.text()) == checkpoint
    assert parse_checkpoint(GO["tree_note"] + "JOE\n").extensions == ("JOE",)


@pytest.mark.parametrize(
    "text",
    [
        *VECTORS["golang_mod"]["bad_tree_notes"],
        GO["tree_note"][:-1],  # no final newline
        GO["tree_note"] + "\n",  # an empty extension line
        "go.sum database tree\n0123\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n",
        "go.sum database tree\n-1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n",
        "go.sum database tree\n1\nAAAA\n",  # a root of 3 bytes
        "\n1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n",  # no origin
        "go.sum database tree\n1\n",
    ],
)
def test_malformed_checkpoints_are_refused(text):
    with pytest.raises(NoteError):
        parse_checkpoint(text)


@pytest.mark.parametrize(
    "checkpoint",
    [
        Checkpoint("", 1, bytes(32)),
        Checkpoint("origin", -1, bytes(32)),
        Checkpoint("origin", 1, bytes(31)),
        Checkpoint("two\nlines", 1, bytes(32)),
        Checkpoint("origin", 1, bytes(32), ("",)),
    ],
)
def test_a_malformed_checkpoint_is_not_written(checkpoint):
    with pytest.raises(NoteError):
        checkpoint.text()


def test_anyone_with_the_public_key_can_check_the_trail_grew_honestly():
    """The log's point: two signed checkpoints and proofs, verified from public data."""
    signer_key, verifier_key = generate_key("audit.example/ocr-service")
    signer = Signer.from_key(signer_key)
    store = MemoryNodeStore()
    leaves = [leaf_hash(f"event {i}".encode()) for i in range(21)]

    def publish(size: int) -> str:
        checkpoint = Checkpoint("audit.example/ocr-service", size, root_hash(store, size=size))
        return sign_note(checkpoint.text(), signers=[signer])

    append_leaves(store, size=0, leaf_hashes=leaves[:13])
    first = publish(13)
    append_leaves(store, size=13, leaf_hashes=leaves[13:])
    second = publish(21)
    proof = consistency_proof(store, old_size=13, new_size=21)
    path = inclusion_proof(store, index=5, size=21)

    # The verifier's side: the verifier key, the two notes, the proofs. No secret.
    verifiers = [Verifier.from_key(verifier_key)]
    old, _ = open_checkpoint(first, origin="audit.example/ocr-service", verifiers=verifiers)
    new, _ = open_checkpoint(second, origin="audit.example/ocr-service", verifiers=verifiers)
    verify_consistency(
        old_size=old.size,
        new_size=new.size,
        old_root=old.root_hash,
        new_root=new.root_hash,
        proof=proof,
    )
    verify_inclusion(leaf_hash=leaves[5], index=5, size=new.size, proof=path, root=new.root_hash)
    with pytest.raises(NoteError, match=re.escape("not 'another.example/log'")):
        open_checkpoint(first, origin="another.example/log", verifiers=verifiers)
    # A forged checkpoint (another root at the same size) fails its signature.
    forged = first.replace(
        base64.b64encode(old.root_hash).decode(), base64.b64encode(bytes(32)).decode()
    )
    with pytest.raises(InvalidNoteSignature):
        open_checkpoint(forged, origin="audit.example/ocr-service", verifiers=verifiers)
