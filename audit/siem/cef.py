"""Each audit event as an ArcSight CEF line, for syslog collectors that parse CEF.

CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension

Header fields escape "\\" and "|"; extension values escape "\\", "=" and line breaks
(the CEF implementation standard, "Character encoding"). The severity (0-10) follows the
OCSF severity_id of the same event, so both forms rank an event alike.
"""

from datetime import datetime
from typing import Any

from .documents import PRODUCT_NAME, VENDOR_NAME, Writer, product_version
from .ocsf import epoch_ms, ocsf_event

# OCSF severity_id -> CEF severity: Informational 1, Low 3, Medium 5, High 8.
CEF_SEVERITY = {1: 1, 2: 3, 3: 5, 4: 8}


def header_text(value: Any) -> str:
    return (
        str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")
    )


def extension_text(value: Any) -> str:
    return (
        str(value)
        .replace("\\", "\\\\")
        .replace("=", "\\=")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
    )


def cef_line(document: dict[str, Any], writer: Writer) -> str:
    """Return the CEF line of a stream document (audit.siem.documents.event_document)."""
    ocsf = ocsf_event(document, writer)
    target = ocsf.get("user", {})
    fields: list[tuple[str, Any]] = [
        ("rt", epoch_ms(datetime.fromisoformat(document["timestamp"]))),
        ("externalId", document["id"]),
        ("cat", document["category"]),
        ("act", ocsf["activity_name"]),
        ("outcome", document["outcome"]),
        ("suser", document["username"]),
        ("suid", document["user_id"] if document["user_id"] is not None else ""),
        ("duser", target.get("name", "")),
        ("duid", target.get("uid", "")),
        ("src", document["ip_address"] or ""),
        ("requestClientApplication", document["user_agent"]),
        ("requestMethod", ocsf["http_request"].get("http_method", "")),
        ("request", ocsf["http_request"].get("url", {}).get("path", "")),
        ("msg", document["message"]),
        ("dvchost", writer.host),
        ("dvcpid", writer.pid),
        ("deviceProcessName", writer.role),
        ("cn1Label", "sequence"),
        ("cn1", document["sequence"]),
        ("cs1Label", "hash"),
        ("cs1", document["hash"]),
        ("cs2Label", "prev_hash"),
        ("cs2", document["prev_hash"]),
        ("cs3Label", "request_id"),
        ("cs3", document["request_id"]),
        ("cs4Label", "resource"),
        ("cs4", f"{document['resource_type']}:{document['resource_id']}"),
        ("cs5Label", "ocsf_type_uid"),
        ("cs5", ocsf["type_uid"]),
        ("cs6Label", "key_id"),
        ("cs6", document["key_id"]),
    ]
    extension = " ".join(f"{key}={extension_text(value)}" for key, value in fields if value != "")
    header = [
        "CEF:0",
        header_text(VENDOR_NAME),
        header_text(PRODUCT_NAME),
        header_text(product_version()),
        header_text(document["event_type"]),
        header_text(ocsf["type_name"]),
        str(CEF_SEVERITY.get(ocsf["severity_id"], 1)),
    ]
    return "|".join(header) + "|" + extension
