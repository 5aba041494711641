"""The trigger bus on a Redis stream, consumed by the rules engines' group.

Publishing appends the instance and its ``trigger_instance.received`` audit
event atomically: one call of ``lua/publish_trigger.lua`` for one instance
or many (one command, one reply: cheaper than a transaction), or queued on
the caller's transaction with :meth:`RedisBus.publish_in`. The rules engine acknowledges an entry in the same
transaction as the writes it caused, so an instance is never lost and never
enforced twice (see :mod:`st2lite.rules_engine`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import ValidationError

from st2lite import keys
from st2lite.audit import AuditKind, AuditLog, encode_event
from st2lite.bus.base import Delivery
from st2lite.redisdb import Pipeline, Redis, load_script
from st2lite.streams import StreamGroup
from st2lite.triggers import TriggerInstance

__all__ = ["RedisBus", "encode_instance"]

#: Stream entry field holding the trigger instance JSON.
FIELD = "t"


def encode_instance(instance: TriggerInstance) -> bytes:
    """The stream field value of ``instance`` (orjson writes its fields, the time as RFC 3339, directly)."""
    return orjson.dumps(instance.__dict__)


def _received(instance: TriggerInstance, actor: str) -> bytes:
    """The ``trigger_instance.received`` audit event of ``instance``."""
    return encode_event(
        AuditKind.TRIGGER_RECEIVED,
        actor,
        trigger=instance.trigger,
        trigger_instance=instance.id,
        data={"parameters": instance.parameters} if instance.parameters else {},
    )


class RedisBus:
    """Trigger instances on ``st2lite:triggers``, consumed by the group ``rules``."""

    def __init__(self, client: Redis, *, maxlen: int, audit: AuditLog) -> None:
        self._client = client
        self._audit = audit
        self._maxlen = maxlen
        self.stream = StreamGroup(client, keys.TRIGGER_STREAM, keys.TRIGGER_GROUP, maxlen=maxlen)
        self._publish = load_script(client, "publish_trigger")

    def ensure_group(self) -> None:
        self.stream.ensure_group()

    def publish(self, instance: TriggerInstance, *, actor: str) -> str:
        """Append ``instance`` and its audit event in one script call; return its entry id."""
        return self.publish_many([(instance, actor)])[0]

    def publish_many(self, items: Sequence[tuple[TriggerInstance, str]]) -> list[str]:
        """Append each (instance, actor) and its audit event, in order, in one script call; their entry ids."""
        args: list[Any] = [self._maxlen, self._audit.maxlen]
        for instance, actor in items:
            args += (encode_instance(instance), _received(instance, actor))
        entry_ids = self._publish(keys=[keys.TRIGGER_STREAM, keys.AUDIT_STREAM], args=args)
        return [str(entry_id) for entry_id in entry_ids]

    def publish_in(self, pipe: Pipeline, instance: TriggerInstance, *, actor: str) -> None:
        """Queue the XADD of ``instance`` and its audit event on ``pipe``."""
        self.stream.add_in(pipe, {FIELD: encode_instance(instance)})
        self._audit.append_encoded(_received(instance, actor), pipe)

    def consume(self, consumer: str, *, count: int, block_ms: int | None) -> list[Delivery]:
        return [self._decode(eid, f) for eid, f in self.stream.read(consumer, count=count, block_ms=block_ms)]

    def reclaim(self, consumer: str, *, min_idle_ms: int, count: int) -> list[Delivery]:
        entries = self.stream.reclaim(consumer, min_idle_ms=min_idle_ms, count=count)
        return [self._decode(eid, f, reclaimed=True) for eid, f in entries]

    def ack_in(self, pipe: Pipeline, entry_ids: list[str]) -> None:
        self.stream.ack_in(pipe, entry_ids)

    @staticmethod
    def _decode(entry_id: str, fields: dict[str, Any], *, reclaimed: bool = False) -> Delivery:
        raw = fields.get(FIELD)
        if raw is None:
            return Delivery(entry_id=entry_id, error=f"stream entry has no '{FIELD}' field", reclaimed=reclaimed)
        try:
            instance = TriggerInstance.model_validate_json(raw)
        except ValidationError as exc:
            return Delivery(entry_id=entry_id, error=f"not a trigger instance: {exc}", reclaimed=reclaimed)
        return Delivery(entry_id=entry_id, instance=instance, reclaimed=reclaimed)
