"""Preparing executions: one path from "run action A with these parameters" to a stored request.

The rules engine and the API both come through here: the action's runner and
action parameters are merged, the supplied values rendered (with
``action_context``, ``st2kv`` and ``config_context``), cast and validated, and
secrets split off. Then either the execution is written ``requested`` with its
entry on the request stream, for the scheduler (:func:`request_in`), or, when
nothing has to be decided before it runs, written ``scheduled`` with its job
queued right after the write (:func:`schedule_in`, the rules engine's path).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from st2lite.actions import Action
from st2lite.audit import now_iso
from st2lite.batch import WriteBatch
from st2lite.executions import Execution, ExecutionStore, StatusChange
from st2lite.ids import new_id
from st2lite.pack_configs import config_context
from st2lite.parameters import finalize_parameters, mask_secrets
from st2lite.redisdb import Pipeline
from st2lite.registry import Snapshot
from st2lite.requests import RequestQueue
from st2lite.statuses import ExecutionStatus
from st2lite.templating import KvLookup, kv_context

__all__ = ["Prepared", "failed_execution", "prepare_execution", "request_in", "schedule_in"]


@dataclass(frozen=True, slots=True)
class Prepared:
    """An execution ready to be stored, and the clear values of its secret parameters."""

    execution: Execution
    secrets: dict[str, Any]


def prepare_execution(
    snapshot: Snapshot,
    action: Action,
    supplied: Mapping[str, Any],
    *,
    context: Mapping[str, Any],
    kv_lookup: KvLookup,
    trigger_payload: Any = None,
    execution_id: str | None = None,
    links: Mapping[str, Any] | None = None,
    scheduled: bool = False,
    variables: Mapping[str, Any] | None = None,
) -> Prepared:
    """Render, cast and validate ``supplied`` for ``action``; raises ParameterError when they are wrong.

    Args:
        context: the execution context (``user``, ``pack``, ``rule``, ``trigger_instance``...);
            templates see it as ``action_context``.
        trigger_payload: what templates see as ``trigger``.
        links: extra execution fields (``rule``, ``trigger``, ``trigger_instance``, ``enforcement``, ``parent``).
        scheduled: prepare it ``scheduled`` (requested and scheduled now), for :func:`schedule_in`.
        variables: more names for templates (a chain's results and vars); the standard ones win.
    """
    specs = snapshot.parameter_specs(action)
    eid = execution_id or new_id()
    values = snapshot.static_parameters(action, supplied)
    if values is None:
        user = str(context.get("user") or "")
        values = finalize_parameters(
            specs,
            supplied,
            {
                **(variables or {}),
                "trigger": trigger_payload if trigger_payload is not None else {},
                "action_context": {**context, "execution_id": eid},
                "st2kv": kv_context(kv_lookup, user=user or None),
                "config_context": config_context(snapshot.content.packs.get(action.pack), lookup=kv_lookup),
            },
            action_ref=action.full_ref,
        )
    now = now_iso()
    log = [StatusChange.model_construct(status=ExecutionStatus.REQUESTED, timestamp=now)]
    if scheduled:
        log.append(StatusChange.model_construct(status=ExecutionStatus.SCHEDULED, timestamp=now))
    # Every field is built here from validated parts, so construct without re-validating
    # (every field that has a default_factory is passed, see below):
    # this runs once per execution the rules engine creates.
    execution = Execution.model_construct(
        **(links or {}),
        id=eid,
        action=action.full_ref,
        runner=action.runner_type,
        context=dict(context),
        parameters=mask_secrets(specs, values),
        status=log[-1].status,
        created_at=now,
        log=log,
        # Given explicitly: model_construct inspects a default_factory's signature on every call.
        children=[],
    )
    secrets = {name: values[name] for name, spec in specs.items() if spec.secret and name in values}
    return Prepared(execution=execution, secrets=secrets)


def failed_execution(
    action: Action, error: str, *, context: Mapping[str, Any], links: Mapping[str, Any] | None = None
) -> Execution:
    """An execution that failed before it could be requested (StackStorm keeps those, with the reason)."""
    now = now_iso()
    return Execution.model_validate(
        {
            **(links or {}),
            "id": new_id(),
            "action": action.full_ref,
            "runner": action.runner_type,
            "context": dict(context),
            "status": ExecutionStatus.FAILED,
            "result": {"error": error},
            "created_at": now,
            "end_timestamp": now,
            "log": [
                StatusChange(status=ExecutionStatus.REQUESTED, timestamp=now),
                StatusChange(status=ExecutionStatus.FAILED, timestamp=now),
            ],
        }
    )


def request_in(
    pipe: Pipeline,
    prepared: Prepared,
    *,
    executions: ExecutionStore,
    requests: RequestQueue,
    created_ms: int | None = None,
    actor: str | None = None,
) -> None:
    """Queue the writes that store the execution and request its scheduling (``actor``: the audit event's,
    default the store's)."""
    executions.create_in(pipe, prepared.execution, secrets=prepared.secrets, created_ms=created_ms, actor=actor)
    requests.add_in(pipe, prepared.execution.id)


def schedule_in(
    batch: WriteBatch, prepared: Prepared, *, executions: ExecutionStore, created_ms: int | None = None
) -> None:
    """Queue the writes that store a ``scheduled`` execution; its job is queued once ``batch`` is applied."""
    if prepared.execution.status is not ExecutionStatus.SCHEDULED:
        raise ValueError(f"execution {prepared.execution.id} was not prepared scheduled")
    executions.create_in(batch, prepared.execution, secrets=prepared.secrets, created_ms=created_ms)
    batch.enqueue_after(prepared.execution.id)
