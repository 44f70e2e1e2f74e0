"""Create the first administrator on an empty database; its password goes to a private file."""

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

PASSWORD_FILE = "first-admin-password"  # noqa: S105 - a file name, not a password


def write_private(path: Path, text: str) -> None:
    """Write `text` to a new file readable by this user alone (mode 600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


class Command(BaseCommand):
    help = (
        "If the database has no users, create a superuser with a random password, written "
        "to VAR_DIR/first-admin-password (mode 600); print where. Does nothing when any "
        "user exists."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options):
        User = get_user_model()
        with transaction.atomic():
            if User.objects.exists():
                self.stdout.write("Users exist; no administrator created.")
                return
            password = secrets.token_urlsafe(18)
            User.objects.create_superuser(username=username, email="", password=password)
        # Never printed: `make run`'s output is a log someone may ship or paste; the
        # password lives in a file only this user can read (only its hash is stored).
        path = Path(settings.VAR_DIR) / PASSWORD_FILE
        write_private(path, f"username: {username}\npassword: {password}\n")
        self.stdout.write(
            self.style.SUCCESS(
                "\n"
                f"  Created administrator account {username!r}; its password is in\n"
                f"    {path.absolute()}\n"
                "  (readable by you only). Log in, change it at /accounts/password/,\n"
                "  then delete the file.\n"
            )
        )
