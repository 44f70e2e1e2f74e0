"""The README's configuration table lists every environment variable settings read."""

import re
from pathlib import Path

from django.conf import settings

SETTINGS_FILE = Path(settings.BASE_DIR) / "ocr_project" / "settings.py"
README = Path(settings.BASE_DIR) / "README.md"
READERS = re.compile(
    r'(?:env_bool|env_int|env_list|persistent_secret|os\.environ\.get)\(\s*"([A-Z][A-Z0-9_]+)"'
)


def variables_read_by_settings() -> set[str]:
    return set(READERS.findall(SETTINGS_FILE.read_text()))


def variables_in_readme_table() -> set[str]:
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", README.read_text(), re.MULTILINE))


def test_settings_read_the_variables_this_test_expects():
    # Guards the regex itself: if it stopped matching, the next test would pass vacuously.
    found = variables_read_by_settings()
    assert {"SECRET_KEY", "DATABASE_URL", "TRUSTED_PROXY_COUNT", "OCR_MAX_PAGES"} <= found


def test_every_environment_variable_is_documented():
    missing = variables_read_by_settings() - variables_in_readme_table()
    assert not missing, f"Add these to the README's configuration table: {sorted(missing)}"


def test_readme_documents_no_variable_that_settings_ignore():
    stale = variables_in_readme_table() - variables_read_by_settings()
    assert not stale, f"The README documents variables settings never read: {sorted(stale)}"
