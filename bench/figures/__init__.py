"""One module per group of figures; each returns rows for the report table."""
