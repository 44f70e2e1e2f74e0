"""Accounts: sign-in on pages, the admin and the JWT API, lockout, and the audit of every
change to users and groups.

Writes are in ``services`` (JWT login, refresh, logout, logout everywhere, unlock); the
actions Django owns (session login, failed logins, user and group saves by any path) are
recorded by the receivers in ``receivers`` and ``account_audit``. May import ``audit``;
``tasks`` may import this app; ``audit`` never does. See docs/architecture.md.
"""
