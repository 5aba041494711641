"""The action-chain file format (StackStorm's, unchanged) and its static checks.

A chain file has ``chain`` (the tasks), ``default`` (the first task) and
``vars``. A task has ``name``, ``ref``, ``parameters`` (or the legacy
``params``), ``on-success``, ``on-failure``, ``publish`` and ``notify``.
Transition targets and ``default`` that are plain names must name a task;
targets that are Jinja templates are resolved when the chain runs.

Beyond StackStorm (optional task keys, from AWS Step Functions and Digdag):
``retry`` (``count``, ``delay``, ``backoff``, ``when``), ``timeout`` (seconds,
passed to the action's ``timeout`` parameter), ``with-items`` (a list, or a
template giving one: one execution per item, which sees ``item`` and
``item_index``) and ``concurrency`` (how many items run at once).

Pure: parsing and checking only, no I/O beyond reading the file in
:func:`load_chain`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from st2lite.exceptions import PackLoadError
from st2lite.templating import has_template
from st2lite.yamlfile import YamlDoc, load_yaml

__all__ = [
    "MAX_CONCURRENCY",
    "ChainSpec",
    "ChainTask",
    "TaskRetry",
    "chain_problems",
    "concurrency_limit",
    "load_chain",
    "parse_chain",
]

_VAR_NAME = re.compile(r"^\w+$")


#: The most items of one ``with-items`` task that may run at once.
MAX_CONCURRENCY = 10_000


def concurrency_limit(value: Any) -> int:
    """``concurrency`` as written or rendered: a whole number from 1 to :data:`MAX_CONCURRENCY` (``"5"`` too).

    Raises:
        ValueError: anything else, with what is allowed.
    """
    number = value
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_CONCURRENCY:
        raise ValueError(
            f"'concurrency' must be a whole number from 1 to {MAX_CONCURRENCY} (or a template giving one), "
            f"not {value!r}"
        )
    return number


RetryOn = Literal["failed", "timeout", "abandoned"]
_RETRY_ON: tuple[RetryOn, ...] = ("failed", "timeout", "abandoned")


class TaskRetry(BaseModel):
    """Run a task again when it ends in one of ``when``: up to ``count`` more times.

    The n-th retry waits ``delay * backoff ** (n - 1)`` seconds.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int = Field(ge=1, le=100)
    delay: float = Field(default=0.0, ge=0, le=86_400)
    backoff: float = Field(default=1.0, ge=1, le=10)
    when: list[RetryOn] = Field(default_factory=lambda: list(_RETRY_ON), min_length=1)

    def delay_before(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        return self.delay * self.backoff ** (retry - 1)


class ChainTask(BaseModel):
    """One node of a chain."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    ref: str = Field(min_length=1)
    parameters: dict[str, Any] | None = None
    #: The legacy spelling of ``parameters`` (StackStorm still reads it).
    params: dict[str, Any] | None = None
    on_success: str | None = Field(default=None, alias="on-success")
    on_failure: str | None = Field(default=None, alias="on-failure")
    publish: dict[str, Any] = Field(default_factory=dict)
    notify: dict[str, Any] | None = None
    retry: TaskRetry | None = None
    timeout: float | None = Field(default=None, gt=0)
    with_items: str | list[Any] | None = Field(default=None, alias="with-items")
    #: A number, or a template giving one when the task starts (``"{{ concurrency }}"``).
    concurrency: int | str | None = None

    @field_validator("concurrency", mode="before")
    @classmethod
    def _concurrency(cls, value: Any) -> int | str | None:
        if value is None or (isinstance(value, str) and has_template(value)):
            return value  # a template: checked when the task starts (concurrency_limit)
        return concurrency_limit(value)

    @model_validator(mode="after")
    def _consistent(self) -> ChainTask:
        if self.parameters is not None and self.params is not None:
            raise ValueError(f"task '{self.name}' has both 'parameters' and 'params'; keep only 'parameters'")
        if self.concurrency is not None and self.with_items is None:
            raise ValueError(f"task '{self.name}' has 'concurrency' without 'with-items'; it limits items run at once")
        return self

    @property
    def values(self) -> dict[str, Any]:
        """The task's parameters, whichever key holds them."""
        return dict(self.parameters if self.parameters is not None else self.params or {})

    def target(self, succeeded: bool) -> str | None:
        """The next task (a name or a template) after this one succeeded or failed."""
        return self.on_success if succeeded else self.on_failure


class ChainSpec(BaseModel):
    """A whole chain file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chain: list[ChainTask]
    default: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)

    def task(self, name: str) -> ChainTask | None:
        return next((t for t in self.chain if t.name == name), None)

    def start_task(self) -> str | None:
        """StackStorm's rule: ``default``; else the first task no transition names; else the first task."""
        if self.default:
            return self.default
        if not self.chain:
            return None
        named = {t for task in self.chain for t in (task.on_success, task.on_failure) if t}
        return next((task.name for task in self.chain if task.name not in named), self.chain[0].name)


def chain_problems(spec: ChainSpec) -> list[tuple[str, str]]:
    """Static problems of a parsed chain, as ``(field path, message)``; empty when it is sound."""
    problems: list[tuple[str, str]] = []
    names = [task.name for task in spec.chain]
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            problems.append((f"chain.{index}.name", f"task name '{name}' is used twice; task names must be unique"))
        seen.add(name)
    for name in spec.vars:
        if not _VAR_NAME.match(name):
            problems.append((f"vars.{name}", f"variable name '{name}' may only use letters, digits and _"))
    known = ", ".join(names) or "(none)"
    if spec.default and not has_template(spec.default) and spec.default not in seen:
        problems.append(("default", f"default task '{spec.default}' is not a task of this chain; tasks: {known}"))
    for index, task in enumerate(spec.chain):
        for key, target in (("on-success", task.on_success), ("on-failure", task.on_failure)):
            if target and not has_template(target) and target not in seen:
                problems.append(
                    (
                        f"chain.{index}.{key}",
                        f"task '{task.name}': {key} target '{target}' is not a task of this chain; tasks: {known}",
                    )
                )
    if not problems:
        problems += _endless(spec)
    return problems


def _endless(spec: ChainSpec) -> list[tuple[str, str]]:
    """Tasks from which no path leads out of the chain (a loop with no exit).

    Only checked where every transition is a plain name: a template may lead
    anywhere, including out.
    """
    tasks = {task.name: task for task in spec.chain}
    if any(has_template(t) for task in spec.chain for t in (task.on_success, task.on_failure) if t):
        return []
    # A task can end the chain when one of its outcomes has no target.
    can_end = {name for name, task in tasks.items() if not task.on_success or not task.on_failure}
    changed = True
    while changed:
        changed = False
        for name, task in tasks.items():
            if name not in can_end and {task.on_success, task.on_failure} & can_end:
                can_end.add(name)
                changed = True
    start = spec.start_task()
    reachable: set[str] = set()
    pending = [start] if start else []
    while pending:
        name = pending.pop()
        if name in reachable or name not in tasks:
            continue
        reachable.add(name)
        pending += [t for t in (tasks[name].on_success, tasks[name].on_failure) if t]
    stuck = [name for name in tasks if name in reachable and name not in can_end]
    if not stuck:
        return []
    index = next(i for i, task in enumerate(spec.chain) if task.name == stuck[0])
    message = (
        f"tasks {', '.join(repr(s) for s in stuck)} loop with no exit: every path from them leads back to them; "
        "give one of them an on-success or on-failure that leaves the loop (or none, to end the chain)"
    )
    return [(f"chain.{index}", message)]


def load_chain(path: Path) -> ChainSpec:
    """Read and check a chain file.

    Raises:
        PackLoadError: the file is not YAML, not a chain, or has a static problem (file, line and field named).
    """
    doc = load_yaml(path)
    if not isinstance(doc.data, Mapping):
        raise PackLoadError("a chain file must be a mapping with a 'chain' list", path=str(path), line=1)
    spec = parse_chain(doc)
    problems = chain_problems(spec)
    if problems:
        field, message = problems[0]
        raise PackLoadError(message, path=str(path), line=doc.line_of(field), field=field)
    return spec


def parse_chain(doc: YamlDoc) -> ChainSpec:
    """The chain in ``doc``; raises :class:`PackLoadError` naming the first invalid field."""
    try:
        return ChainSpec.model_validate(doc.data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"unknown key '{error['loc'][-1]}'"
        elif error["type"] == "missing":
            message = "this key is required"
        raise PackLoadError(message, path=str(doc.path), line=doc.line_of(field), field=field) from exc
