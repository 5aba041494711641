"""Moving executions into and out of ``pending``, and timing them out (see :mod:`st2lite.waits`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from st2lite import keys
from st2lite.audit import AuditKind, encode_event, now_iso
from st2lite.exceptions import ExecutionNotFoundError, InvalidTransitionError
from st2lite.executions import Execution, ExecutionStore
from st2lite.redisdb import Redis
from st2lite.statuses import ExecutionStatus
from st2lite.triggers import TriggerInstance
from st2lite.waits import Wait, WaitKind, WaitRecord

__all__ = ["WAIT_FIELD", "TriggerFor", "WaitStore"]

log = logging.getLogger(__name__)

#: Execution hash field holding the :class:`~st2lite.waits.WaitRecord` (JSON).
WAIT_FIELD = "wait"

#: Builds the action trigger of an execution that ends (or None when none is to be emitted).
TriggerFor = Callable[[Execution, ExecutionStatus, Any], TriggerInstance | None]


class WaitStore:
    """Moves executions into and out of ``pending`` and times them out."""

    def __init__(self, client: Redis, executions: ExecutionStore, *, actor: str) -> None:
        self._client = client
        self._executions = executions
        self._actor = actor

    def enter(
        self,
        execution: Execution,
        result: Any,
        wait: Wait,
        *,
        emit: TriggerInstance | None = None,
        now: float | None = None,
    ) -> bool:
        """Move ``execution`` ``running -> pending`` with ``result`` (and ``emit``); False when it was not running."""
        now = time.time() if now is None else now
        record = wait.record(now)
        kind = AuditKind.INQUIRY_CREATED if wait.kind is WaitKind.INQUIRY else AuditKind.CALLBACK_WAITING
        note = encode_event(
            kind, self._actor, execution=execution.id, action=execution.action, data=_audit_data(record)
        )
        deadline = record.deadline(now)
        with self._client.pipeline(transaction=True) as pipe:
            self._executions.transition_in(
                pipe,
                execution.id,
                ExecutionStatus.PENDING,
                fields={"result": result, WAIT_FIELD: record.model_dump_json()},
                allowed_from=[ExecutionStatus.RUNNING],
                emit=emit,
                note=note,
            )
            if deadline is not None:
                pipe.zadd(keys.WAIT_DEADLINES, {execution.id: deadline})
            moved = int(pipe.execute()[0][0])
        return bool(moved)

    def record(self, execution_id: str) -> WaitRecord | None:
        """The wait of ``execution_id`` (also after it ended); None when it never waited."""
        raw = self._client.hget(keys.execution(execution_id), WAIT_FIELD)
        return WaitRecord.model_validate_json(raw) if raw else None

    def finish(
        self,
        execution_id: str,
        status: ExecutionStatus,
        result: Any,
        *,
        note: bytes | None = None,
        emit: TriggerInstance | None = None,
        message: str | None = None,
    ) -> None:
        """End a ``pending`` execution with ``status`` and ``result``, once.

        Raises:
            InvalidTransitionError: It is not ``pending`` (answered, timed out, canceled).
            ExecutionNotFoundError: It does not exist.
        """
        with self._client.pipeline(transaction=True) as pipe:
            self._executions.transition_in(
                pipe,
                execution_id,
                status,
                fields={"result": result, "end": now_iso()},
                allowed_from=[ExecutionStatus.PENDING],
                emit=emit,
                note=note,
                message=message,
            )
            pipe.zrem(keys.WAIT_DEADLINES, execution_id)
            moved, previous = pipe.execute()[0]
        if not previous:
            raise ExecutionNotFoundError(execution_id)
        if not int(moved):
            raise InvalidTransitionError(execution_id, str(previous), status.value)

    def beat(self, execution_id: str, record: WaitRecord, *, now: float | None = None) -> float | None:
        """A heartbeat: push the deadline of a ``pending`` execution; returns the new deadline."""
        deadline = record.deadline(time.time() if now is None else now)
        if deadline is not None:
            self._client.zadd(keys.WAIT_DEADLINES, {execution_id: deadline}, xx=True)
        return deadline

    def sweep(
        self,
        now: float | None = None,
        *,
        trigger_for: TriggerFor | None = None,
        count: int = 100,
    ) -> list[str]:
        """Time out the waits whose deadline passed; returns their ids."""
        now = time.time() if now is None else now
        timed_out = []
        for eid in self._client.zrangebyscore(keys.WAIT_DEADLINES, "-inf", now, start=0, num=count):
            if self._expire(eid, now, trigger_for):
                timed_out.append(eid)
        return timed_out

    def _expire(
        self,
        eid: str,
        now: float,
        trigger_for: TriggerFor | None,
    ) -> bool:
        try:
            execution = self._executions.get(eid)
        except ExecutionNotFoundError:
            execution = None
        record = self.record(eid) if execution is not None else None
        if execution is None or record is None or execution.status is not ExecutionStatus.PENDING:
            self._client.zrem(keys.WAIT_DEADLINES, eid)  # answered, canceled or expired meanwhile
            return False
        reason = record.timeout_reason(now)
        base = execution.result if isinstance(execution.result, dict) else {}
        result = {**base, "error": reason}
        kind = AuditKind.INQUIRY_TIMED_OUT if record.kind is WaitKind.INQUIRY else AuditKind.CALLBACK_TIMED_OUT
        note = encode_event(kind, self._actor, execution=eid, action=execution.action, message=reason)
        emit = trigger_for(execution, ExecutionStatus.TIMEOUT, result) if trigger_for else None
        try:
            self.finish(eid, ExecutionStatus.TIMEOUT, result, note=note, emit=emit, message=reason)
        except (InvalidTransitionError, ExecutionNotFoundError):
            return False
        log.info("Execution %s timed out waiting: %s", eid, reason)
        return True


def _audit_data(record: WaitRecord) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(record.model_dump_json(exclude={"token_hash", "kind"}))
    return data
