"""Guarantee tests: real st2lite processes against real redis-servers (``pytest -m e2e``)."""
