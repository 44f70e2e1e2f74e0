"""The Django admin of the audit trail: read-only, built for millions of rows.

- ``event_admin``: the AuditEvent ModelAdmin (registered on import, which Django's admin
  autodiscovery does).
- ``filters``: the sidebar filters; ``queries``: how the changelist reads without scans.
- ``audited``: ModelAdmins whose pages are audited staff actions (used by accounts too).
"""

from . import event_admin  # noqa: F401  (registers the ModelAdmin)
