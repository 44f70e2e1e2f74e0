"""The project's own settings, with the fast password hasher every configuration uses."""

from ocr_project.settings import *  # noqa: F403

# A login's PBKDF2 would dwarf what any audit library adds; the peers use the same.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
