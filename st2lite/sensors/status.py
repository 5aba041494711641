"""Each sensor's state in Redis, for ``GET /api/v1/sensors`` and ``st2lite sensor list``.

One hash per sensor (:func:`st2lite.keys.sensor_status`), written by the
container that runs it (state, node, pid, restarts) and by the sensor's own
process (its errors). A sensor runs on one container at a time, so one hash
per sensor is enough; when it moves, the new container overwrites the state.

States:

* ``running`` - its process is up;
* ``restarting`` - its process exited (it crashed, ``run`` raised or returned)
  and is restarted after ``backoff`` seconds;
* ``failed`` - it could not be loaded or its ``setup`` raised; it is retried
  like a crash (the file may be fixed and re-registered meanwhile);
* ``stopped`` - its container stopped it (disabled, removed, moved, shut down).

``last_error`` keeps the last problem the sensor had (import error, exception
in setup/run/poll, rejected payload, crash) with ``last_error_at``, and
``errors`` counts them, so a sensor whose polls fail while it keeps running
shows it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from st2lite import keys
from st2lite.audit import AuditEvent, AuditKind, AuditLog, now_iso
from st2lite.exceptions import TriggerError
from st2lite.redisdb import Redis

__all__ = ["ErrorRecorder", "SensorState", "SensorStatus", "SensorStatusStore"]

log = logging.getLogger(__name__)

#: Longest ``last_error`` kept (a traceback's last line is what matters).
MAX_ERROR_CHARS = 2000
#: Seconds during which the same error message is audited only once (a poll failing every second).
AUDIT_REPEAT_SECONDS = 60.0


class SensorState(StrEnum):
    """Where a sensor is in its life (see the module doc)."""

    RUNNING = "running"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPED = "stopped"


class SensorStatus(BaseModel):
    """One sensor's status as stored (times are ISO 8601 UTC; empty when never set)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    ref: str
    state: str = ""
    node: str = ""
    pid: int | None = None
    restarts: int = 0
    exit_code: int | None = None
    #: Seconds until the next restart while ``restarting``/``failed``.
    backoff: float | None = None
    last_error: str = ""
    last_error_at: str = ""
    errors: int = 0
    started_at: str = ""
    updated_at: str = ""

    def public(self) -> dict[str, Any]:
        """The API's JSON (``None`` for what was never set)."""
        data = self.model_dump()
        return {k: (None if v == "" else v) for k, v in data.items()}


def _decode(ref: str, raw: dict[str, str]) -> SensorStatus:
    data: dict[str, Any] = {k: v for k, v in raw.items() if v != ""}
    return SensorStatus.model_validate({**data, "ref": ref})


class SensorStatusStore:
    """Reads and writes the status hashes."""

    def __init__(self, client: Redis) -> None:
        self._client = client

    def update(self, ref: str, **fields: Any) -> None:
        """Set ``fields`` (``None`` clears one) and ``updated_at``."""
        values = {k: ("" if v is None else str(v)) for k, v in fields.items()}
        values["updated_at"] = now_iso()
        with self._client.pipeline(transaction=False) as pipe:
            pipe.hset(keys.sensor_status(ref), mapping=values)
            pipe.zadd(keys.SENSOR_STATUS_INDEX, {ref: 0})
            pipe.execute()

    def record_error(self, ref: str, message: str) -> None:
        """Set ``last_error`` (and when), count it."""
        now = now_iso()
        with self._client.pipeline(transaction=False) as pipe:
            pipe.hset(
                keys.sensor_status(ref),
                mapping={"last_error": message[:MAX_ERROR_CHARS], "last_error_at": now, "updated_at": now},
            )
            pipe.hincrby(keys.sensor_status(ref), "errors", 1)
            pipe.zadd(keys.SENSOR_STATUS_INDEX, {ref: 0})
            pipe.execute()

    def get(self, ref: str) -> SensorStatus | None:
        raw = self._client.hgetall(keys.sensor_status(ref))
        return _decode(ref, raw) if raw else None

    def many(self, refs: Iterable[str]) -> dict[str, SensorStatus]:
        """The statuses of ``refs`` that have one."""
        names = list(refs)
        with self._client.pipeline(transaction=False) as pipe:
            for ref in names:
                pipe.hgetall(keys.sensor_status(ref))
            results = pipe.execute()
        return {ref: _decode(ref, raw) for ref, raw in zip(names, results, strict=True) if raw}

    def all(self) -> dict[str, SensorStatus]:
        """Every stored status (including sensors no longer registered)."""
        return self.many(self._client.zrange(keys.SENSOR_STATUS_INDEX, 0, -1))


class ErrorRecorder:
    """What a sensor process does with an error: status ``last_error`` plus a ``sensor.error`` audit event.

    A rejected payload already has its ``trigger_instance.rejected`` audit
    event (written by :class:`~st2lite.sensors.service.SensorService`), so it
    only updates the status. The same message is audited at most once per
    :data:`AUDIT_REPEAT_SECONDS` so that a poll failing every second does not
    flood the audit log (the status still counts every one).
    """

    def __init__(self, store: SensorStatusStore, audit: AuditLog, sensor_ref: str) -> None:
        self._store = store
        self._audit = audit
        self._ref = sensor_ref
        self._audited: dict[str, float] = {}

    def __call__(self, message: str, exc: BaseException | None = None) -> None:
        try:
            self._store.record_error(self._ref, message)
            if isinstance(exc, TriggerError):
                return
            now = time.monotonic()
            if now - self._audited.get(message, -AUDIT_REPEAT_SECONDS) < AUDIT_REPEAT_SECONDS:
                return
            self._audited = {m: t for m, t in self._audited.items() if now - t < AUDIT_REPEAT_SECONDS}
            self._audited[message] = now
            event = AuditEvent(
                kind=AuditKind.SENSOR_ERROR, actor=f"sensor:{self._ref}", message=message[:MAX_ERROR_CHARS]
            )
            self._audit.append(event)
        except Exception:  # reporting must never take the sensor down (Redis may be away for a moment)
            log.exception("Sensor %s: could not record the error %r", self._ref, message)
