"""What the real-browser tests need from the machine, asked in one place.

The root conftest refuses to start a run whose browser tests cannot run (a skip is not a
pass), unless BROWSER_TESTS=0 leaves them out on purpose.
"""

import importlib.util
import os
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# One command installs every system package the suite needs (as root, or with sudo).
FIX = "make system-packages"


def missing_requirement() -> str | None:
    """Return why the browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (make test installs the dev lock)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} not found; `{FIX}` installs Debian's chromium and a CJK font"
    return None
