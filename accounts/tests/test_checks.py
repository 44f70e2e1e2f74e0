"""Start-up checks refuse settings that would silently weaken logout."""

from accounts.checks import check_token_blacklist


def error_ids(errors) -> list[str]:
    return [error.id for error in errors]


def test_the_project_settings_pass():
    assert check_token_blacklist(None) == []


def test_missing_token_blacklist_app_is_an_error(settings):
    settings.INSTALLED_APPS = [
        app for app in settings.INSTALLED_APPS if app != "rest_framework_simplejwt.token_blacklist"
    ]
    errors = check_token_blacklist(None)
    assert error_ids(errors) == ["accounts.E001"]
    assert "token_blacklist" in errors[0].msg


def test_refresh_tokens_must_rotate_and_be_blacklisted(settings):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "BLACKLIST_AFTER_ROTATION": False}
    assert error_ids(check_token_blacklist(None)) == ["accounts.E002"]
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ROTATE_REFRESH_TOKENS": False}
    assert error_ids(check_token_blacklist(None)) == ["accounts.E002"]


def test_the_check_is_registered_with_django():
    from django.core.checks import registry

    assert check_token_blacklist in registry.registry.get_checks()
