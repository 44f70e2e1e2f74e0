"""Create the first administrator on an empty database and print its password once."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = (
        "If the database has no users, create a superuser with a random password and "
        "print the credentials once. Does nothing when any user exists."
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
        # Printed once: only its hash is stored, so it cannot be shown again.
        self.stdout.write(
            self.style.SUCCESS(
                "\n"
                "  Created administrator account (shown only this once):\n"
                f"    username: {username}\n"
                f"    password: {password}\n"
                "  Change it after logging in: /accounts/password/\n"
            )
        )
