"""The audit trail: events recorded with the action they describe, sealed into an HMAC
chain and an RFC 6962 Merkle tree, signed tree heads, verification, retention, and the
staff surfaces that read it (API, admin, dashboard, exports).

``services.record_event`` is the one write path and ``events`` the closed vocabulary;
``transparency/`` holds the public formats an auditor checks without our keys. The
bottom app: every app may import it, it imports no other app. See docs/architecture.md.
"""
