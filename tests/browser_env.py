"""What the real-browser tests need from the machine, asked in one place.

The root conftest refuses to start a run whose browser tests cannot run (a skip is not a
pass), unless BROWSER_TESTS=0 leaves them out on purpose.
"""

import functools
import importlib.util
import os
import subprocess
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# The one list of system packages (chromium, the CJK font, the driver's libatomic1).
SYSTEM_PACKAGES = Path(__file__).resolve().parent.parent / ".ci" / "system-packages.sh"
# One command installs them all; it is shown to someone who could not install them.
FIX = "sudo make system-packages"


def missing_packages() -> list[str]:
    """Return the system packages of the one list that are not installed (Debian)."""
    # Our own script, with no input from outside.
    checked = subprocess.run(
        [str(SYSTEM_PACKAGES), "--check"], capture_output=True, text=True, check=False
    )
    return checked.stdout.split() if checked.returncode else []


# Asked by the root conftest and by the browser test modules' guarded import: once a run.
@functools.cache
def missing_requirement() -> str | None:
    """Return why the browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (make test installs the dev lock)"
    missing = missing_packages()
    if missing:
        return f"system packages missing: {', '.join(missing)}; `{FIX}` installs them"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} not found; `{FIX}` installs Debian's chromium and a CJK font"
    return None
