"""The audit log: an append-only Redis stream of every state change and who caused it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from st2lite import keys
from st2lite.redisdb import Pipeline, Redis

__all__ = ["AuditEvent", "AuditKind", "AuditLog", "encode_event", "iso_z", "now_iso"]


class AuditKind(StrEnum):
    """What happened."""

    TRIGGER_RECEIVED = "trigger_instance.received"
    TRIGGER_REJECTED = "trigger_instance.rejected"
    RULE_MATCHED = "rule.matched"
    RULE_FAILED = "rule.failed"
    EXECUTION_CREATED = "execution.created"
    EXECUTION_STATUS = "execution.status"
    PACK_REGISTERED = "pack.registered"
    # Rules changed through the API (st2lite.rule_changes).
    RULE_CREATED = "rule.created"
    RULE_UPDATED = "rule.updated"
    RULE_DELETED = "rule.deleted"
    KEY_CREATED = "key_value_pair.created"
    KEY_UPDATED = "key_value_pair.updated"
    KEY_DELETED = "key_value_pair.deleted"
    POLICY_DELAYED = "policy.delayed"
    POLICY_RELEASED = "policy.released"
    POLICY_RETRIED = "policy.retried"
    POLICY_SLA_MISSED = "policy.sla_missed"
    INQUIRY_CREATED = "inquiry.created"
    INQUIRY_ANSWERED = "inquiry.answered"
    INQUIRY_TIMED_OUT = "inquiry.timed_out"
    CALLBACK_WAITING = "callback.waiting"
    CALLBACK_RECEIVED = "callback.received"
    CALLBACK_TIMED_OUT = "callback.timed_out"
    # Sensor containers (st2lite.sensors): a sensor process started, exited, or the sensor reported an error.
    SENSOR_STARTED = "sensor.started"
    SENSOR_EXITED = "sensor.exited"
    SENSOR_ERROR = "sensor.error"
    # Auth (st2lite.tokens, st2lite.apikeys): a token was issued; an API key was created, changed or deleted.
    TOKEN_CREATED = "auth.token_created"
    API_KEY_CREATED = "api_key.created"
    API_KEY_UPDATED = "api_key.updated"
    API_KEY_DELETED = "api_key.deleted"


def iso_z(moment: datetime) -> str:
    """``moment`` in UTC as StackStorm's clients parse it: ``2026-11-22T17:00:00.000000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_iso() -> str:
    """The current UTC time as ISO 8601 with microseconds (``2026-11-22T17:00:00.000000+00:00``)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class AuditEvent(BaseModel):
    """One audit record. ``id`` is the stream entry id, set when read back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = ""
    at: str = Field(default_factory=now_iso)
    kind: AuditKind
    #: Who or what caused it: ``api``, ``cli``, ``rules_engine:<name>``, ``worker:<name>``, ``sensor:<ref>``.
    actor: str
    trigger: str | None = None
    trigger_instance: str | None = None
    rule: str | None = None
    enforcement: str | None = None
    execution: str | None = None
    action: str | None = None
    status: str | None = None
    previous_status: str | None = None
    message: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    def encode(self) -> bytes:
        """The stream field value (JSON, without the id)."""
        # By hand rather than model_dump: the rules engine writes several events per trigger instance.
        return orjson.dumps({k: v for k, v in self.__dict__.items() if v is not None and k != "id"})


def encode_event(kind: AuditKind, actor: str, **fields: Any) -> bytes:
    """The stream field value of an event, without building an :class:`AuditEvent`.

    For the hot paths (several events per trigger instance); ``None`` fields are
    left out, as :meth:`AuditEvent.encode` does. Read back, it validates as an
    :class:`AuditEvent`.
    """
    data = {"at": fields.pop("at", None) or now_iso(), "kind": kind, "actor": actor}
    data.update((k, v) for k, v in fields.items() if v is not None)
    return orjson.dumps(data)


class AuditLog:
    """Appends to and reads the audit stream."""

    #: Stream entry field holding the JSON event.
    FIELD = "e"

    def __init__(self, client: Redis, *, maxlen: int) -> None:
        self._client = client
        self._maxlen = maxlen

    @property
    def maxlen(self) -> int:
        """The audit stream is trimmed to about this many events."""
        return self._maxlen

    def append(self, event: AuditEvent, pipe: Pipeline | None = None) -> None:
        """Append ``event``; with ``pipe``, as part of the caller's transaction."""
        self.append_encoded(event.encode(), pipe)

    def append_encoded(self, encoded: bytes, pipe: Pipeline | None = None) -> None:
        """Append an event made by :func:`encode_event`."""
        target = pipe if pipe is not None else self._client
        target.xadd(keys.AUDIT_STREAM, {self.FIELD: encoded}, maxlen=self._maxlen, approximate=True)

    def read(self, *, start: str = "-", end: str = "+", count: int = 1000) -> list[AuditEvent]:
        """Events from ``start`` to ``end`` (stream ids or ``-``/``+``), oldest first."""
        entries = self._client.xrange(keys.AUDIT_STREAM, start, end, count=count)
        return [self._decode(eid, fields) for eid, fields in entries]

    def export(self, *, start: str = "-", end: str = "+", page: int = 1000) -> Iterator[AuditEvent]:
        """Every event from ``start`` to ``end``, read in pages."""
        cursor = start
        while True:
            batch = self._client.xrange(keys.AUDIT_STREAM, cursor, end, count=page)
            for eid, fields in batch:
                yield self._decode(eid, fields)
            if len(batch) < page:
                return
            cursor = "(" + batch[-1][0]

    def follow(self, *, last_id: str = "$", block_ms: int = 1000) -> Iterator[AuditEvent]:
        """Wait for and yield new events for ever (``st2lite audit tail``)."""
        cursor = last_id
        while True:
            reply = self._client.xread({keys.AUDIT_STREAM: cursor}, block=block_ms, count=500)
            for _stream, entries in reply or []:
                for eid, fields in entries:
                    cursor = eid
                    yield self._decode(eid, fields)

    def last(self, count: int) -> list[AuditEvent]:
        """The newest ``count`` events, oldest first."""
        entries = self._client.xrevrange(keys.AUDIT_STREAM, "+", "-", count=count)
        return [self._decode(eid, fields) for eid, fields in reversed(entries)]

    @classmethod
    def _decode(cls, eid: str, fields: dict[str, str]) -> AuditEvent:
        data = orjson.loads(fields[cls.FIELD])
        if "previous_status" in fields:
            data["previous_status"] = fields["previous_status"]
        return AuditEvent.model_validate({**data, "id": eid})
