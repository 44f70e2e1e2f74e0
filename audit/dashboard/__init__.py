"""The staff dashboard: activity, failed logins, OCR throughput and the chain's state.

- ``views``: the page and the figures it shows; ``charts``: server-side SVG bar charts.
"""
