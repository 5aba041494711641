"""Request bodies and the public (StackStorm-shaped) representations the API returns."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from st2lite.actions import Action
from st2lite.executions import Execution
from st2lite.registry import Snapshot
from st2lite.runners import RUNNERS

__all__ = ["ExecutionCreate", "WebhookSt2Body", "execution_public", "utc_z"]


class ExecutionCreate(BaseModel):
    """``POST /api/v1/executions``: what the ``st2 run`` command sends."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    action: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    user: str | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    delay: int | None = None


class ExecutionUpdate(BaseModel):
    """``PUT /api/v1/executions/{id}``: pause or resume (what ``st2 execution pause|resume`` sends)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    status: str


class ExecutionReRun(BaseModel):
    """``POST /api/v1/executions/{id}/re_run``: what ``st2 execution re-run`` sends."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    parameters: dict[str, Any] = Field(default_factory=dict)
    #: For a chain: start at the first of these tasks, keeping what ran before it.
    tasks: list[str] = Field(default_factory=list)
    reset: list[str] = Field(default_factory=list)
    user: str | None = None
    delay: int | None = None


class WebhookSt2Body(BaseModel):
    """``POST /api/v1/webhooks/st2``: dispatch any registered trigger type."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trigger: str
    #: Checked by the dispatcher, whose message says what a payload must be.
    payload: Any = Field(default_factory=dict)
    trace_tag: str = ""


def utc_z(timestamp: str | None) -> str | None:
    """``2026-05-01T12:00:00.000000+00:00`` -> ``2026-05-01T12:00:00.000000Z`` (what st2 clients parse)."""
    if not timestamp:
        return None
    return timestamp[:-6] + "Z" if timestamp.endswith("+00:00") else timestamp


def _parameters_public(action: Action) -> dict[str, Any]:
    """The action's parameter specs, each with a ``type`` (the st2 client casts ``k=v`` by it).

    A spec without one redefines a runner parameter and takes the runner's type;
    any other spec without one is a ``string``, which is what StackStorm assumes.
    """
    out: dict[str, Any] = {}
    runner = None
    for name, spec in action.parameters.items():
        dumped = spec.model_dump(exclude_unset=True)
        if spec.type is None:
            runner = runner or RUNNERS.get(action.runner_type)
            base = runner.parameters.get(name) if runner is not None else None
            dumped["type"] = base.type if base is not None and base.type is not None else "string"
        out[name] = dumped
    return out


def action_public(action: Action) -> dict[str, Any]:
    """``GET /api/v1/actions`` item; the ref is the id (st2lite has no database ids)."""
    return {
        "id": action.full_ref,
        "ref": action.full_ref,
        "uid": f"action:{action.pack}:{action.name}",
        "name": action.name,
        "pack": action.pack,
        "runner_type": action.runner_type,
        "description": action.description,
        "enabled": action.enabled,
        "entry_point": action.entry_point,
        "parameters": _parameters_public(action),
        "tags": action.tags,
        "notify": action.notify,
        "output_schema": action.output_schema,
        "metadata_file": action.metadata_file,
    }


def execution_public(execution: Execution, snapshot: Snapshot | None = None) -> dict[str, Any]:
    """The StackStorm shape of an execution; empty fields are left out, as upstream does."""
    action: dict[str, Any] = {"ref": execution.action, "runner_type": execution.runner}
    if snapshot is not None and execution.action in snapshot.content.actions:
        action = action_public(snapshot.content.actions[execution.action])
    runner = RUNNERS.get(execution.runner)
    out: dict[str, Any] = {
        "id": execution.id,
        "action": action,
        "runner": {
            "name": execution.runner,
            "runner_parameters": {
                name: spec.model_dump(exclude_unset=True)
                for name, spec in (runner.parameters if runner else {}).items()
            },
        },
        "liveaction": {"id": execution.id},
        "status": execution.status.value,
        "parameters": execution.parameters,
        "context": execution.context,
        "result": execution.result,
        "start_timestamp": utc_z(execution.start_timestamp or execution.created_at),
        "end_timestamp": utc_z(execution.end_timestamp),
        "elapsed_seconds": execution.elapsed_seconds,
        "log": [{"timestamp": utc_z(c.timestamp), "status": c.status.value} for c in execution.log],
        "parent": execution.parent,
        "children": execution.children,
        "rule": {"ref": execution.rule, "name": execution.rule.partition(".")[2]} if execution.rule else None,
        "trigger": {"type": execution.trigger, "ref": execution.trigger} if execution.trigger else None,
        "trigger_instance": {"id": execution.trigger_instance} if execution.trigger_instance else None,
        "enforcement": execution.enforcement,
        "worker": execution.worker,
        "created_at": utc_z(execution.created_at),
    }
    return {k: v for k, v in out.items() if v is not None and v != [] or k in ("parameters", "context")}
