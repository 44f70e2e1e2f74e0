"""schemathesis against the served schema: every operation, all checks, as an integrator runs it.

The schema is loaded from /api/schema/ through the real WSGI stack and each operation is
called with generated valid and invalid requests, once with a staff token holding the
staff permissions and once with a non-staff token. The run is seeded and deterministic,
with a bounded number of examples per operation, so a failure is the same on every run.
The logout operations revoke the token they are called with: they run on their own,
each case with a fresh token. (Operations are driven through hypothesis directly:
schemathesis' pytest plugin, `from_fixture(...).parametrize()`, fails on pytest 9.2 with
"'Function' object has no attribute '_nodeid'".)
"""

import pytest
import schemathesis
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis import GenerationMode

# The permissions the staff operations ask for (audit list and proofs, users, cleanup).
STAFF_PERMISSIONS = ("audit.view_auditevent", "auth.view_user", "tasks.delete_ocrtask")
LOGOUTS = ("/api/v2/auth/logout", "/api/v2/auth/logout-all")
MAX_EXAMPLES = 20
SEED = 20261207

# Where a valid-looking request is refused for a reason no JSON schema can state, a 400
# is accepted for schema-valid data: a cursor is opaque (only one the server issued is
# valid, and a forged one is a 400 naming `cursor`), and a consistency proof's `from`
# must not exceed its `to` (a rule between two parameters), and an upload is judged by
# reading it (a file must really be an image or a PDF; the languages an engine reads are
# those installed on the host, per engine); a witness's cosignature is a signed note,
# judged by verifying it.
OPAQUE_OR_CROSS_FIELD = (
    "/api/v2/admin/audit-logs",
    "/api/v2/admin/audit-logs/consistency",
    "/api/v2/audit-log/consistency",
    "/api/v2/audit-log/cosignatures",
    "/api/v2/tasks",
)
ACCEPTED_FOR_VALID_DATA = ["2xx", "400", "401", "403", "404", "409", "429"]

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "mode": "all",
            "database": "none",
            # Text never holds NUL: every DRF text field refuses it with a 400 naming the
            # field; generating it would only rediscover that one rule everywhere.
            "allow-x00": False,
        },
        "operations": [
            {
                "include-path": path,
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": ACCEPTED_FOR_VALID_DATA}
                },
            }
            for path in OPAQUE_OR_CROSS_FIELD
        ],
    }
)


@pytest.fixture
def wsgi_app(db):
    """Return the WSGI application, keeping the test's database connection between requests.

    Django's own test client disconnects close_old_connections the same way: closing the
    connection inside the test's transaction would lose everything the test wrote.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(wsgi_app):
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app, config=CONFIG)


@pytest.fixture
def auditor(make_user):
    """Return a staff account holding exactly the staff operations' permissions."""
    account = make_user(username="auditor", staff=True)
    for name in STAFF_PERMISSIONS:
        app_label, codename = name.split(".")
        account.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return account


@pytest.fixture
def integrator(make_user):
    return make_user(username="integrator")


def bearer(account) -> dict[str, str]:
    return {"Authorization": f"Bearer {RefreshToken.for_user(account).access_token}"}


def operations(api_schema, *, logouts: bool) -> list:
    found = [result.ok() for result in api_schema.get_all_operations()]
    return [op for op in found if (op.path in LOGOUTS) == logouts]


def failures_of(operation, account) -> list[str]:
    """Run generated valid and invalid cases of one operation; return what failed."""
    failures: list[str] = []
    raw = operation.definition.raw
    takes_input = bool(raw.get("parameters")) or "requestBody" in raw
    # An operation that takes nothing (the public checkpoint) has no invalid request.
    modes = (
        (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if takes_input
        else (GenerationMode.POSITIVE,)
    )
    for mode in modes:

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            # Throttle buckets live in the cache: emptied per case, so each case meets
            # the operation and not the previous cases' 429s (throttling has own tests).
            cache.clear()
            # A fresh token per case: a successful logout-all revokes the ones before.
            case.call_and_validate(headers=bearer(account))

        try:
            run()
        except (Exception, BaseExceptionGroup) as failure:  # every failure, per operation
            failures.append(f"{operation.label} ({mode.value}): {failure}")
    return failures


def run_all(api_schema, account, *, logouts: bool) -> list[str]:
    selected = operations(api_schema, logouts=logouts)
    assert selected, "the schema lists the operations"
    return [failure for op in selected for failure in failures_of(op, account)]


def test_every_operation_keeps_its_contract_for_staff(api_schema, auditor):
    failures = run_all(api_schema, auditor, logouts=False)
    assert not failures, "\n\n".join(failures)


def test_every_operation_keeps_its_contract_for_non_staff(api_schema, integrator):
    failures = run_all(api_schema, integrator, logouts=False)
    assert not failures, "\n\n".join(failures)


# The logout operations revoke the token they are called with: a run of their own.
def test_logouts_keep_their_contract_for_staff(api_schema, auditor):
    failures = run_all(api_schema, auditor, logouts=True)
    assert not failures, "\n\n".join(failures)


def test_logouts_keep_their_contract_for_non_staff(api_schema, integrator):
    failures = run_all(api_schema, integrator, logouts=True)
    assert not failures, "\n\n".join(failures)
