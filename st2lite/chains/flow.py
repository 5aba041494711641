"""Where a chain goes next: StackStorm's action-chain semantics, and our extensions, as pure functions.

The conductor (:mod:`st2lite.chains.conductor`) keeps a :class:`ChainState`
per chain execution and asks this module what to do when a task's execution
ends: run it again (``retry``), run the next item (``with-items``), go to the
next task, or stop, and with which status and result.

Transitions (StackStorm's table): a task that ``succeeded`` goes to its
``on-success``; ``failed``, ``abandoned`` and ``timeout`` go to
``on-failure``; ``canceled`` stops the chain. With no target the chain stops.
The chain's status is the status of the last task run (``abandoned`` counts
as ``failed``). A ``with-items`` task succeeds when every item succeeded;
otherwise it ends with the first non-succeeded status among its items.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from st2lite.chains.spec import ChainSpec, ChainTask
from st2lite.statuses import ExecutionStatus
from st2lite.templating import render_template

__all__ = [
    "ChainState",
    "ItemsProgress",
    "Run",
    "TaskRecord",
    "chain_result",
    "chain_status",
    "default_notify_message",
    "items_outcome",
    "next_task",
    "notify_sections",
    "retry_delay",
    "template_context",
]

#: Task outcomes that follow ``on-success``.
_SUCCESS = frozenset({ExecutionStatus.SUCCEEDED})
#: Task outcomes that follow ``on-failure``.
_FAILURE = frozenset({ExecutionStatus.FAILED, ExecutionStatus.ABANDONED, ExecutionStatus.TIMEOUT})


class TaskRecord(BaseModel):
    """One execution of a task, as the chain's result lists it (StackStorm's fields, plus ``item``, ``attempt``)."""

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
    #: The item's index for a ``with-items`` task.
    item: int | None = None
    #: 1 for the first run, 2 for the first retry...
    attempt: int = 1


class Run(BaseModel):
    """An execution the chain waits for: which task, which item, which attempt."""

    model_config = ConfigDict(frozen=True)

    task: str
    item: int | None = None
    attempt: int = 1


class ItemsProgress(BaseModel):
    """A ``with-items`` task under way: how many items, the next to start, how many ended, the first that failed.

    The items themselves and their results are kept next to the state (a list and a hash in Redis), so
    that the state saved after every item stays small however many items there are.
    """

    model_config = ConfigDict(frozen=True)

    total: int
    next: int = 0
    ended: int = 0
    #: The lowest index whose run did not succeed, and how it ended.
    worst: tuple[int, str] | None = None

    @property
    def done(self) -> bool:
        return self.ended == self.total

    def record(self, index: int, status: ExecutionStatus) -> ItemsProgress:
        """This progress after item ``index`` ended ``status``."""
        worst = self.worst
        if status is not ExecutionStatus.SUCCEEDED and (worst is None or index < worst[0]):
            worst = (index, status.value)
        return self.model_copy(update={"ended": self.ended + 1, "worst": worst})


class ChainState(BaseModel):
    """What a running chain has done so far (saved with its execution after every step)."""

    model_config = ConfigDict(frozen=True)

    spec: ChainSpec
    #: ``vars`` rendered at start, then what ``publish`` added.
    vars: dict[str, Any] = Field(default_factory=dict)
    #: Result of each task that ended, by name (a ``with-items`` task: the list of its items' results).
    results: dict[str, Any] = Field(default_factory=dict)
    #: Executions under way: execution id -> what it runs.
    running: dict[str, Run] = Field(default_factory=dict)
    #: ``with-items`` tasks under way.
    items: dict[str, ItemsProgress] = Field(default_factory=dict)
    #: Retries waiting for their time: a key (see :meth:`retry_key`) -> the run to start.
    retries: dict[str, Run] = Field(default_factory=dict)
    #: Runs held back while the chain is paused, started when it resumes.
    deferred: list[Run] = Field(default_factory=list)

    @staticmethod
    def retry_key(run: Run) -> str:
        return f"{run.task}#{run.item if run.item is not None else ''}#{run.attempt}"

    @property
    def idle(self) -> bool:
        """Nothing under way: no execution running, no retry waiting."""
        return not self.running and not self.retries


def next_task(spec: ChainSpec, task_name: str, ended: ExecutionStatus, context: Mapping[str, Any]) -> str | None:
    """The task after ``task_name`` ended with ``ended``, or None when the chain stops.

    A templated target is rendered with ``context``; an empty rendering stops the chain.

    Raises:
        TemplateError: a templated target failed to render.
    """
    task = spec.task(task_name)
    if task is None or ended not in _SUCCESS | _FAILURE:
        return None
    target = task.target(ended in _SUCCESS)
    if not target:
        return None
    name = render_template(target, context).strip() if "{" in target else target
    return name or None


def retry_delay(task: ChainTask, ended: ExecutionStatus, attempt: int) -> float | None:
    """Seconds before the task runs again after its ``attempt``-th run ended ``ended``; None: no retry."""
    retry = task.retry
    if retry is None or ended.value not in retry.when or attempt > retry.count:
        return None
    return retry.delay_before(attempt)


def items_outcome(progress: ItemsProgress, results: Mapping[int, Any]) -> tuple[ExecutionStatus, list[Any]]:
    """A finished ``with-items`` task's status (its first unsuccessful item's) and its results in item order."""
    ordered = [results.get(i) for i in range(progress.total)]
    status = ExecutionStatus(progress.worst[1]) if progress.worst else ExecutionStatus.SUCCEEDED
    return status, ordered


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
    results = dict(state.results)
    if task_result is not None:
        results[task_result[0]] = task_result[1]
    return {**parameters, **results, **state.vars, "__results": results}


def chain_result(
    records: list[TaskRecord], variables: Mapping[str, Any], *, display_published: bool, error: str | None = None
) -> dict[str, Any]:
    """The chain execution's result: ``{tasks, published}`` (and ``error`` when it stopped on one)."""
    out: dict[str, Any] = {"tasks": [record.model_dump() for record in records]}
    if display_published:
        out["published"] = dict(variables)
    if error is not None:
        out["error"] = error
    return out


#: A notify section's default message suffix, by section (StackStorm's "Action <ref> completed." ...).
_NOTIFY_VERBS = {"on-complete": "completed", "on-success": "succeeded", "on-failure": "failed"}


def notify_sections(notify: Mapping[str, Any] | None, ended: ExecutionStatus) -> list[tuple[str, Mapping[str, Any]]]:
    """The sections of a task's ``notify`` that apply to how it ended: ``on-complete`` always, then
    ``on-success`` or ``on-failure`` (StackStorm's notify format; a canceled task gets ``on-complete`` only)."""
    if not notify:
        return []
    names = ["on-complete"]
    if ended is ExecutionStatus.SUCCEEDED:
        names.append("on-success")
    elif ended in _FAILURE:
        names.append("on-failure")
    return [(name, notify[name]) for name in names if isinstance(notify.get(name), Mapping)]


def default_notify_message(section: str, action_ref: str) -> str:
    """StackStorm's message when a notify section gives none."""
    return f"Action {action_ref} {_NOTIFY_VERBS[section]}."
