"""The project package: settings from the environment, URL wiring, site-wide error pages,
``/healthz``, the OpenAPI error shapes and the supervisor ``make run`` starts.

It wires the apps together and may import them; no app's code imports it.
"""
