"""Shared code of the looker pack's sensor and action: Looker API access (client) and pure logic (jobs, retries)."""
