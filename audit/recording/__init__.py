"""Recording: who the client is, what may be stored, the request's id, refusals.

- ``client``: the client's address (proxy-aware), user agent and request id.
- ``sanitize``: untrusted text made safe to store and print; secrets redacted.
- ``middleware``: the request id for every request, and refusals of signed-in users.
- ``access``: ``access_denied`` events, coalesced so a script cannot flood the trail.
- ``writer_clock``: the writer MAC's clock reading, on the database's clock.

Imported by ``audit.services`` (the one write path) and by the other apps for the
client context; imports only ``audit``'s models, events and services contract.
"""
