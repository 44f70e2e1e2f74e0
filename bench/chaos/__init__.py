"""The multi-host fault suite (`make chaos`): the README's deployment in network namespaces.

netns: the namespaces, the bridge and the cuts. cluster: PostgreSQL, moto's S3 server,
haproxy, the web and worker hosts. clients: the load through haproxy. tally: pure
counting and the Markdown table (tests/test_chaos_tally.py). run: the stages.
"""
