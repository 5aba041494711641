"""The ``noop`` runner: does nothing and succeeds (StackStorm's static result)."""

from __future__ import annotations

from typing import ClassVar

from st2lite.actions import ParameterSpec
from st2lite.runners.base import OutputCallback, RunContext, Runner, RunResult
from st2lite.statuses import ExecutionStatus

__all__ = ["NoopRunner"]


class NoopRunner(Runner):
    """``noop``: returns ``{failed: false, succeeded: true, return_code: 0}`` without running anything."""

    name: ClassVar[str] = "noop"
    parameters: ClassVar[dict[str, ParameterSpec]] = {}

    def run(self, ctx: RunContext, *, on_output: OutputCallback | None = None) -> RunResult:
        return RunResult(
            status=ExecutionStatus.SUCCEEDED,
            result={"failed": False, "succeeded": True, "return_code": 0},
        )
