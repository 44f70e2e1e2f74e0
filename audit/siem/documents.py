"""An event or a checkpoint as one JSON document of the stream, and who wrote the line."""

import os
import socket
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ..chain import canonical_timestamp
from ..verification.checkpoints import as_checkpoint

SERVICE = "ocr-service"
PRODUCT_NAME = "OCR Service"
VENDOR_NAME = "ocr-service project"


@cache
def product_version() -> str:
    """Return the service's version, as pyproject.toml declares it."""
    path = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        return str(tomllib.loads(path.read_text())["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


@dataclass(frozen=True)
class Writer:
    """The host and process writing stream lines: with several hosts, the line says which."""

    host: str
    pid: int
    role: str

    def fields(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "process": {"pid": self.pid, "role": self.role},
            "service": SERVICE,
        }


def this_writer(role: str = "sealer") -> Writer:
    return Writer(host=socket.gethostname() or "localhost", pid=os.getpid(), role=role)


def event_document(event) -> dict[str, Any]:
    """Return a sealed event as the stream (and the API) present it."""
    return {
        "id": event.pk,
        "sequence": event.sequence,
        "leaf_index": event.sequence - 1 if event.sequence else None,
        "timestamp": canonical_timestamp(event.timestamp),
        "event_type": event.event_type,
        "category": event.category,
        "outcome": event.outcome,
        "user_id": event.user_id,
        "username": event.username,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "message": event.message,
        "metadata": event.metadata,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "key_id": event.key_id,
    }


def checkpoint_document(record) -> dict[str, Any]:
    """Return a stored HMAC checkpoint as the file verify_audit_chain --checkpoint reads."""
    return as_checkpoint(record).document()
