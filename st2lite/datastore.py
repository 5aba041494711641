"""The datastore (key-value): the minimal read path templates need; issue 3 adds the rest.

Values are Redis strings at ``st2lite:kv:<scope>:<name>`` where scope is
``system`` or ``user:<username>``.
"""

from __future__ import annotations

from st2lite import keys
from st2lite.redisdb import Redis
from st2lite.templating import KvLookup

__all__ = ["get_value", "kv_lookup", "set_value"]


def get_value(client: Redis, scope: str, name: str) -> str | None:
    value = client.get(keys.kv(scope, name))
    return None if value is None else str(value)


def set_value(client: Redis, scope: str, name: str, value: str, *, ttl: int | None = None) -> None:
    client.set(keys.kv(scope, name), value, ex=ttl)


def kv_lookup(client: Redis) -> KvLookup:
    """A lookup function for :func:`st2lite.templating.kv_context` reading ``client``."""

    def lookup(scope: str, name: str) -> str | None:
        return get_value(client, scope, name)

    return lookup
