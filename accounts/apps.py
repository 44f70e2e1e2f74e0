from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from . import account_audit, checks, receivers, schema  # noqa: F401  (registers them)
        from .api_tokens import schema as api_token_schema  # noqa: F401  (registers it)
