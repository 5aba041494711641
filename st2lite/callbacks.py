"""Callback tokens: made once per waiting task, kept only as a hash, checked in constant time.

A ``callback`` task (see :mod:`st2lite.runners.callback`) gets a random
token of 256 bits. Redis keeps only its sha256, so whoever reads Redis or
the API cannot complete the task; the clear token goes to the task's
``notify_cmd`` alone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["TOKEN_BYTES", "callback_path", "hash_token", "new_token", "token_matches"]

#: Random bytes in a token (256 bits).
TOKEN_BYTES = 32


def new_token() -> str:
    """A fresh URL-safe token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The stored form of ``token``: its sha256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str | None, stored_hash: str | None) -> bool:
    """True when ``token`` hashes to ``stored_hash`` (compared in constant time)."""
    if not token or not stored_hash:
        return False
    return hmac.compare_digest(hash_token(token), stored_hash)


def callback_path(execution_id: str) -> str:
    """Where the outside system posts the outcome, under the API's base URL."""
    return f"/api/v1/callbacks/{execution_id}"
