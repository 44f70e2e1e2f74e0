"""Test data and helpers that every app's tests import by name.

The fixtures shared across apps are defined once, in the root conftest.py.
"""

from django.http import HttpResponseBase

from audit.models import AuditEvent

# The password of every user the make_user fixture creates.
PASSWORD = "correct horse battery staple 42"

# The columns a test compares when it asserts "a row with these fields".
EVENT_FIELDS = (
    "event_type",
    "category",
    "outcome",
    "user_id",
    "username",
    "ip_address",
    "user_agent",
    "request_id",
    "resource_type",
    "resource_id",
    "message",
    "metadata",
)


def event_fields(event: AuditEvent) -> dict:
    """Return the fields of an event a reader of the trail sees, for one-line comparison."""
    return {name: getattr(event, name) for name in EVENT_FIELDS}


def request_id(response: HttpResponseBase) -> str:
    """Return the request id the server echoed on a response."""
    value = response["X-Request-ID"]
    assert value, "every response carries an X-Request-ID"
    return value
