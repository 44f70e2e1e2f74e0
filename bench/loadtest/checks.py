"""Judge the trail: rows against requests, the chain, secrets, the SIEM stream, the log."""

import contextlib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from bench.loadtest.clients import LOCKED, LoadClient
from bench.loadtest.events import LABELS, WITH_METHOD
from bench.loadtest.exchanges import Exchange
from bench.loadtest.results import EventCount, RunResult
from bench.loadtest.server import manage

JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{10,}")
SECRET_WORD = re.compile(r"[A-Za-z0-9_-]{16,}")


def row_metadata(row: dict) -> dict:
    metadata = row["metadata"]
    if isinstance(metadata, str):
        metadata = json.loads(metadata or "{}")
    return metadata


def row_label(row: dict) -> str:
    label = f"{row['event_type']} {row['outcome']}"
    if row["event_type"] in WITH_METHOD:
        label += f" ({row_metadata(row).get('method', '?')})"
    return label


def compare_events(result: RunResult, exchanges: list[Exchange], rows: list[dict]) -> None:
    """Match rows to requests by request id; count expected, lost, duplicated, unexpected."""
    expected: dict[str, Counter] = {}
    undefined: set[str] = set()
    for exchange in exchanges:
        if exchange.expected is None:
            undefined.add(exchange.request_id)
        else:
            expected[exchange.request_id] = Counter(exchange.expected)
    recorded: dict[str, Counter] = defaultdict(Counter)
    events: dict[str, EventCount] = {label: EventCount() for label in LABELS}
    # Rows carry the server's request id; the id each client sent is kept beside it
    # (metadata.client_request_id) on the rows recorded while serving the request, and
    # the worker's rows carry the server's id alone: map it back through the others.
    sent_as = {
        row["request_id"]: sent
        for row in rows
        if (sent := row_metadata(row).get("client_request_id"))
    }
    for row in rows:
        label = row_label(row)
        events.setdefault(label, EventCount()).recorded += 1
        request_id = sent_as.get(row["request_id"], row["request_id"])
        if request_id in undefined:
            result.rows_of_undefined_requests += 1
        elif request_id in expected:
            recorded[request_id][label] += 1
        else:
            result.rows_unattributed += 1
            events[label].unexpected += 1
    for request_id, wanted in expected.items():
        got = recorded.get(request_id, Counter())
        for label in wanted.keys() | got.keys():
            count = events.setdefault(label, EventCount())
            count.expected += wanted[label]
            if got[label] < wanted[label]:
                count.lost += wanted[label] - got[label]
            elif got[label] > wanted[label]:
                # More rows than promised: the same event twice, or one never promised.
                if wanted[label]:
                    count.duplicated += got[label] - wanted[label]
                else:
                    count.unexpected += got[label]
    result.events = events
    result.expected_total = sum(c.expected for c in events.values())
    result.lost_total = sum(c.lost for c in events.values())
    result.duplicated_total = sum(c.duplicated for c in events.values())
    result.unexpected_total = sum(c.unexpected for c in events.values())


def compare_stream(result: RunResult, stream_log: Path, rows: list[dict]) -> None:
    """Compare the SIEM lines the sealer streamed with the rows: each exactly once.

    Each event is streamed once sealed, its sequence and hash in its own line.
    """
    printed: Counter = Counter()
    hashes: dict[str, str] = {}
    for line in stream_log.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            document = json.loads(line)
            if not isinstance(document, dict):
                continue
            if "id" in document and "hash" in document:
                printed[str(document["id"])] += 1
                if document["hash"] is not None:
                    hashes[str(document["id"])] = document["hash"]
    stored = {str(row["id"]): row["hash"] for row in rows}
    result.stream = {
        "lines": sum(printed.values()),
        "missing": sum(1 for event_id in stored if event_id not in printed),
        "duplicated": sum(count - 1 for count in printed.values() if count > 1),
        "not_in_table": sum(1 for event_id in printed if event_id not in stored),
        "hash_differs": sum(
            1 for event_id, digest in hashes.items() if stored.get(event_id, digest) != digest
        ),
    }


