"""Each audit event as an OCSF 1.3 event: the class, activity and ids a SIEM indexes on.

The mapping of every event type, and why, is in docs/siem.md ("OCSF"). In short:

- sign-in, sign-out and token refresh are Authentication (3002), whose `user` is the
  account signing in;
- lockout, unlock and changes to an account are Account Change (3001); a change of
  what an account may do (groups, staff or superuser flags) is User Access Management
  (3005); changes to a group are Group Management (3006). There `actor.user` is who
  did it and `user` the account it was done to;
- a refused request is API Activity (6003): the one class with the request's method;
- tasks, uploaded files and the trail's own pages are Web Resources Activity (6001).
  They are resources of a web application reached over HTTP; File System Activity
  (1001) describes a host's file system and requires the `device` it happened on,
  which a storage backend (S3) does not have.

Fields OCSF has no place for (the chain link, the category, the raw metadata) go
under `unmapped`, so nothing the trail holds is lost on the way.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..chain import canonical_timestamp
from .documents import PRODUCT_NAME, SERVICE, VENDOR_NAME, Writer, product_version

OCSF_VERSION = "1.3.0"

IAM, APPLICATION = 3, 6
AUTHENTICATION, ACCOUNT_CHANGE, USER_ACCESS, GROUP_MANAGEMENT = 3002, 3001, 3005, 3006
WEB_RESOURCES, API_ACTIVITY = 6001, 6003
CLASS_NAMES = {
    AUTHENTICATION: "Authentication",
    ACCOUNT_CHANGE: "Account Change",
    USER_ACCESS: "User Access Management",
    GROUP_MANAGEMENT: "Group Management",
    WEB_RESOURCES: "Web Resources Activity",
    API_ACTIVITY: "API Activity",
}
OTHER = 99

# severity_id: 1 Informational, 2 Low, 3 Medium, 4 High.
INFORMATIONAL, LOW, MEDIUM, HIGH = 1, 2, 3, 4
# status_id
SUCCESS, FAILURE = 1, 2


@dataclass(frozen=True)
class Mapping:
    """An event type's OCSF class and activity (activity id, its caption)."""

    class_uid: int
    activity: tuple[int, str]
    # Failures of a sign-in are routine; of a lockout or a privilege change, less so.
    severity: tuple[int, int] = (INFORMATIONAL, LOW)  # (on success, on failure)


# Every event type of audit.events.EVENT_CATEGORIES; a test keeps the two in step.
EVENT_MAPPINGS: dict[str, Mapping] = {
    "auth_login": Mapping(AUTHENTICATION, (1, "Logon")),
    "auth_logout": Mapping(AUTHENTICATION, (2, "Logoff")),
    "auth_token_refresh": Mapping(AUTHENTICATION, (OTHER, "Token Refresh")),
    "auth_lockout": Mapping(ACCOUNT_CHANGE, (9, "Lock"), (MEDIUM, MEDIUM)),
    "auth_unlock": Mapping(ACCOUNT_CHANGE, (OTHER, "Unlock"), (LOW, LOW)),
    "access_denied": Mapping(API_ACTIVITY, (OTHER, "Other"), (LOW, LOW)),
    "task_create": Mapping(WEB_RESOURCES, (1, "Create")),
    "task_process": Mapping(WEB_RESOURCES, (3, "Update")),
    "task_complete": Mapping(WEB_RESOURCES, (3, "Update")),
    "task_delete": Mapping(WEB_RESOURCES, (4, "Delete")),
    "task_retry": Mapping(WEB_RESOURCES, (3, "Update")),
    "task_reclaim": Mapping(WEB_RESOURCES, (3, "Update")),
    # A copy of the result leaves the service, as an export of the log does.
    "task_download": Mapping(WEB_RESOURCES, (7, "Export")),
    "file_upload": Mapping(WEB_RESOURCES, (1, "Create")),
    "admin_cleanup": Mapping(WEB_RESOURCES, (4, "Delete")),
    "admin_view_users": Mapping(WEB_RESOURCES, (2, "Read")),
    "audit_view": Mapping(WEB_RESOURCES, (2, "Read")),
    "audit_export": Mapping(WEB_RESOURCES, (7, "Export")),
    "audit_prune": Mapping(WEB_RESOURCES, (4, "Delete"), (MEDIUM, HIGH)),
    "audit_chain_key": Mapping(WEB_RESOURCES, (3, "Update"), (MEDIUM, HIGH)),
    "user_create": Mapping(ACCOUNT_CHANGE, (1, "Create"), (LOW, MEDIUM)),
    "user_update": Mapping(ACCOUNT_CHANGE, (OTHER, "Update"), (LOW, MEDIUM)),
    "user_delete": Mapping(ACCOUNT_CHANGE, (6, "Delete"), (LOW, MEDIUM)),
    "password_change": Mapping(ACCOUNT_CHANGE, (3, "Password Change"), (LOW, MEDIUM)),
    "group_update": Mapping(GROUP_MANAGEMENT, (OTHER, "Other"), (LOW, MEDIUM)),
    # An API token is a credential of its owner: issuing or revoking one changes what
    # the account can do (Account Change has no token activity: Other, named); using
    # one from a new address, or being refused, is a sign-in (Authentication, Logon).
    "api_token_create": Mapping(ACCOUNT_CHANGE, (OTHER, "API Token Create"), (LOW, MEDIUM)),
    "api_token_revoke": Mapping(ACCOUNT_CHANGE, (OTHER, "API Token Revoke"), (LOW, MEDIUM)),
    "api_token_use": Mapping(AUTHENTICATION, (1, "Logon"), (INFORMATIONAL, MEDIUM)),
}
# An event type added later and not yet mapped above still goes out, in its
# category's class as "Other", rather than being dropped from the stream.
CATEGORY_FALLBACK = {
    "authentication": AUTHENTICATION,
    "account": ACCOUNT_CHANGE,
}
# An HTTP method as API Activity's activity.
METHOD_ACTIVITIES = {
    "POST": (1, "Create"),
    "GET": (2, "Read"),
    "HEAD": (2, "Read"),
    "PUT": (3, "Update"),
    "PATCH": (3, "Update"),
    "DELETE": (4, "Delete"),
}
# user_update changes that change what the account may do: User Access Management.
PRIVILEGE_FIELDS = ("is_staff", "is_superuser")


