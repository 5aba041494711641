"""``/api/v1/callbacks/{id}``: an outside system reports the outcome of a ``callback`` task, or that it lives.

``POST /api/v1/callbacks/{id}`` with ``{"token", "status": "succeeded"|"failed",
"result": {...}}`` ends the ``pending`` task once (409 when it already
ended); ``POST /api/v1/callbacks/{id}/heartbeat`` with ``{"token"}`` pushes
back its heartbeat deadline. A missing or wrong token is 403 and changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from st2lite.action_triggers import action_trigger, watched
from st2lite.api.deps import RuntimeDep
from st2lite.api.errors import ApiError
from st2lite.audit import AuditKind, encode_event
from st2lite.callbacks import token_matches
from st2lite.exceptions import CallbackTokenError, InvalidTransitionError
from st2lite.executions import Execution
from st2lite.statuses import ExecutionStatus
from st2lite.waits import WaitKind, WaitRecord

router = APIRouter(tags=["callbacks"])

log = logging.getLogger(__name__)


class CallbackBody(BaseModel):
    """``POST /api/v1/callbacks/{id}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token: str = ""
    status: Literal["succeeded", "failed"]
    result: dict[str, Any] = Field(default_factory=dict)


class HeartbeatBody(BaseModel):
    """``POST /api/v1/callbacks/{id}/heartbeat``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token: str = ""


@router.post("/api/v1/callbacks/{execution_id}")
def callback(execution_id: str, body: CallbackBody, rt: RuntimeDep) -> dict[str, Any]:
    """End a waiting callback task with the posted status and result."""
    execution, _record = _authorized(rt, execution_id, body.token)
    status = ExecutionStatus(body.status)
    snapshot = rt.registry.current()
    emit = action_trigger(rt.settings, execution, status, body.result) if watched(rt.settings, snapshot) else None
    note = encode_event(
        AuditKind.CALLBACK_RECEIVED, "api:callback", execution=execution_id, action=execution.action, status=status
    )
    try:
        rt.waits.finish(execution_id, status, body.result, note=note, emit=emit)
    except InvalidTransitionError as exc:
        raise ApiError(409, _ended(execution_id, exc.current)) from None
    return {"id": execution_id, "status": status.value}


@router.post("/api/v1/callbacks/{execution_id}/heartbeat")
def heartbeat(execution_id: str, body: HeartbeatBody, rt: RuntimeDep) -> dict[str, Any]:
    """The task is still being worked on: its heartbeat deadline starts again."""
    execution, record = _authorized(rt, execution_id, body.token)
    if execution.status is not ExecutionStatus.PENDING:
        raise ApiError(409, _ended(execution_id, execution.status.value))
    deadline = rt.waits.beat(execution_id, record)
    return {"id": execution_id, "status": execution.status.value, "deadline": deadline}


def _ended(execution_id: str, status: str) -> str:
    return f"execution '{execution_id}' already ended ({status}); a callback task takes one outcome"


def _authorized(rt: RuntimeDep, execution_id: str, token: str) -> tuple[Execution, WaitRecord]:
    """The callback task and its wait, when ``token`` is its token; else :class:`CallbackTokenError`."""
    execution = rt.executions.get(execution_id)
    record = rt.waits.record(execution_id)
    if record is None or record.kind is not WaitKind.CALLBACK or not token_matches(token, record.token_hash):
        log.warning("Callback for %s refused: missing or wrong token", execution_id)
        raise CallbackTokenError(
            f"the token does not match execution '{execution_id}'; post the token its notify_cmd received "
            "(ST2_CALLBACK_TOKEN)"
        )
    return execution, record