def scan_secrets(
    result: RunResult, columns: list[str], rows: list[list], clients: list[LoadClient]
) -> None:
    """Look for passwords, tokens, session keys and JWT-shaped text in every column."""
    passwords = set().union(*(client.passwords for client in clients))
    tokens = set().union(*(client.tokens for client in clients))
    # A JWT's signature alone is as good as the token to someone forging nothing.
    words = passwords | tokens | {token.rsplit(".", 1)[-1] for token in tokens if "." in token}
    login_passwords = [client.password for client in clients]
    sequence_at = columns.index("sequence")
    cells = 0
    for row in rows:
        for name, value in zip(columns, row, strict=True):
            if value is None:
                continue
            text = str(value)
            cells += 1
            where = f"#{row[sequence_at]} {name}"
            if JWT_SHAPE.search(text):
                result.secrets_found.append(f"{where}: JWT-shaped text")
            if any(password in text for password in login_passwords):
                result.secrets_found.append(f"{where}: a user's password")
            elif any(word in words for word in SECRET_WORD.findall(text)):
                result.secrets_found.append(f"{where}: a password, token or session key")
    result.secrets_scanned = {
        "rows": len(rows),
        "cells": cells,
        "passwords": len(passwords),
        "tokens": len(tokens),
    }


def scan_server_log(result: RunResult, error_log: Path) -> None:
    """Count tracebacks, worker timeouts and "database is locked" in gunicorn's stderr."""
    lines = error_log.read_text(errors="replace").splitlines()
    result.locked_log_lines = sum(1 for line in lines if LOCKED in line.lower())
    result.server_tracebacks = sum(1 for line in lines if line.startswith("Traceback"))
    seen: Counter = Counter()
    for number, line in enumerate(lines):
        if "WORKER TIMEOUT" in line or "[ERROR]" in line or "[CRITICAL]" in line:
            seen[line.split("] ", 3)[-1][:200]] += 1
        if line.startswith("Traceback"):
            # The exception is the first unindented line after the traceback.
            for follower in lines[number + 1 : number + 200]:
                if follower and not follower.startswith((" ", "\t")):
                    seen[follower[:300]] += 1
                    break
    result.server_errors = [f"{count} x {text}" for text, count in seen.most_common(10)]


def verify_chain(result: RunResult, env: dict[str, str]) -> None:
    """Run manage.py verify_audit_chain on the target; keep its verdict and last lines."""
    outcome = manage(env, "verify_audit_chain")
    result.chain_ok = outcome.returncode == 0
    text = (outcome.stdout + outcome.stderr).strip()
    result.chain_output = " ".join(text.splitlines()[-3:])[-600:]


def judge(result: RunResult) -> None:
    checks = [
        (result.lost_total, "audit events lost"),
        (result.duplicated_total, "audit events duplicated"),
        (result.unexpected_total, "unexpected audit events"),
        (result.errors_5xx, "5xx responses"),
        (result.no_response, "requests without a response"),
        (result.locked_responses, 'responses saying "database is locked"'),
        (result.locked_log_lines, '"database is locked" lines in the server log'),
        (result.server_tracebacks, "tracebacks in the server log"),
        (len(result.anomalies), "unexpected HTTP outcomes"),
        (len(result.secrets_found), "secrets in audit rows"),
        (result.stream.get("missing", 0), "rows missing from the SIEM stream"),
        (result.stream.get("duplicated", 0), "SIEM lines duplicated"),
        (result.stream.get("not_in_table", 0), "SIEM lines for rows not in the table"),
        (result.stream.get("hash_differs", 0), "SIEM lines whose hash differs from the row"),
        (abs(result.tasks_in_db - result.tasks_expected), "tasks miscounted"),
    ]
    result.failures += [f"{count} {what}" for count, what in checks if count]
    if not result.chain_ok:
        result.failures.append("chain verification failed")
    idle = [label for label in LABELS if not result.events[label].expected]
    if idle:
        result.warnings.append(f"not exercised (no request expected them): {', '.join(idle)}")
        if result.fixed_work:
            # A fixed number of actions always includes every kind: this is a bench bug.
            result.failures.append(f"not exercised: {', '.join(idle)}")
