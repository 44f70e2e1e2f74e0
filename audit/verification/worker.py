"""Entry point of the processes verify_chain spreads a long chain over.

Kept free of Django imports at module level: a spawned interpreter unpickles
verify_part from here before Django is set up, and only then may models be imported.
"""

from typing import Any


def start(database_name: str) -> None:
    """Set Django up in a fresh interpreter, on the database the parent verifies."""
    import django
    from django.db import connections

    django.setup()
    # The parent may verify a database other than settings name (a test database).
    connections["default"].settings_dict["NAME"] = database_name


def verify_part(part: Any) -> Any:
    """Verify one stretch of the chain in this process; see parallel.verify_part."""
    from audit.verification.parallel import verify_part as verify

    return verify(part)
