"""The datastore (key-value), as StackStorm's: named string values per scope, TTLs, encrypted secrets.

Redis layout (every key in :mod:`st2lite.keys`):

- ``st2lite:kv:<scope>:<name>``: a hash per value. Fields: ``v`` the value as
  stored (a Fernet token for a secret), ``s`` ``"1"`` for a secret, ``t`` the
  TTL given and ``x`` when it expires (Unix seconds); Redis expires the hash.
- ``st2lite:kvindex:<scope>``: every name of the scope in a sorted set scored
  0, so a page of names (optionally by prefix) is one ``ZRANGEBYLEX``.
- ``st2lite:kvexpiry:<scope>``: the names with a TTL scored by expiry time;
  listing drops expired names from both indexes first (``lua/kv_list.lua``),
  so nothing ever scans the database.

``<scope>`` is ``system`` or ``user:<username>``. A change writes the hash,
the indexes, the ``core.st2.key_value_pair.*`` trigger instances and the audit
event in one ``MULTI``/``EXEC`` (retried if the value changed meanwhile).
Secret values are masked (:data:`MASK`) in every :class:`KeyValuePair`, trigger
payload and audit event unless the caller asks to decrypt.

Templates read values through :func:`kv_lookup`, which gives what is stored: a
secret's token, which ``decrypt_kv`` decrypts (:func:`install_decrypt_kv`).
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from st2lite import keys
from st2lite.audit import AuditKind, AuditLog, encode_event
from st2lite.bus import RedisBus
from st2lite.config import Settings
from st2lite.encryption import DatastoreKey, looks_encrypted
from st2lite.exceptions import DatastoreError, EncryptionKeyError, KeyValueNotFoundError
from st2lite.redisdb import Pipeline, Redis, load_script
from st2lite.triggers import (
    KV_CREATE_TRIGGER,
    KV_DELETE_TRIGGER,
    KV_UPDATE_TRIGGER,
    KV_VALUE_CHANGE_TRIGGER,
    TriggerInstance,
)

if TYPE_CHECKING:  # jinja2 stays out of processes that only store values (Python actions)
    from st2lite.templating import KvLookup

__all__ = [
    "DEFAULT_USER",
    "MASK",
    "KeyValuePair",
    "KeyValueStore",
    "Scope",
    "get_value",
    "install_decrypt_kv",
    "kv_lookup",
    "masked_kv_lookup",
    "parse_scope",
]

log = logging.getLogger(__name__)

#: What a secret value shows instead of its value.
MASK = "********"
#: The user of ``st2kv.user`` when a request names none (there is no authentication yet).
DEFAULT_USER = "st2lite"
SYSTEM: Literal["st2kv.system"] = "st2kv.system"
USER: Literal["st2kv.user"] = "st2kv.user"
Scope = Literal["st2kv.system", "st2kv.user"]

_SCOPES: dict[str, Scope] = {"system": SYSTEM, SYSTEM: SYSTEM, "user": USER, USER: USER}
_ALL = "all"
_MAX_NAME = 512
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Hash fields.
_VALUE, _SECRET, _TTL, _EXPIRES = "v", "s", "t", "x"


def parse_scope(scope: str | None, *, allow_all: bool = False) -> Scope | None:
    """``system``/``st2kv.system`` or ``user``/``st2kv.user`` to the long form; ``all`` (or nothing) to ``None``.

    Where one scope is needed (``allow_all`` false), ``all`` and nothing mean system, as in StackStorm.

    Raises:
        DatastoreError: Any other scope.
    """
    if scope is None or scope == "" or scope == _ALL:
        return None if allow_all else SYSTEM
    try:
        return _SCOPES[scope]
    except KeyError:
        allowed = "system, user or all" if allow_all else "system or user"
        raise DatastoreError(
            f"scope '{scope}' is not a datastore scope; use {allowed} (st2kv.system and st2kv.user also work)"
        ) from None


class KeyValuePair(BaseModel):
    """One datastore value as callers see it: ``value`` is :data:`MASK` for a secret unless decrypted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    value: str
    scope: Scope = SYSTEM
    #: The owner of a ``st2kv.user`` value; ``None`` in ``st2kv.system``.
    user: str | None = None
    secret: bool = False
    #: True when ``value`` is not the clear text (a secret, not decrypted), as StackStorm reports it.
    encrypted: bool = False
    #: The TTL the value was set with, in seconds.
    ttl: int | None = None
    #: When the value expires (ISO 8601 UTC, ``Z``).
    expire_timestamp: str | None = None

    @property
    def uid(self) -> str:
        owner = f"{self.user}:" if self.user else ""
        return f"key_value_pair:{self.scope}:{owner}{self.name}"

    def public(self) -> dict[str, Any]:
        """The StackStorm API shape (``GET /api/v1/keys/{name}``); empty optional fields are left out."""
        out: dict[str, Any] = {
            "id": self.uid,
            "uid": self.uid,
            "name": self.name,
            "value": self.value,
            "secret": self.secret,
            "encrypted": self.encrypted,
            "scope": self.scope,
        }
        for field in ("user", "ttl", "expire_timestamp"):
            if getattr(self, field) is not None:
                out[field] = getattr(self, field)
        return out


