"""Runners: how each runner type runs an action, and the registry of runner types."""

from __future__ import annotations

from st2lite.exceptions import RunnerError
from st2lite.runners.base import RunContext, Runner, RunResult
from st2lite.runners.callback import CallbackRunner
from st2lite.runners.chain import ActionChainRunner
from st2lite.runners.http import HttpRequestRunner
from st2lite.runners.inquirer import InquirerRunner
from st2lite.runners.noop import NoopRunner
from st2lite.runners.python import PythonRunner
from st2lite.runners.shell import LocalShellCommandRunner, LocalShellScriptRunner

__all__ = ["RUNNERS", "RunContext", "RunResult", "Runner", "get_runner"]

#: Runner type name (``runner_type`` in action metadata) -> runner.
RUNNERS: dict[str, Runner] = {
    runner.name: runner
    for runner in (
        LocalShellCommandRunner(),
        LocalShellScriptRunner(),
        PythonRunner(),
        HttpRequestRunner(),
        NoopRunner(),
        ActionChainRunner(),
        InquirerRunner(),
        CallbackRunner(),
    )
}


def get_runner(name: str) -> Runner:
    """The runner for runner type ``name``.

    Raises:
        RunnerError: No runner has that name; the message lists the known ones.
    """
    try:
        return RUNNERS[name]
    except KeyError:
        known = ", ".join(sorted(RUNNERS))
        raise RunnerError(f"unknown runner type '{name}'; use one of: {known}") from None
