"""`manage.py ensure_admin`: the first administrator; its password in a mode-600 file only."""

import io
import re
import stat
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

User = get_user_model()


@pytest.fixture(autouse=True)
def own_var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def run(*args) -> str:
    out = io.StringIO()
    call_command("ensure_admin", *args, stdout=out)
    return out.getvalue()


def credentials(output: str) -> tuple[str, str]:
    """Return the credentials from the file the output names; the output holds no password."""
    path = Path(re.search(r"password is in\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    username = re.search(r"username: (\S+)", text)
    password = re.search(r"password: (\S+)", text)
    assert username and password, text
    assert password.group(1) not in output
    return username.group(1), password.group(1)


@pytest.mark.django_db
def test_an_empty_database_gets_a_superuser_with_a_printed_password():
    username, password = credentials(run())
    admin = User.objects.get()
    assert (admin.username, username) == ("admin", "admin")
    assert admin.is_superuser and admin.is_staff and admin.is_active
    assert admin.check_password(password)
    assert len(password) >= 20


@pytest.mark.django_db
def test_each_empty_database_gets_a_different_password():
    first = credentials(run())[1]
    User.objects.all().delete()
    second = credentials(run())[1]
    assert first != second
    assert User.objects.get().check_password(second)


@pytest.mark.django_db
def test_the_username_can_be_chosen():
    assert credentials(run("--username", "root"))[0] == "root"
    assert User.objects.get().username == "root"


def test_with_users_present_nothing_is_created_or_revealed(make_user):
    existing = make_user(username="alice")
    output = run()
    assert "password" not in output.lower()
    assert list(User.objects.all()) == [existing]
    assert not User.objects.filter(is_superuser=True).exists()