class KeyValueStore:
    """Set, get, list and delete datastore values; every change emits its triggers and audit event."""

    def __init__(
        self,
        client: Redis,
        *,
        key: DatastoreKey,
        actor: str,
        trigger_maxlen: int,
        audit_maxlen: int,
        max_value_bytes: int,
    ) -> None:
        self._client = client
        self.key = key
        self._actor = actor
        self._max_value_bytes = max_value_bytes
        self._audit = AuditLog(client, maxlen=audit_maxlen)
        self._bus = RedisBus(client, maxlen=trigger_maxlen, audit=self._audit)
        self._list_script = load_script(client, "kv_list")

    @classmethod
    def for_settings(cls, client: Redis, settings: Settings, *, actor: str) -> KeyValueStore:
        return cls(
            client,
            key=DatastoreKey(settings.datastore_key_path),
            actor=actor,
            trigger_maxlen=settings.trigger_stream_maxlen,
            audit_maxlen=settings.audit_stream_maxlen,
            max_value_bytes=settings.max_payload_bytes,
        )

    # -- reads ------------------------------------------------------------------------------------

    def get(
        self, name: str, *, scope: str | None = None, user: str | None = None, decrypt: bool = False
    ) -> KeyValuePair:
        """The value ``name`` of ``scope`` (``user``'s own for the user scope).

        Raises:
            KeyValueNotFoundError: There is none (or it expired).
            EncryptionKeyError: ``decrypt`` of a secret without the key it was encrypted with.
        """
        long_scope, owner, fields = self._read(name, scope, user)
        if not fields:
            raise KeyValueNotFoundError(name, long_scope, owner)
        return self._item(name, long_scope, owner, fields, decrypt=decrypt)

    def stored_value(
        self, name: str, *, scope: str | None = None, user: str | None = None, decrypt: bool = False
    ) -> str | None:
        """The value of ``name`` as stored (a secret's token unless ``decrypt``), or ``None`` when there is none."""
        _scope, _owner, fields = self._read(name, scope, user)
        if not fields:
            return None
        if decrypt:
            return self._clear(name, fields)
        return str(fields.get(_VALUE, ""))

    def _read(self, name: str, scope: str | None, user: str | None) -> tuple[Scope, str | None, dict[str, str]]:
        long_scope, owner = self._where(name, scope, user)
        return long_scope, owner, self._client.hgetall(keys.kv(_storage(long_scope, owner), name))

    def query(
        self,
        *,
        scope: str | None = None,
        user: str | None = None,
        prefix: str = "",
        decrypt: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[KeyValuePair], int]:
        """The values whose name starts with ``prefix``, ordered by name, and how many match in all.

        ``scope`` ``all`` (or ``None``) lists ``st2kv.system`` then ``user``'s ``st2kv.user`` values.
        """
        if limit is not None and limit < 0:
            raise DatastoreError(f"limit must be 0 or more, got {limit}")
        if offset < 0:
            raise DatastoreError(f"offset must be 0 or more, got {offset}")
        wanted = parse_scope(scope, allow_all=True)
        owner = _check_user(user or DEFAULT_USER)
        scopes: list[tuple[Scope, str | None]] = []
        if wanted in (None, SYSTEM):
            scopes.append((SYSTEM, None))
        if wanted in (None, USER):
            scopes.append((USER, owner))
        items: list[KeyValuePair] = []
        total = 0
        for long_scope, scope_user in scopes:
            # Skip what earlier scopes held; ask for what the page still needs.
            skip = max(0, offset - total)
            need = -1 if limit is None else max(0, limit - len(items))
            found, count = self._page(long_scope, scope_user, prefix, skip, need, decrypt)
            items.extend(found)
            total += count
        return items, total

    def _page(
        self, scope: Scope, user: str | None, prefix: str, offset: int, count: int, decrypt: bool
    ) -> tuple[list[KeyValuePair], int]:
        storage = _storage(scope, user)
        low: str | bytes = "-"
        high: str | bytes = "+"
        if prefix:
            # Names are UTF-8, which never has the byte 0xFF: [prefix .. prefix+0xFF] is every name with the prefix.
            low, high = "[" + prefix, b"[" + prefix.encode("utf-8") + b"\xff"
        reply = self._list_script(
            keys=[keys.kv_index(storage), keys.kv_expiry(storage)],
            args=[f"{time.time():.3f}", low, high, offset, count, keys.kv(storage, "")],
        )
        total = int(reply[0])
        if count == 0:
            return [], total
        pairs = reply[1:]
        items = [
            self._item(str(pairs[i]), scope, user, _hash(pairs[i + 1]), decrypt=decrypt)
            for i in range(0, len(pairs), 2)
        ]
        return items, total

    # -- changes ----------------------------------------------------------------------------------

    def set(
        self,
        name: str,
        value: Any,
        *,
        scope: str | None = None,
        user: str | None = None,
        secret: bool = False,
        encrypted: bool = False,
        ttl: Any = None,
        dry_run: bool = False,
        actor: str | None = None,
    ) -> KeyValuePair:
        """Create or replace ``name``; return it (masked when secret).

        ``secret`` encrypts ``value``; ``encrypted`` says ``value`` is already a
        token made with this datastore's key (stored as it is, as a secret).
        Setting again replaces everything: a value set without ``ttl`` no longer expires.
        ``dry_run`` checks everything (the key file too) and writes nothing.
        ``actor`` names who asked in the audit event (default: this store's actor).

        Raises:
            DatastoreError: A bad name, scope, user, value or ttl; nothing is changed.
            EncryptionKeyError: A secret, and no usable key file.
        """
        long_scope, owner, fields = self._checked_fields(name, value, scope, user, secret, encrypted, ttl)
        new = self._item(name, long_scope, owner, fields, decrypt=False)
        if dry_run:
            return new
        expires = float(fields[_EXPIRES]) if _EXPIRES in fields else None
        storage = _storage(long_scope, owner)
        value_key = keys.kv(storage, name)

        def write(pipe: Pipeline) -> KeyValuePair | None:
            old_fields = pipe.hgetall(value_key)
            old = self._item(name, long_scope, owner, old_fields, decrypt=False) if old_fields else None
            pipe.multi()
            pipe.delete(value_key)
            pipe.hset(value_key, mapping=fields)
            pipe.zadd(keys.kv_index(storage), {name: 0})
            if expires is not None:
                pipe.pexpireat(value_key, int(expires * 1000))
                pipe.zadd(keys.kv_expiry(storage), {name: expires})
            else:
                pipe.zrem(keys.kv_expiry(storage), name)
            if old is None:
                self._emit(pipe, KV_CREATE_TRIGGER, {"object": new.public()})
            else:
                self._emit(pipe, KV_UPDATE_TRIGGER, {"object": new.public()})
                if self._changed(name, old_fields, fields):
                    self._emit(pipe, KV_VALUE_CHANGE_TRIGGER, {"old_object": old.public(), "new_object": new.public()})
            kind = AuditKind.KEY_CREATED if old is None else AuditKind.KEY_UPDATED
            self._audit.append_encoded(encode_event(kind, actor or self._actor, data=new.public()), pipe)
            return old

        old = self._client.transaction(write, value_key, value_from_callable=True)
        log.debug("datastore: %s %s (%s)", "updated" if old else "created", name, storage)
        return new

    def _checked_fields(
        self, name: str, value: Any, scope: str | None, user: str | None, secret: bool, encrypted: bool, ttl: Any
    ) -> tuple[Scope, str | None, dict[str, str]]:
        """Check a :meth:`set`: its scope, user and hash fields (the value encrypted)."""
        long_scope, owner = self._where(name, scope, user)
        text = self._check_value(name, value)
        seconds = _check_ttl(ttl)
        if encrypted:
            if not looks_encrypted(text):
                raise DatastoreError(
                    f"the value of '{name}' is marked encrypted but is not a token of this datastore; "
                    "send the clear text with secret=true (st2lite key set --encrypt) instead"
                )
            self.key.decrypt(text, what=f"the encrypted value given for '{name}'")
            stored = text
        else:
            stored = self.key.encrypt(text) if secret else text
        fields: dict[str, str] = {_VALUE: stored}
        if secret or encrypted:
            fields[_SECRET] = "1"
        if seconds is not None:
            fields[_TTL] = str(seconds)
            fields[_EXPIRES] = f"{time.time() + seconds:.3f}"
        return long_scope, owner, fields

    def delete(
        self, name: str, *, scope: str | None = None, user: str | None = None, actor: str | None = None
    ) -> KeyValuePair:
        """Delete ``name``; return what it was (masked when secret).

        Raises:
            KeyValueNotFoundError: There is none; nothing is changed.
        """
        long_scope, owner = self._where(name, scope, user)
        storage = _storage(long_scope, owner)
        value_key = keys.kv(storage, name)

        def remove(pipe: Pipeline) -> KeyValuePair | None:
            fields = pipe.hgetall(value_key)
            if not fields:
                return None
            gone = self._item(name, long_scope, owner, fields, decrypt=False)
            pipe.multi()
            pipe.delete(value_key)
            pipe.zrem(keys.kv_index(storage), name)
            pipe.zrem(keys.kv_expiry(storage), name)
            self._emit(pipe, KV_DELETE_TRIGGER, {"object": gone.public()})
            event = encode_event(AuditKind.KEY_DELETED, actor or self._actor, data=gone.public())
            self._audit.append_encoded(event, pipe)
            return gone

        gone: KeyValuePair | None = self._client.transaction(remove, value_key, value_from_callable=True)
        if gone is None:
            raise KeyValueNotFoundError(name, long_scope, owner)
        log.debug("datastore: deleted %s (%s)", name, storage)
        return gone

    # -- helpers ----------------------------------------------------------------------------------

    def _where(self, name: str, scope: str | None, user: str | None) -> tuple[Scope, str | None]:
        _check_name(name)
        long_scope = parse_scope(scope) or SYSTEM
        owner = _check_user(user or DEFAULT_USER) if long_scope == USER else None
        return long_scope, owner

    def _check_value(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise DatastoreError(
                f"the value of '{name}' must be a string, not {type(value).__name__}; "
                "serialise structures to JSON first (the datastore stores strings, as StackStorm's)"
            )
        size = len(value.encode("utf-8"))
        if size > self._max_value_bytes:
            raise DatastoreError(
                f"the value of '{name}' is {size} bytes, over the limit of {self._max_value_bytes} bytes "
                "(setting max_payload_bytes); store large data elsewhere and keep a reference here"
            )
        return value

    def _item(
        self, name: str, scope: Scope, user: str | None, fields: dict[str, str], *, decrypt: bool
    ) -> KeyValuePair:
        secret = fields.get(_SECRET) == "1"
        value = fields.get(_VALUE, "")
        if secret:
            value = self.key.decrypt(value, what=f"the value of '{name}'") if decrypt else MASK
        expires = fields.get(_EXPIRES)
        return KeyValuePair(
            name=name,
            value=value,
            scope=scope,
            user=user,
            secret=secret,
            encrypted=secret and not decrypt,
            ttl=int(fields[_TTL]) if _TTL in fields else None,
            expire_timestamp=_iso(float(expires)) if expires else None,
        )

    def _changed(self, name: str, old: dict[str, str], new: dict[str, str]) -> bool:
        """Whether the clear text differs (tokens differ every time, so secrets are compared decrypted)."""
        if _SECRET not in old and _SECRET not in new:
            return old.get(_VALUE) != new.get(_VALUE)
        try:
            return self._clear(name, old) != self._clear(name, new)
        except EncryptionKeyError:
            return True

    def _clear(self, name: str, fields: dict[str, str]) -> str:
        value = fields.get(_VALUE, "")
        return self.key.decrypt(value, what=f"the value of '{name}'") if fields.get(_SECRET) == "1" else value

    def _emit(self, pipe: Pipeline, trigger: str, payload: dict[str, Any]) -> None:
        instance = TriggerInstance(trigger=trigger, payload=payload, source="datastore")
        self._bus.publish_in(pipe, instance, actor=self._actor)


def _storage(scope: Scope, user: str | None) -> str:
    return "system" if scope == SYSTEM else f"user:{user}"


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise DatastoreError("a datastore name must be a non-empty string")
    if len(name) > _MAX_NAME:
        raise DatastoreError(f"the datastore name '{name[:40]}...' is {len(name)} characters; keep it to {_MAX_NAME}")
    if _CONTROL.search(name):
        raise DatastoreError(f"the datastore name {name!r} contains a control character; use printable characters")


def _check_user(user: str) -> str:
    if ":" in user or _CONTROL.search(user) or len(user) > _MAX_NAME:
        raise DatastoreError(f"user {user!r} is not a valid user name; it may not contain ':' or control characters")
    return user


def _check_ttl(ttl: Any) -> int | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        raise DatastoreError(
            f"ttl must be a whole number of seconds above 0, got {ttl!r}; leave it out for a value that never expires"
        )
    return ttl


def _hash(flat: list[Any]) -> dict[str, str]:
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat), 2)}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# -- the template read path -------------------------------------------------------------------------


