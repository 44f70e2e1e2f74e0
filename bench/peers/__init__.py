"""The request-overhead figure's configurations: the project and the audit libraries beside it.

One settings module per configuration, each the project's settings plus at most one
peer's app and middleware, and the same fast password hasher everywhere, so a login
costs the same hash on every side. Nothing here is imported by the service.
"""