def mapping_for(event_type: str, category: str) -> Mapping:
    known = EVENT_MAPPINGS.get(event_type)
    if known is not None:
        return known
    return Mapping(CATEGORY_FALLBACK.get(category, WEB_RESOURCES), (OTHER, "Other"))


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def named_user(*, name: str, uid: Any = None) -> dict[str, Any]:
    user: dict[str, Any] = {"name": name}
    if uid not in (None, ""):
        user["uid"] = str(uid)
    return user


def privilege_change(metadata: dict[str, Any]) -> tuple[tuple[int, str], list[str]] | None:
    """Return (activity, privileges) if a user_update changed what the account may do."""
    granted = list(metadata.get("groups_added", []))
    revoked = list(metadata.get("groups_removed", []))
    for name in PRIVILEGE_FIELDS:
        change = (metadata.get("changes") or {}).get(name)
        if change:
            (granted if change.get("new") else revoked).append(name)
    for key in ("permissions_added", "user_permissions_added"):
        granted += metadata.get(key, [])
    for key in ("permissions_removed", "user_permissions_removed"):
        revoked += metadata.get(key, [])
    if granted:
        return (1, "Assign Privileges"), sorted(map(str, granted))
    if revoked:
        return (2, "Revoke Privileges"), sorted(map(str, revoked))
    return None


def account_activity(event_type: str, metadata: dict[str, Any]) -> tuple[int, str] | None:
    """Return Enable/Disable for a user_update that (only) switched is_active."""
    change = (metadata.get("changes") or {}).get("is_active")
    if event_type == "user_update" and change:
        return (2, "Enable") if change.get("new") else (5, "Disable")
    return None


GROUP_ACTIONS = {"create": (1, "Create"), "rename": (3, "Update"), "delete": (4, "Delete")}


def group_privileges(metadata: dict[str, Any]) -> list[str]:
    """Return the permissions a group_update granted, revoked or took away with the group."""
    for key in ("permissions_added", "permissions_removed", "permissions"):
        if metadata.get(key):
            return sorted(map(str, metadata[key]))
    return []


def group_activity(metadata: dict[str, Any]) -> tuple[int, str]:
    if metadata.get("permissions_added"):
        return 1, "Assign Privileges"
    if metadata.get("permissions_removed"):
        return 2, "Revoke Privileges"
    return OTHER, str(metadata.get("action", "other")).capitalize()