def get_value(client: Redis, scope: str, name: str) -> str | None:
    """The value as stored (a secret's token), or ``None``; ``scope`` is ``system`` or ``user:<name>``."""
    value = client.hget(keys.kv(scope, name), _VALUE)
    return None if value is None else str(value)


def kv_lookup(client: Redis) -> KvLookup:
    """A lookup function for :func:`st2lite.templating.kv_context` reading ``client``."""

    def lookup(scope: str, name: str) -> str | None:
        return get_value(client, scope, name)

    return lookup


def masked_kv_lookup(client: Redis) -> KvLookup:
    """:func:`kv_lookup` for showing a render to someone who may not see secrets: a secret reads as :data:`MASK`
    (so ``decrypt_kv`` leaves it masked too)."""

    def lookup(scope: str, name: str) -> str | None:
        value, secret = client.hmget(keys.kv(scope, name), [_VALUE, _SECRET])
        if value is None:
            return None
        return MASK if secret == "1" else str(value)

    return lookup


def install_decrypt_kv(key: DatastoreKey) -> None:
    """Make the ``decrypt_kv`` filter of this process decrypt secrets with ``key`` (other values pass through)."""

    from st2lite.template_filters import set_decryptor

    def decrypt(text: str) -> str:
        return key.decrypt(text, what="the value given to decrypt_kv") if looks_encrypted(text) else text

    set_decryptor(decrypt)
