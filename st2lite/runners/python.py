"""The ``python-script`` runner: runs a pack's Python action in a new Python process.

Each execution starts :mod:`st2lite.runners.python_wrapper` with this
interpreter, sends it the parameters and pack config on stdin and reads the
action's return value back from between two random delimiters in stdout, so
whatever the action prints stays in ``stdout``. The result has StackStorm's
shape ``{result, stdout, stderr, exit_code[, error]}``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any, ClassVar

import st2lite.action_base
from st2lite.actions import ParameterSpec
from st2lite.exceptions import RunnerError
from st2lite.runners.base import (
    OutputCallback,
    ProcessOutcome,
    RunContext,
    Runner,
    RunResult,
    action_environment,
    resolve_entry_point,
    run_process,
    timeout_message,
)
from st2lite.runners.python_wrapper import LOG_LEVELS, WrapperRequest
from st2lite.statuses import ExecutionStatus

__all__ = ["WRAPPER_PATH", "PythonRunner", "python_result"]

logger = logging.getLogger(__name__)

#: The file the action process runs.
WRAPPER_PATH = Path(__file__).with_name("python_wrapper.py")
#: The folder holding the ``st2lite`` and ``st2common`` packages, put on the action's ``PYTHONPATH``.
_SOURCE_ROOT = Path(st2lite.action_base.__file__).resolve().parent.parent


def python_result(outcome: ProcessOutcome, *, delimiter: str, timeout: float | None) -> RunResult:
    """Turn the wrapper's output into the runner result and status.

    ``(False, value)`` fails even when the process exits 0; a plain value
    succeeds when it does; a timeout wins over everything.
    """
    stdout = outcome.stdout
    payload: dict[str, Any] = {}
    parts = stdout.split(delimiter)
    if len(parts) == 3:
        with contextlib.suppress(ValueError):
            payload = json.loads(parts[1])
        stdout = parts[0] + parts[2].removeprefix("\n")
    error: str | None = payload.get("error")
    action_status = payload.get("status")
    result: dict[str, Any] = {
        "result": payload.get("result"),
        "stdout": stdout,
        "stderr": outcome.stderr,
        "exit_code": outcome.return_code,
    }
    succeeded = outcome.return_code == 0 and error is None and action_status is not False
    status = ExecutionStatus.SUCCEEDED if succeeded else ExecutionStatus.FAILED
    if outcome.timed_out:
        status = ExecutionStatus.TIMEOUT
        error = timeout_message(timeout or 0)
        result["error"] = error
    elif error is None and not succeeded and action_status is not False:
        error = f"the action process exited with code {outcome.return_code}; see stderr"
    return RunResult(status=status, result=result, error=error)


class PythonRunner(Runner):
    """``python-script``: runs ``<pack>/actions/<entry_point>``'s Action subclass in a new process."""

    name: ClassVar[str] = "python-script"
    parameters: ClassVar[dict[str, ParameterSpec]] = {
        "env": ParameterSpec(type="object", description="Environment variables to set for the action process."),
        "timeout": ParameterSpec(
            type="integer",
            default=600,
            description="Seconds after which the action's process group is killed.",
        ),
        "log_level": ParameterSpec.model_validate(
            {
                "type": "string",
                "default": "DEBUG",
                "enum": list(LOG_LEVELS),
                "description": "Lowest level of the action's self.logger records written to stderr.",
            }
        ),
        "debug": ParameterSpec(
            type="boolean", default=False, description="Set ST2_ACTION_DEBUG=1 and log at DEBUG level."
        ),
    }

    def run(self, ctx: RunContext, *, on_output: OutputCallback | None = None) -> RunResult:
        values = self.runner_values(ctx)
        path = resolve_entry_point(ctx)
        delimiter = f"<<st2lite-result-{secrets.token_hex(16)}>>"
        debug = bool(values.get("debug"))
        request: WrapperRequest = {
            "delimiter": delimiter,
            "entry_point": str(path),
            "pack": ctx.pack,
            "pack_path": ctx.pack_path,
            "parameters": {k: v for k, v in ctx.parameters.items() if k not in self.parameters},
            "config": ctx.config,
            "user": ctx.user,
            "log_level": "DEBUG" if debug else str(values.get("log_level") or "DEBUG"),
        }
        env = action_environment(ctx, values.get("env"))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_SOURCE_ROOT), env.get("PYTHONPATH", "")) if p)
        if debug:
            env["ST2_ACTION_DEBUG"] = "1"
        if on_output is not None:
            env.setdefault("PYTHONUNBUFFERED", "1")  # prints reach the output as they happen, not at exit
        timeout = self.effective_timeout(ctx)
        logger.info("running %s (python-script) for execution %s", ctx.action_ref, ctx.execution_id)
        try:
            outcome = run_process(
                # -P keeps the wrapper's folder off sys.path: runners/http.py would shadow the stdlib.
                [sys.executable, "-P", str(WRAPPER_PATH)],
                env=env,
                stdin=json.dumps(request, default=str).encode("utf-8"),
                timeout=timeout,
                on_output=_without_delimited(delimiter, on_output),
            )
        except OSError as exc:
            raise RunnerError(
                f"action '{ctx.action_ref}': cannot start the Python interpreter {sys.executable}: {exc}"
            ) from exc
        return python_result(outcome, delimiter=delimiter, timeout=timeout)


def _without_delimited(delimiter: str, on_output: OutputCallback | None) -> OutputCallback | None:
    """Wrap ``on_output`` so the wrapper's result record is not passed on as output."""
    if on_output is None:
        return None
    callback = on_output

    def forward(stream: str, line: str) -> None:
        if stream == "stdout" and delimiter in line:
            before = line.split(delimiter, 1)[0]
            if before:
                callback(stream, before)
            return
        callback(stream, line)

    return forward
