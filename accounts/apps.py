from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from . import account_audit, checks, receivers, schema  # noqa: F401  (registers them)
        from .api_tokens import schema as api_token_schema  # noqa: F401  (registers it)
