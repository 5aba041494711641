"""The ``core.st2.generic.actiontrigger`` instance of an execution that ended, and whether to emit it."""

from __future__ import annotations

from typing import Any

from st2lite.config import Settings
from st2lite.execution_notify import notify_triggers
from st2lite.executions import Execution
from st2lite.registry import Snapshot
from st2lite.statuses import ExecutionStatus
from st2lite.triggers import ACTION_TRIGGER, TriggerInstance

__all__ = ["action_trigger", "ending_triggers", "watched"]


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


def ending_triggers(
    settings: Settings, snapshot: Snapshot, execution: Execution, status: ExecutionStatus, result: Any, end: str
) -> list[TriggerInstance]:
    """What an execution (an action's or a chain's) emits in the same step as its end.

    The action trigger while a rule listens to it, then the execution's own notify (an alias run for chat).
    """
    emit = [action_trigger(settings, execution, status, result)] if watched(settings, snapshot) else []
    emit += notify_triggers(execution, status, result, end_timestamp=end)
    return [instance for instance in emit if instance is not None]
