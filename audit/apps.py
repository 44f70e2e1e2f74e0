from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import (
            checks,  # noqa: F401  (registers system checks)
            receivers,
        )

        post_migrate.connect(link_current_chain_key, sender=self)
        receivers.connect()


def link_current_chain_key(*, using: str, plan=None, **kwargs) -> None:
    """After migrating, record the switch to the configured chain key if it is new."""
    from django.db import connections

    from .models import ChainHead
    from .services import switch_to_keyed_chain

    if (
        using != "default"
        or "audit_chainhead" not in connections[using].introspection.table_names()
    ):
        return
    if ChainHead.objects.filter(pk=1, sequence__gt=0).exists():
        switch_to_keyed_chain()
