"""The notify pack's logic: what a notification says (pure) and how it is delivered (httpx, slack-sdk)."""
