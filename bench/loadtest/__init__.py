"""The load test behind bench/load.py: a real gunicorn, concurrent clients, a judged trail.

- server: the throwaway database, gunicorn, manage.py commands run against them
- exchanges: one HTTP request's record and the bodies the clients send
- events: the audit events a request can promise
- clients: the simulated users and what they do
- results: what one database's run measured
- checks: matching audit rows to requests, the chain, the secrets scan, the SIEM stream
- run: one database's run from migration to verdict
- report: the printed tables
"""
