"""Receivers for signals the audit app does not own, connected in AuditConfig.ready()."""

from django.db.backends.signals import connection_created

from .api.networks import register_sqlite_function


def connect() -> None:
    # SQLite answers address ranges through a function of ours (audit.networks).
    connection_created.connect(register_sqlite_function, dispatch_uid="audit_ip_in_network")
