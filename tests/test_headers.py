"""Security headers: CSP with nonces, nosniff, Referrer-Policy, cookie flags and HSTS."""

import os
import re
import secrets
import subprocess
import sys
from http.cookies import Morsel

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from audit.tests.fixtures import PASSWORD
from tasks.services.creation import task_create_batch
from tasks.tests import samples

pytestmark = pytest.mark.django_db

NONCE = re.compile(r"'nonce-([A-Za-z0-9+/=_-]+)'")
SCRIPT_TAG = re.compile(rb"<script\b[^>]*>", re.IGNORECASE)
# Inline event handlers and javascript: URLs are inline script a nonce cannot cover.
INLINE_HANDLER = re.compile(rb"<[^>]+\son[a-z]+\s*=|javascript:", re.IGNORECASE)


@pytest.fixture
def task(user):
    png = samples.encode_image(samples.make_text_image(["header"]), format="PNG")
    return task_create_batch(owner=user, uploads=[SimpleUploadedFile("scan.png", png)])[0]


def page_urls(task) -> dict[str, tuple[str, str]]:
    """Pages that render HTML: (who views it, url)."""
    return {
        "login": ("anonymous", "/accounts/login/"),
        "task-list": ("user", "/"),
        "upload": ("user", "/tasks/upload/"),
        "detail": ("user", f"/tasks/{task.pk}/"),
        "confirm-delete": ("user", f"/tasks/{task.pk}/delete/"),
        "password-change": ("user", "/accounts/password/"),
        "admin-login": ("anonymous", "/admin/login/"),
        "admin-index": ("staff", "/admin/"),
        "admin-audit-changelist": ("staff", "/admin/audit/auditevent/"),
        "admin-task-changelist": ("staff", "/admin/tasks/ocrtask/"),
        "admin-cleanup": ("staff", "/admin/tasks/ocrtask/cleanup/"),
        "not-found": ("user", "/no-such-page/"),
    }


PAGES = list(page_urls(type("Task", (), {"pk": "0"})))


@pytest.fixture
def viewer(user, staff, client_for):
    return {"anonymous": Client(), "user": client_for(user), "staff": client_for(staff)}


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


@pytest.mark.parametrize("page", PAGES)
def test_every_script_on_our_pages_carries_the_nonce_of_the_csp_header(viewer, task, page):
    who, url = page_urls(task)[page]

    response = viewer[who].get(url)

    assert response.status_code in (200, 404)
    policy = directives(response)
    scripts = SCRIPT_TAG.findall(response.content)
    if scripts:
        [nonce] = NONCE.findall(policy["script-src"])
        for tag in scripts:
            assert f'nonce="{nonce}"'.encode() in tag, tag
    assert "'unsafe-inline'" not in policy["script-src"]
    assert not INLINE_HANDLER.search(response.content)


def test_the_nonce_is_fresh_for_every_response(viewer):
    first = directives(viewer["anonymous"].get("/accounts/login/"))["script-src"]
    second = directives(viewer["anonymous"].get("/accounts/login/"))["script-src"]

    assert NONCE.findall(first) != NONCE.findall(second)


