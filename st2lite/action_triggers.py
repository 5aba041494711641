"""The ``core.st2.generic.actiontrigger`` instance of an execution that ended, and whether to emit it."""

from __future__ import annotations

from typing import Any

from st2lite.config import Settings
from st2lite.executions import Execution
from st2lite.registry import Snapshot
from st2lite.statuses import ExecutionStatus
from st2lite.triggers import ACTION_TRIGGER, TriggerInstance

__all__ = ["action_trigger", "watched"]


def watched(settings: Settings, snapshot: Snapshot) -> bool:
    """True when an enabled rule listens to the action trigger (or ``action_trigger_unwatched`` is set)."""
    return settings.action_trigger_unwatched or ACTION_TRIGGER in snapshot.rule_trigger_types


def action_trigger(
    settings: Settings, execution: Execution, status: ExecutionStatus, result: Any
) -> TriggerInstance | None:
    """The ``core.st2.generic.actiontrigger`` instance for an execution that ended, if enabled."""
    if not settings.action_trigger_enabled or status.value not in settings.action_trigger_statuses:
        return None
    return TriggerInstance(
        trigger=ACTION_TRIGGER,
        payload={
            "execution_id": execution.id,
            "status": status.value,
            "start_timestamp": execution.start_timestamp,
            "action_name": execution.action,
            "action_ref": execution.action,
            "runner_ref": execution.runner,
            "parameters": execution.parameters,
            "result": result,
            "parent": execution.parent,
        },
        source=f"execution:{execution.id}",
    )
