"""Auth tokens: short-lived credentials issued by ``POST /auth/v1/tokens``, kept in Redis.

A token is 32 random bytes (64 hex digits) shown once to its owner. Redis
keeps only its SHA-256, under a key that expires with the token, so tokens
survive an API restart (the ``st2`` CLI caches them in ``~/.st2``) and a
leaked Redis dump holds nothing usable.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from st2lite import keys
from st2lite.audit import AuditKind, AuditLog, encode_event, iso_z
from st2lite.ids import new_id
from st2lite.redisdb import Redis

__all__ = ["Token", "TokenStore", "secret_hash"]


def secret_hash(secret: str) -> str:
    """The SHA-256 (hex) under which a token or API key is stored and looked up."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Token(BaseModel):
    """What is stored of one token (never the token itself)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    user: str
    #: When it stops being accepted: ISO 8601 UTC with a ``Z``, as StackStorm answers.
    expiry: str
    metadata: dict[str, Any] = Field(default_factory=dict)

    def public(self, secret: str) -> dict[str, Any]:
        """StackStorm's token body: ``{id, user, token, expiry, metadata}`` (the only time ``token`` is shown)."""
        return {"id": self.id, "user": self.user, "token": secret, "expiry": self.expiry, "metadata": self.metadata}

    def expires_at(self) -> datetime:
        return datetime.strptime(self.expiry, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class TokenStore:
    """Issues, looks up and revokes tokens."""

    def __init__(self, client: Redis, audit: AuditLog) -> None:
        self._client = client
        self._audit = audit

    def issue(self, user: str, ttl: int, *, actor: str, metadata: dict[str, Any] | None = None) -> tuple[Token, str]:
        """A new token for ``user`` valid ``ttl`` seconds: the stored record and the token (shown once)."""
        secret = secrets.token_hex(32)
        token = Token(
            id=new_id(),
            user=user,
            expiry=iso_z(datetime.now(UTC) + timedelta(seconds=ttl)),
            metadata=metadata or {},
        )
        with self._client.pipeline(transaction=True) as pipe:
            pipe.set(keys.auth_token(secret_hash(secret)), token.model_dump_json(), ex=ttl)
            self._audit.append_encoded(
                encode_event(AuditKind.TOKEN_CREATED, actor, data={"id": token.id, "user": user, "ttl": ttl}), pipe
            )
            pipe.execute()
        return token, secret

    def lookup(self, secret: str) -> Token | None:
        """The token's record while it is valid, else None."""
        raw = self._client.get(keys.auth_token(secret_hash(secret)))
        if raw is None:
            return None
        token = Token.model_validate(orjson.loads(raw))
        return token if token.expires_at() > datetime.now(UTC) else None

    def revoke(self, secret: str) -> bool:
        """Forget the token; True when it was valid."""
        return bool(self._client.delete(keys.auth_token(secret_hash(secret))))
