"""Reading processed trigger instances: the records the rules engine writes, listed through their indexes.

The rules engine writes each trigger instance it processed as one JSON record
(``st2lite:triggerinstance:<id>``, with ``status`` and ``enforcements``) and,
in the same batch, adds its id to two sorted sets scored by when it occurred:
one of all instances and one per trigger type (:func:`index_in`). Records
expire with ``execution_ttl``; :meth:`TriggerInstanceStore.prune_all` drops
the index entries that outlived them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from st2lite import keys
from st2lite.batch import WriteBatch, add_to_indexes
from st2lite.exceptions import TriggerInstanceNotFoundError
from st2lite.redisdb import Pipeline, Redis
from st2lite.triggers import TriggerInstance

__all__ = ["STATUSES", "TriggerInstanceFilter", "TriggerInstanceStore", "index_in"]

#: StackStorm's trigger instance statuses; st2lite stores an instance once processed, so only
#: ``processed`` is ever found (the others filter to nothing rather than being refused).
STATUSES = ("pending", "processing", "processed", "processing_failed")


def index_in(pipe: Pipeline | WriteBatch, instance: TriggerInstance) -> None:
    """Queue the index entries of ``instance`` (one ``+ZADD`` in a batch)."""
    at_ms = int(instance.occurred_at.timestamp() * 1000)
    add_to_indexes(
        pipe, [keys.TRIGGER_INSTANCES_ALL, keys.trigger_instance_index(instance.trigger)], instance.id, at_ms
    )


@dataclass(frozen=True)
class TriggerInstanceFilter:
    """What ``GET /api/v1/triggerinstances`` filters on; None means any."""

    trigger: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class TriggerInstanceStore:
    """Gets and lists processed trigger instance records, newest first."""

    def __init__(self, client: Redis, *, ttl: int) -> None:
        self._client = client
        self._ttl = ttl

    def get(self, instance_id: str) -> dict[str, Any]:
        """The stored record of ``instance_id``; raises :class:`TriggerInstanceNotFoundError`."""
        raw = self._client.get(keys.trigger_instance(instance_id))
        if not raw:
            raise TriggerInstanceNotFoundError(instance_id)
        record: dict[str, Any] = orjson.loads(raw)
        return record

    def search(self, flt: TriggerInstanceFilter, *, limit: int, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Up to ``limit`` records matching ``flt``, newest first, and how many match in all."""
        if flt.status is not None and flt.status != "processed":
            return [], 0
        key = keys.trigger_instance_index(flt.trigger) if flt.trigger else keys.TRIGGER_INSTANCES_ALL
        horizon = int((time.time() - self._ttl) * 1000)
        low = max(horizon, int(flt.since.timestamp() * 1000) + 1 if flt.since else horizon)
        high: str | int = int(flt.until.timestamp() * 1000) - 1 if flt.until else "+inf"
        with self._client.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", f"({horizon}")
            pipe.zcount(key, low, high)
            pipe.zrevrangebyscore(key, high, low, start=offset, num=limit)
            _, total, ids = pipe.execute()
        if not ids:
            return [], int(total)
        raws = self._client.mget([keys.trigger_instance(i) for i in ids])
        return [orjson.loads(raw) for raw in raws if raw], int(total)

    def prune_all(self) -> int:
        """Drop index entries older than the retention (periodic maintenance); returns how many."""
        horizon = int((time.time() - self._ttl) * 1000)
        dropped = 0
        for key in self._client.scan_iter(match=f"{keys.TRIGGER_INSTANCES_PREFIX}*", count=1000):
            dropped += int(self._client.zremrangebyscore(key, "-inf", f"({horizon}"))
        return dropped