def test_the_policy_locks_down_everything_else(viewer):
    policy = directives(viewer["anonymous"].get("/accounts/login/"))

    assert policy["default-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["form-action"] == "'self'"


def test_api_docs_load_scripts_only_from_files_of_our_own(viewer):
    response = viewer["user"].get("/api/docs/")

    assert response.status_code == 200
    policy = directives(response)
    assert "'unsafe-inline'" not in policy["script-src"]
    for tag in SCRIPT_TAG.findall(response.content):
        # No inline script: each has a same-origin src the 'self' source allows.
        assert re.search(rb'src="/', tag), tag


@pytest.mark.parametrize(("accept", "lang"), [("en", "en"), ("zh-hans", "zh-hans")])
def test_api_docs_page_says_its_language(viewer, accept, lang):
    # drf-spectacular's own template has a bare <html>; ours (templates/drf_spectacular/).
    response = viewer["user"].get("/api/docs/", HTTP_ACCEPT_LANGUAGE=accept)

    assert response.status_code == 200
    assert re.search(rb"<html lang=\"([^\"]+)\">", response.content).group(1) == lang.encode()
    # The UI is still drawn by its own files, under the same policy.
    assert b'id="swagger-ui"' in response.content
    assert "'unsafe-inline'" not in directives(response)["script-src"]


def header_samples(viewer, task) -> dict[str, object]:
    return {
        "page": viewer["user"].get("/"),
        "login": viewer["anonymous"].get("/accounts/login/"),
        "api-json": viewer["user"].get("/api/v2/tasks"),
        "api-401": viewer["anonymous"].get("/api/v2/tasks"),
        "download": viewer["user"].get(f"/tasks/{task.pk}/original/"),
        "page-image": viewer["user"].get(f"/tasks/{task.pk}/pages/1.png"),
        "not-found": viewer["user"].get("/no-such-page/"),
    }


@pytest.mark.parametrize(
    "kind", ["page", "login", "api-json", "api-401", "download", "page-image", "not-found"]
)
def test_every_response_has_nosniff_referrer_policy_and_frame_denial(viewer, task, kind):
    response = header_samples(viewer, task)[kind]

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


# --- Production settings ---------------------------------------------------------------


@pytest.fixture
def production(settings):
    """The settings SECURE_COOKIES=1, SECURE_HSTS_SECONDS and SECURE_HSTS_PRELOAD give."""
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.LANGUAGE_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True


def assert_cookie_locked_down(cookie: Morsel) -> None:
    assert cookie["secure"] is True, cookie.OutputString()
    assert cookie["httponly"] is True, cookie.OutputString()
    assert cookie["samesite"] == "Lax", cookie.OutputString()


@pytest.mark.usefixtures("production")
def test_session_csrf_and_language_cookies_are_secure_httponly_and_lax(user):
    client = Client()
    login_page = client.get("/accounts/login/", secure=True)
    token = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    logged_in = client.post(
        "/accounts/login/",
        {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        secure=True,
    )
    language = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"}, secure=True)

    assert_cookie_locked_down(login_page.cookies[django_settings.CSRF_COOKIE_NAME])
    assert_cookie_locked_down(logged_in.cookies[django_settings.SESSION_COOKIE_NAME])
    assert_cookie_locked_down(language.cookies[django_settings.LANGUAGE_COOKIE_NAME])


@pytest.mark.usefixtures("production")
def test_hsts_is_sent_over_https_only():
    secure = Client().get("/accounts/login/", secure=True)
    plain = Client().get("/accounts/login/")

    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "Strict-Transport-Security" not in plain


def test_plain_http_is_redirected_to_https_when_configured(settings):
    settings.SECURE_SSL_REDIRECT = True

    response = Client().get("/accounts/login/")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/"


PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_COOKIES": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_PRELOAD": "1",
    "ALLOWED_HOSTS": "example.com",
}


def check_deploy(tmp_path, **env: str) -> subprocess.CompletedProcess:
    """Run `manage.py check --deploy` in a fresh process with only this environment."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": secrets.token_urlsafe(60),
        "AUDIT_SIGNING_KEY": secrets.token_urlsafe(60),
        "AUDIT_CHAIN_KEYS": "k1:" + secrets.token_urlsafe(60),
        **env,
    }
    if os.environ.get("DATABASE_URL"):
        environment["DATABASE_URL"] = os.environ["DATABASE_URL"]
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=django_settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_the_production_environment(tmp_path):
    result = check_deploy(tmp_path, **PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_complains_about_a_laptop_environment(tmp_path):
    # The same check fails loudly when the production variables are missing.
    result = check_deploy(tmp_path, DEBUG="1", SECRET_KEY="short")

    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout


def test_favicon_is_served_from_static_files(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"].startswith("/static/favicon")
    assert response["Location"].endswith(".svg")
    page = client.get("/accounts/login/")
    assert b'rel="icon"' in page.content
