"""An execution's own notify: which sections apply, the rendered message, one trigger instance per route."""

from __future__ import annotations

from typing import Any

import pytest

from st2lite.execution_notify import default_message, notify_triggers
from st2lite.executions import Execution
from st2lite.statuses import ExecutionStatus

S = ExecutionStatus


def execution(notify: Any, **fields: Any) -> Execution:
    return Execution(
        id="e1",
        action="ops.restart",
        runner="local-shell-cmd",
        parameters={"unit": "nginx"},
        context={"user": "stanley", "notify": notify},
        start_timestamp="2026-01-01T00:00:00+00:00",
        **fields,
    )


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (S.SUCCEEDED, "Action ops.restart succeeded."),
        (S.FAILED, "Action ops.restart failed."),
        (S.TIMEOUT, "Action ops.restart failed."),
        (S.ABANDONED, "Action ops.restart failed."),
        (S.CANCELED, "Action ops.restart completed."),
    ],
)
def test_default_messages(status: ExecutionStatus, text: str) -> None:
    assert default_message("ops.restart", status) == text


def test_each_route_of_each_applying_section_gets_one_instance() -> None:
    notify = {
        "on-complete": {"routes": ["a", "b"], "message": "{{ execution.parameters.unit }}: {{ execution.status }}"},
        "on-success": {"routes": ["c"], "message": "{{ action_results.stdout }} by {{ action_context.user }}"},
        "on-failure": {"routes": ["never"]},
    }
    sent = notify_triggers(execution(notify), S.SUCCEEDED, {"stdout": "ok"}, end_timestamp="end")
    assert [(t.trigger, t.payload["route"], t.payload["message"]) for t in sent] == [
        ("core.st2.generic.notifytrigger", "a", "nginx: succeeded"),
        ("core.st2.generic.notifytrigger", "b", "nginx: succeeded"),
        ("core.st2.generic.notifytrigger", "c", "ok by stanley"),
    ]
    payload = sent[0].payload
    assert payload["execution_id"] == "e1" and payload["status"] == "succeeded" and payload["end_timestamp"] == "end"
    assert payload["channel"] == "a" and payload["action_ref"] == "ops.restart" and payload["data"] == {}
    assert sent[0].source == "execution:e1"


def test_on_failure_and_a_canceled_run() -> None:
    notify = {"on-failure": {"routes": ["ops"], "data": {"raw": "{{ not rendered }}"}}}
    (failed,) = notify_triggers(execution(notify), S.FAILED, {"error": "x"})
    assert failed.payload["message"] == "Action ops.restart failed."
    assert failed.payload["data"] == {"raw": "{{ not rendered }}"}
    assert notify_triggers(execution(notify), S.CANCELED, None) == []


@pytest.mark.parametrize("notify", [None, {}, "text", {"on-complete": "not a mapping"}, {"on-complete": {}}])
def test_nothing_without_a_usable_notify(notify: Any) -> None:
    assert notify_triggers(execution(notify), S.SUCCEEDED, {}) == []


def test_a_message_that_does_not_render_skips_its_section_only() -> None:
    notify = {
        "on-complete": {"routes": ["bad"], "message": "{{ execution.nope.deeper }}"},
        "on-success": {"routes": ["good"]},
    }
    sent = notify_triggers(execution(notify), S.SUCCEEDED, {})
    assert [(t.payload["route"], t.payload["message"]) for t in sent] == [("good", "Action ops.restart succeeded.")]
