"""The audit trail over HTTP: the staff API and its exports, and the public log endpoints.

- ``views``: GET /api/v2/admin/audit-logs (list, detail, proofs, export) for staff and SIEMs.
- ``filters``, ``networks``, ``time_bounds``: the filters integrators use, addresses and
  time bounds turned into index ranges.
- ``serializers``, ``pagination``: the shapes and page sizes of the API.
- ``export``: CSV, NDJSON and OCSF streams with constant memory.
- ``log``, ``well_known``: the transparency log's public face and its public keys.

Reads through ``audit.selectors`` and the models; writes only through ``audit.services``
(each read is an ``audit_view``).
"""
