"""API tokens for machines: scoped, expiring, revocable credentials sent as `Bearer ocrs_…`.

`format` makes and parses the token text, `scopes` says what each scope opens, `services`
creates, revokes and authenticates tokens (every step audited), `authentication` and
`permissions` are the DRF side, `admin`, `api` and the `api_token` command are thin
interfaces on the services. Other apps import only `permissions.TokenScopePermission`
(through settings) and name scopes as strings.
"""
