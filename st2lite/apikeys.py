"""API keys: long-lived credentials for scripts and services, stored only as hashes.

``POST /api/v1/apikeys`` makes a key of 24 random bytes (48 hex digits) and
shows it once; Redis keeps the key's SHA-256 (a fast hash suffices for a
random 192-bit secret, unlike a password) and a record with its owner, role,
metadata and whether it is enabled. Each key carries a role, at most its
maker's; while its owner is in the users file it also never outranks the
owner's current role (docs/auth.md).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from st2lite import keys
from st2lite.audit import AuditKind, AuditLog, encode_event, iso_z
from st2lite.exceptions import ApiKeyNotFoundError
from st2lite.ids import new_id
from st2lite.permissions import Role
from st2lite.redisdb import Redis
from st2lite.tokens import secret_hash

__all__ = ["ApiKey", "ApiKeyStore"]


class ApiKey(BaseModel):
    """What is stored of one API key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    user: str
    role: Role
    key_hash: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    #: ISO 8601 UTC with a ``Z``, as StackStorm answers.
    created_at: str = Field(default_factory=lambda: iso_z(datetime.now(UTC)))

    def public(self) -> dict[str, Any]:
        """StackStorm's shape (``key_hash``, never the key), plus st2lite's ``role``."""
        return {
            "id": self.id,
            "uid": f"api_key:{self.key_hash}",
            "user": self.user,
            "role": self.role.value,
            "key_hash": self.key_hash,
            "metadata": self.metadata,
            "enabled": self.enabled,
            "created_at": self.created_at,
        }


class ApiKeyStore:
    """Creates, finds, changes and deletes API keys."""

    def __init__(self, client: Redis, audit: AuditLog) -> None:
        self._client = client
        self._audit = audit

    def create(
        self, user: str, role: Role, *, actor: str, metadata: dict[str, Any] | None = None
    ) -> tuple[ApiKey, str]:
        """A new enabled key for ``user``: the stored record and the key itself (shown once)."""
        secret = secrets.token_hex(24)
        key = ApiKey(id=new_id(), user=user, role=role, key_hash=secret_hash(secret), metadata=metadata or {})
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(keys.API_KEYS, key.id, key.model_dump_json())
            pipe.hset(keys.API_KEY_HASHES, key.key_hash, key.id)
            self._audit.append_encoded(encode_event(AuditKind.API_KEY_CREATED, actor, data=key.public()), pipe)
            pipe.execute()
        return key, secret

    def lookup(self, secret: str) -> ApiKey | None:
        """The key's record if ``secret`` is a stored key (enabled or not), else None."""
        key_id = self._client.hget(keys.API_KEY_HASHES, secret_hash(secret))
        return self._by_id(str(key_id)) if key_id else None

    def get(self, ref: str) -> ApiKey:
        """The key with id ``ref`` (or whose key or key hash is ``ref``, as upstream accepts)."""
        found = self._by_id(ref)
        if found is None:
            key_id = self._client.hget(keys.API_KEY_HASHES, ref) or self._client.hget(
                keys.API_KEY_HASHES, secret_hash(ref)
            )
            found = self._by_id(str(key_id)) if key_id else None
        if found is None:
            raise ApiKeyNotFoundError(ref)
        return found

    def list(self) -> list[ApiKey]:
        """Every key, oldest first."""
        raw = self._client.hvals(keys.API_KEYS)
        return sorted((ApiKey.model_validate(orjson.loads(r)) for r in raw), key=lambda k: k.id)

    def update(
        self, ref: str, *, actor: str, enabled: bool | None = None, metadata: dict[str, Any] | None = None
    ) -> ApiKey:
        """Enable or disable a key, or replace its metadata."""
        key = self.get(ref)
        changes: dict[str, Any] = {}
        if enabled is not None:
            changes["enabled"] = enabled
        if metadata is not None:
            changes["metadata"] = metadata
        new = key.model_copy(update=changes)
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(keys.API_KEYS, new.id, new.model_dump_json())
            self._audit.append_encoded(encode_event(AuditKind.API_KEY_UPDATED, actor, data=new.public()), pipe)
            pipe.execute()
        return new

    def delete(self, ref: str, *, actor: str) -> ApiKey:
        key = self.get(ref)
        with self._client.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.API_KEYS, key.id)
            pipe.hdel(keys.API_KEY_HASHES, key.key_hash)
            self._audit.append_encoded(encode_event(AuditKind.API_KEY_DELETED, actor, data=key.public()), pipe)
            pipe.execute()
        return key

    def _by_id(self, key_id: str) -> ApiKey | None:
        raw = self._client.hget(keys.API_KEYS, key_id)
        return ApiKey.model_validate(orjson.loads(raw)) if raw else None
