"""Fixtures shared by every app's tests (imported from each tests/conftest.py)."""

import itertools

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

PASSWORD = "correct horse battery staple 42"
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The default PBKDF2 work factor makes each login ~0.3 s; tests need correctness, not cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def plain_static_storage(settings):
    # The manifest storage needs collectstatic; tests render pages without running it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def make_user(db):
    def make(*, username: str | None = None, staff: bool = False, superuser: bool = False):
        name = username or f"user{next(_numbers)}"
        User = get_user_model()
        if superuser:
            return User.objects.create_superuser(username=name, password=PASSWORD)
        return User.objects.create_user(username=name, password=PASSWORD, is_staff=staff)

    return make


@pytest.fixture
def user(make_user):
    return make_user(username="alice")


@pytest.fixture
def staff(make_user):
    return make_user(username="staffer", staff=True, superuser=True)


@pytest.fixture
def browser_headers():
    return {"HTTP_USER_AGENT": "pytest-browser/1.0", "REMOTE_ADDR": "203.0.113.7"}


@pytest.fixture
def client_for(browser_headers):
    """Return a logged-in test client for a user."""

    def make(user) -> Client:
        client = Client(**browser_headers)
        client.force_login(user)
        return client

    return make


@pytest.fixture
def api_login(client):
    """Log in through the JWT API and return the token pair."""

    def login(user, **extra):
        response = client.post(
            "/api/v2/auth/login",
            {"username": user.username, "password": PASSWORD},
            content_type="application/json",
            **extra,
        )
        assert response.status_code == 200, response.content
        return response.json()

    return login