def ocsf_event(document: dict[str, Any], writer: Writer) -> dict[str, Any]:
    """Return the OCSF event of a stream document (audit.siem.documents.event_document)."""
    event_type, category = document["event_type"], document["category"]
    metadata: dict[str, Any] = document["metadata"] or {}
    mapping = mapping_for(event_type, category)
    class_uid, activity = mapping.class_uid, mapping.activity
    failed = document["outcome"] == "failure"
    actor_user = named_user(name=document["username"], uid=document["user_id"])
    extra: dict[str, Any] = {}

    if event_type == "user_update":
        privileges = privilege_change(metadata)
        if privileges is not None:
            class_uid, (activity, extra["privileges"]) = USER_ACCESS, privileges
        else:
            activity = account_activity(event_type, metadata) or activity
    if class_uid == GROUP_MANAGEMENT:
        granted = group_privileges(metadata)
        if granted:
            activity = group_activity(metadata)
            extra["group"] = {"name": str(metadata.get("name", "")), "uid": document["resource_id"]}
            extra["privileges"] = granted
        else:
            # A group created or renamed: no privilege or member changed, which Group
            # Management requires one of; the group is then a resource changed.
            class_uid = WEB_RESOURCES
            activity = GROUP_ACTIONS.get(str(metadata.get("action")), (3, "Update"))
    if class_uid == API_ACTIVITY:
        method = str(metadata.get("method", "")).upper()
        activity = METHOD_ACTIVITIES.get(method, activity)
        extra["api"] = {"operation": f"{method} {metadata.get('path', '')}".strip() or event_type}

    if class_uid == AUTHENTICATION:
        # The account signing in (or out) is the event's user; it is also the actor.
        extra["user"] = actor_user
        extra["service"] = {"name": SERVICE}
        extra["is_remote"] = bool(document["ip_address"])
    elif class_uid in (ACCOUNT_CHANGE, USER_ACCESS) or (
        class_uid == GROUP_MANAGEMENT and metadata.get("target")
    ):
        # Who was changed: the snapshot in the metadata, the account id as the resource.
        target = str(metadata.get("target") or document["username"])
        uid = document["resource_id"] if document["resource_type"] == "user" else None
        extra["user"] = named_user(name=target, uid=uid)
    if class_uid == WEB_RESOURCES:
        resource = {"type": document["resource_type"] or category}
        resource["uid"] = document["resource_id"] or event_type
        extra["web_resources"] = [resource]

    timestamp = datetime.fromisoformat(document["timestamp"])
    severity = mapping.severity[1 if failed else 0]
    activity_id, activity_name = activity
    event: dict[str, Any] = {
        "activity_id": activity_id,
        "activity_name": activity_name,
        "category_uid": class_uid // 1000,
        "category_name": "Identity & Access Management"
        if class_uid // 1000 == IAM
        else "Application Activity",
        "class_uid": class_uid,
        "class_name": CLASS_NAMES[class_uid],
        "type_uid": class_uid * 100 + activity_id,
        "type_name": f"{CLASS_NAMES[class_uid]}: {activity_name}",
        "severity_id": severity,
        "severity": {1: "Informational", 2: "Low", 3: "Medium", 4: "High"}[severity],
        "status_id": FAILURE if failed else SUCCESS,
        "status": "Failure" if failed else "Success",
        "time": epoch_ms(timestamp),
        "time_dt": canonical_timestamp(timestamp),
        "message": document["message"],
        "metadata": {
            "version": OCSF_VERSION,
            "product": {
                "name": PRODUCT_NAME,
                "vendor_name": VENDOR_NAME,
                "version": product_version(),
            },
            "uid": str(document["id"]),
            "sequence": document["sequence"],
            "event_code": event_type,
            "log_name": "audit",
            "log_provider": writer.host,
            "correlation_uid": document["request_id"],
        },
        # An event of the system itself (the worker, a command) has no user behind it.
        "actor": {"user": actor_user, "app_name": SERVICE}
        if document["username"] or document["user_id"] is not None
        else {"app_name": SERVICE},
        "src_endpoint": {"ip": document["ip_address"]} if document["ip_address"] else {},
        "http_request": http_request(document, metadata),
        "unmapped": {
            "category": category,
            "resource_type": document["resource_type"],
            "resource_id": document["resource_id"],
            "metadata": metadata,
            "sequence": document["sequence"],
            "leaf_index": document["leaf_index"],
            "hash": document["hash"],
            "prev_hash": document["prev_hash"],
            "key_id": document["key_id"],
            **writer.fields(),
        },
        **extra,
    }
    if "status" in metadata and class_uid == API_ACTIVITY:
        event["http_response"] = {"code": metadata["status"]}
    if failed and metadata.get("reason"):
        event["status_detail"] = str(metadata["reason"])
    if not event["src_endpoint"]:
        # Written by a command or the worker: no client, but OCSF wants an endpoint.
        event["src_endpoint"] = {"hostname": writer.host, "name": "local"}
    return event


def http_request(document: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    """Return what the trail knows of the HTTP request behind the event."""
    request: dict[str, Any] = {}
    if document["user_agent"]:
        request["user_agent"] = document["user_agent"]
    if document["request_id"]:
        request["uid"] = document["request_id"]
    if metadata.get("method"):
        request["http_method"] = str(metadata["method"]).upper()
    if metadata.get("path"):
        request["url"] = {"path": str(metadata["path"])}
    return request
