"""Where a chain goes next: StackStorm's action-chain semantics as pure functions.

The conductor (:mod:`st2lite.chains.conductor`) keeps a :class:`ChainState`
per chain execution and asks this module what to do when a task ends: which
task runs next (or none), what the chain's status is when it stops, what its
tasks' templates see, and what the chain's result looks like.

Transitions (StackStorm's table): a task that ``succeeded`` goes to its
``on-success``; ``failed``, ``abandoned`` and ``timeout`` go to
``on-failure``; ``canceled`` stops the chain. With no target the chain stops.
The chain's status is the status of the last task run (``abandoned`` counts
as ``failed``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from st2lite.chains.spec import ChainSpec
from st2lite.statuses import ExecutionStatus
from st2lite.templating import render_template

__all__ = ["ChainState", "TaskRecord", "chain_result", "chain_status", "next_task", "template_context"]

#: Task outcomes that follow ``on-success``.
_SUCCESS = frozenset({ExecutionStatus.SUCCEEDED})
#: Task outcomes that follow ``on-failure``.
_FAILURE = frozenset({ExecutionStatus.FAILED, ExecutionStatus.ABANDONED, ExecutionStatus.TIMEOUT})


class TaskRecord(BaseModel):
    """One task run, as the chain's result lists it."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    execution_id: str
    #: StackStorm's records carry both; here they are the same id.
    liveaction_id: str
    #: StackStorm's field for orquesta sub-workflows; always None for chains.
    workflow: None = None
    state: str
    created_at: str
    updated_at: str
    result: Any = None


class ChainState(BaseModel):
    """What a running chain has done so far (saved with its execution after every task)."""

    model_config = ConfigDict(frozen=True)

    spec: ChainSpec
    #: ``vars`` rendered at start, then what ``publish`` added.
    vars: dict[str, Any] = Field(default_factory=dict)
    tasks: list[TaskRecord] = Field(default_factory=list)
    #: The task running now and its execution (None once the chain stopped).
    current: str | None = None
    waiting_on: str | None = None

    def results(self) -> dict[str, Any]:
        """Result of each task by name (the last run of a task that ran more than once)."""
        return {record.name: record.result for record in self.tasks}


def next_task(state: ChainState, ended: ExecutionStatus, context: Mapping[str, Any]) -> str | None:
    """The task after ``state.current`` ended with ``ended``, or None when the chain stops.

    A templated target is rendered with ``context``; an empty rendering stops the chain.

    Raises:
        TemplateError: a templated target failed to render.
    """
    task = state.spec.task(state.current or "")
    if task is None or ended not in _SUCCESS | _FAILURE:
        return None
    target = task.target(ended in _SUCCESS)
    if not target:
        return None
    name = render_template(target, context).strip() if "{" in target else target
    return name or None


def chain_status(last: ExecutionStatus | None) -> ExecutionStatus:
    """The chain's final status from its last task's (an empty chain succeeds)."""
    if last is None or last is ExecutionStatus.SUCCEEDED:
        return ExecutionStatus.SUCCEEDED
    if last is ExecutionStatus.ABANDONED:
        return ExecutionStatus.FAILED
    return last


def template_context(
    state: ChainState, parameters: Mapping[str, Any], *, task_result: tuple[str, Any] | None = None
) -> dict[str, Any]:
    """What a chain's templates see besides ``st2kv``, ``action_context`` and ``config_context``.

    Later wins, as in StackStorm: the chain's parameters, each prior task's
    result under its name, the vars (with what was published), ``__results``.
    ``task_result`` adds the task that just ended under its name (for ``publish``).
    """
    results = state.results()
    if task_result is not None:
        results[task_result[0]] = task_result[1]
    return {**parameters, **results, **state.vars, "__results": results}


def chain_result(state: ChainState, *, display_published: bool, error: str | None = None) -> dict[str, Any]:
    """The chain execution's result: ``{tasks, published}`` (and ``error`` when it stopped on one)."""
    out: dict[str, Any] = {"tasks": [record.model_dump() for record in state.tasks]}
    if display_published:
        out["published"] = dict(state.vars)
    if error is not None:
        out["error"] = error
    return out
