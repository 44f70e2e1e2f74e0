"""The closed vocabulary of audit events: each event type belongs to one category."""

from django.db import models
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

# Recorded before the first event linked under a new chain key (audit.services).
KEY_CHANGE_EVENT = "audit_chain_key"

# The metadata key under which record_event keeps the X-Request-ID a caller sent
# (audit.client.ClientContext.client_request_id); the event's request_id is the server's.
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
