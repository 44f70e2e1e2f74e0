"""Recording: who the client is, what may be stored, the request's id, refusals.

- ``client``: the client's address (proxy-aware), user agent and request id.
- ``sanitize``: untrusted text made safe to store and print; secrets redacted.
- ``middleware``: the request id for every request, and refusals of signed-in users.
- ``access``: ``access_denied`` events, coalesced so a script cannot flood the trail.
- ``writer_clock``: the writer MAC's clock reading, on the database's clock.

Two sides of the write path (``audit.services.record_event``), by role:

- below it, what it reads: ``client``, ``sanitize`` and ``writer_clock`` import nothing
  of ``audit`` but each other, so the write path and the other apps (throttling,
  lockouts) can all import them;
- above it, the request's hooks: ``middleware`` and ``access`` record through it.

They share the package because settings name both sides (MIDDLEWARE names
``middleware``, AXES_CLIENT_IP_CALLABLE ``client.client_ip``). The layers contract in
pyproject.toml places each module on its side: no module here imports one above it.
"""
