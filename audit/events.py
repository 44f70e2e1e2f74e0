"""The closed vocabulary of audit events: each event type belongs to one category."""

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class Category(models.TextChoices):
    AUTHENTICATION = "authentication", _("Authentication")
    TASK = "task", _("Task")
    FILE = "file", _("File")
    ADMIN = "admin", _("Admin")
    AUDIT = "audit", _("Audit")
    ACCOUNT = "account", _("Account")


class Outcome(models.TextChoices):
    SUCCESS = "success", _("Success")
    FAILURE = "failure", _("Failure")


EVENT_CATEGORIES: dict[str, Category] = {
    "auth_login": Category.AUTHENTICATION,
    "auth_logout": Category.AUTHENTICATION,
    "auth_token_refresh": Category.AUTHENTICATION,
    "auth_lockout": Category.AUTHENTICATION,
    "auth_unlock": Category.AUTHENTICATION,
    "access_denied": Category.AUTHENTICATION,
    # A request authenticated by an API token: recorded for the first use from an address
    # the token was not used from before (success), and for each refusal of a known
    # token (expired, revoked, wrong secret, owner disabled). Authentication, as a login.
    "api_token_use": Category.AUTHENTICATION,
    "task_create": Category.TASK,
    "task_process": Category.TASK,
    "task_complete": Category.TASK,
    "task_delete": Category.TASK,
    "task_retry": Category.TASK,
    "task_reclaim": Category.TASK,
    # A result taken away: one task's text, JSON or PDF, or a zip of several (one event
    # per task in it, so a task's history shows every copy of its text that left).
    "task_download": Category.TASK,
    "file_upload": Category.FILE,
    "admin_cleanup": Category.ADMIN,
    "admin_view_users": Category.ADMIN,
    "audit_view": Category.AUDIT,
    "audit_export": Category.AUDIT,
    "audit_prune": Category.AUDIT,
    "audit_chain_key": Category.AUDIT,
    "user_create": Category.ACCOUNT,
    "user_update": Category.ACCOUNT,
    "user_delete": Category.ACCOUNT,
    "password_change": Category.ACCOUNT,
    "group_update": Category.ACCOUNT,
    # Issuing or revoking a credential changes what an account can do, as a password
    # change does (OCSF files both under Account Change).
    "api_token_create": Category.ACCOUNT,
    "api_token_revoke": Category.ACCOUNT,
}

# What each event type means, in people's words (translated when shown). The code stays
# what is stored, filtered on and exported; the label is only how a page names it.
EVENT_LABELS: dict[str, str | Promise] = {
    "auth_login": _("Sign-in"),
    "auth_logout": _("Sign-out"),
    "auth_token_refresh": _("API token refreshed"),
    "auth_lockout": _("Account locked after failed sign-ins"),
    "auth_unlock": _("Account unlocked"),
    "access_denied": _("Access denied"),
    "task_create": _("OCR task created"),
    "task_process": _("OCR task started"),
    "task_complete": _("OCR task finished"),
    "task_delete": _("OCR task deleted"),
    "task_retry": _("OCR task retried"),
    "task_reclaim": _("OCR task taken back from a stopped worker"),
    "task_download": _("OCR result downloaded"),
    "file_upload": _("File uploaded"),
    "admin_cleanup": _("Old tasks cleaned up"),
    "admin_view_users": _("User list viewed"),
    "audit_view": _("Audit log read"),
    "audit_export": _("Audit log exported"),
    "audit_prune": _("Old audit events archived and pruned"),
    "audit_chain_key": _("Audit chain key changed"),
    "user_create": _("User created"),
    "user_update": _("User changed"),
    "user_delete": _("User deleted"),
    "password_change": _("Password changed"),
    "group_update": _("Group changed"),
}


def event_label(event_type: str) -> str | Promise:
    """Return the translated label of an event type; an unknown code is shown as it is."""
    return EVENT_LABELS.get(event_type, event_type)


def outcome_label(outcome: str) -> str | Promise:
    """Return the translated label of an outcome ("success" reads "Success", 成功)."""
    try:
        return Outcome(outcome).label
    except ValueError:
        return outcome


# Recorded before the first event linked under a new chain key (audit.services).
KEY_CHANGE_EVENT = "audit_chain_key"

# The metadata key under which record_event keeps the X-Request-ID a caller sent
# (audit.recording.client.ClientContext.client_request_id); the event's request_id is the server's.
CLIENT_REQUEST_ID_KEY = "client_request_id"


def category_for(event_type: str) -> Category:
    """Return the category of an event type; unknown types are a programming error."""
    try:
        return EVENT_CATEGORIES[event_type]
    except KeyError:
        raise ValueError(f"Unknown audit event type: {event_type!r}") from None


# What events point at (resource_type). Listed so a search by resource id can name
# them and use the (resource_type, resource_id) index.
RESOURCE_TYPES = (
    "user",
    "group",
    "token",
    "task",
    "file",
    "page",
    "audit_log",
    # One event read on its own (the admin's change or history page); its id.
    "audit_event",
    "audit_archive",
    "audit_chain",
    "dashboard",
)
