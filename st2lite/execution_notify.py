"""A top-level execution's ``notify``: the ``core.st2.generic.notifytrigger`` instances it emits when it ends.

An execution may carry a notify spec in ``context.notify`` (an action alias run with a ``notification_route``
sets one; ``POST /api/v1/executions`` may pass one in its ``context``). It has the sections of a chain task's
``notify`` (``on-complete`` always, then ``on-success`` or ``on-failure``), each::

    {"routes": ["slack"], "message": "<Jinja template>", "data": {...}}

When the execution ends, the worker renders each applying section's ``message`` (sandboxed Jinja; the context
holds ``execution`` (id, action, status, parameters, result, context, timestamps) and, as a chain task's notify
has them, ``action_parameters``, ``action_results`` and ``action_context``) and emits one trigger instance per
route, in the same step as the final status. ``data`` is passed as given, never rendered: it may hold text a
chat user typed. Without a ``message`` the text is ``Action <ref> succeeded.`` (``failed.``, ``completed.``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from st2lite.exceptions import St2liteError
from st2lite.executions import Execution
from st2lite.statuses import FAILED_STATES, ExecutionStatus
from st2lite.triggers import NOTIFY_TRIGGER, TriggerInstance

__all__ = ["NOTIFY_CONTEXT_KEY", "default_message", "notify_triggers", "template_execution"]

log = logging.getLogger(__name__)

#: Where an execution's notify spec is kept in its context.
NOTIFY_CONTEXT_KEY: Final = "notify"


def default_message(action_ref: str, status: ExecutionStatus) -> str:
    """StackStorm's notify text when a section gives none."""
    if status is ExecutionStatus.SUCCEEDED:
        verb = "succeeded"
    elif status in FAILED_STATES:
        verb = "failed"
    else:
        verb = "completed"
    return f"Action {action_ref} {verb}."


def template_execution(
    execution: Execution, status: ExecutionStatus | None = None, result: Any = None
) -> dict[str, Any]:
    """What templates see as ``execution`` (``execution.result.stdout``, ``execution.parameters.x`` ...)."""
    pack, _, name = execution.action.partition(".")
    return {
        "id": execution.id,
        "action": {"ref": execution.action, "pack": pack, "name": name},
        "status": (status or execution.status).value,
        "parameters": execution.parameters,
        "result": result if status is not None else execution.result,
        "context": execution.context,
        "start_timestamp": execution.start_timestamp,
        "end_timestamp": execution.end_timestamp,
    }


def _sections(notify: Mapping[str, Any], status: ExecutionStatus) -> list[Mapping[str, Any]]:
    names = ["on-complete"]
    if status is ExecutionStatus.SUCCEEDED:
        names.append("on-success")
    elif status in FAILED_STATES:
        names.append("on-failure")
    return [notify[name] for name in names if isinstance(notify.get(name), Mapping)]


def notify_triggers(
    execution: Execution, status: ExecutionStatus, result: Any, *, end_timestamp: str | None = None
) -> list[TriggerInstance]:
    """The notify trigger instances of ``execution`` ending ``status`` with ``result`` (none without a notify).

    A message that does not render is logged and its section skipped: the execution's end is recorded anyway.
    """
    notify = execution.context.get(NOTIFY_CONTEXT_KEY)
    if not isinstance(notify, Mapping) or not notify:
        return []
    sections = _sections(notify, status)
    if not sections:
        return []
    from st2lite.templating import render_template  # jinja2 only for executions that notify

    seen = template_execution(execution, status, result)
    seen["end_timestamp"] = end_timestamp
    context = {
        "execution": seen,
        "action_parameters": execution.parameters,
        "action_results": result,
        "action_context": execution.context,
    }
    out = []
    for spec in sections:
        template = spec.get("message")
        try:
            message = render_template(template, context) if template else default_message(execution.action, status)
        except St2liteError as exc:
            log.warning("Execution %s: notify message not rendered: %s", execution.id, exc)
            continue
        for route in spec.get("routes") or spec.get("channels") or []:
            payload = {
                "execution_id": execution.id,
                "status": status.value,
                "start_timestamp": execution.start_timestamp,
                "end_timestamp": end_timestamp,
                "action_ref": execution.action,
                "runner_ref": execution.runner,
                "channel": route,
                "route": route,
                "message": message,
                "data": spec.get("data") or {},
            }
            out.append(TriggerInstance(trigger=NOTIFY_TRIGGER, payload=payload, source=f"execution:{execution.id}"))
    return out
