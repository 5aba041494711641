"""The ``local-shell-cmd`` and ``local-shell-script`` runners.

``local-shell-cmd`` runs its ``cmd`` parameter with ``bash -c``.
``local-shell-script`` runs ``<pack>/actions/<entry_point>`` with the action
parameters as arguments: those with a ``position`` first, in order, then the
others as ``<kwarg_op>name=value``. An executable script runs directly (its
shebang picks the interpreter); a non-executable one runs with the interpreter
its shebang names, or with bash when it has none.

Both return StackStorm's shell result ``{succeeded, failed, return_code,
stdout, stderr[, error]}``; exit code 0 is ``succeeded``, -9 (killed by the
timeout) ``timeout``, -15 ``abandoned`` and anything else ``failed``.
"""

from __future__ import annotations

import abc
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from st2lite.actions import ParameterSpec
from st2lite.arguments import positional_and_named
from st2lite.exceptions import RunnerError
from st2lite.runners.base import (
    OutputCallback,
    ProcessOutcome,
    RunContext,
    Runner,
    RunResult,
    action_environment,
    decode_json_fields,
    resolve_entry_point,
    run_process,
    strip_shell_chars,
    timeout_message,
)
from st2lite.statuses import ExecutionStatus

__all__ = [
    "EXIT_CODE_STATUS",
    "LocalShellCommandRunner",
    "LocalShellScriptRunner",
    "script_interpreter",
    "shell_result",
    "sudo_prefix",
]

logger = logging.getLogger(__name__)

#: Exit code -> status; any other code is ``failed`` (StackStorm's table).
EXIT_CODE_STATUS: dict[int, ExecutionStatus] = {
    0: ExecutionStatus.SUCCEEDED,
    1: ExecutionStatus.FAILED,
    -9: ExecutionStatus.TIMEOUT,
    -15: ExecutionStatus.ABANDONED,
}

#: Return code reported when sudo refused the password.
BAD_SUDO_PASSWORD_CODE = -1

_BAD_SUDO_PASSWORD = re.compile(r"sudo: \d+ incorrect password attempts?")

_COMMON_PARAMETERS: dict[str, ParameterSpec] = {
    "cwd": ParameterSpec(type="string", description="Working directory of the command."),
    "env": ParameterSpec(type="object", description="Environment variables to set for the command."),
    "kwarg_op": ParameterSpec(type="string", default="--", description="Prefix of named script arguments."),
    "sudo": ParameterSpec(type="boolean", default=False, description="Run the command with sudo."),
    "sudo_password": ParameterSpec(
        type="string", secret=True, description="Password sudo asks for; without it sudo must not ask."
    ),
    "timeout": ParameterSpec(
        type="integer", default=60, description="Seconds after which the command's process group is killed."
    ),
}


def sudo_prefix(*, sudo: bool, password: str | None, is_root: bool) -> list[str]:
    """The argv prefix that runs a command through sudo; empty without sudo or when already root."""
    if not sudo or is_root:
        return []
    if password:
        return ["sudo", "-S", "-p", "", "-E", "--"]
    return ["sudo", "-n", "-E", "--"]


def script_interpreter(path: Path) -> list[str]:
    """The argv prefix that runs the script at ``path``: none if executable, else its shebang or bash."""
    if os.access(path, os.X_OK):
        return []
    with path.open("rb") as handle:
        first = handle.readline().decode("utf-8", errors="replace").strip()
    if first.startswith("#!") and first[2:].strip():
        # Like the kernel: the interpreter, then at most one argument (the rest of the line).
        interpreter, _, argument = first[2:].strip().partition(" ")
        return [interpreter, argument.strip()] if argument.strip() else [interpreter]
    return ["bash"]


def shell_result(outcome: ProcessOutcome, *, timeout: float | None, sudo_password_used: bool) -> RunResult:
    """Map a finished shell process to StackStorm's shell result and status."""
    return_code = outcome.return_code
    error: str | None = None
    if outcome.timed_out:
        return_code = -9
        error = timeout_message(timeout or 0)
    if sudo_password_used and _BAD_SUDO_PASSWORD.search(outcome.stderr):
        return_code = BAD_SUDO_PASSWORD_CODE
        error = "Invalid sudo password provided or sudo is not configured for this user; fix sudo_password"
    succeeded = return_code == 0
    result: dict[str, Any] = {
        "succeeded": succeeded,
        "failed": not succeeded,
        "return_code": return_code,
        "stdout": strip_shell_chars(outcome.stdout),
        "stderr": strip_shell_chars(outcome.stderr),
    }
    if error:
        result["error"] = error
    status = EXIT_CODE_STATUS.get(return_code, ExecutionStatus.FAILED)
    return RunResult(status=status, result=decode_json_fields(result, ("stdout", "stderr")), error=error)


class _LocalShellRunner(Runner):
    """What both local shell runners share: sudo, cwd, environment, timeout and the result."""

    def run(self, ctx: RunContext, *, on_output: OutputCallback | None = None) -> RunResult:
        values = self.runner_values(ctx)
        command = self._command(ctx, values)
        password = values.get("sudo_password") or None
        argv = sudo_prefix(sudo=bool(values.get("sudo")), password=password, is_root=os.geteuid() == 0) + command
        cwd = values.get("cwd") or None
        if cwd is not None and not Path(cwd).is_dir():
            raise RunnerError(f"action '{ctx.action_ref}': cwd '{cwd}' is not a folder; fix the cwd parameter")
        uses_password = bool(argv) and argv[0] == "sudo" and password is not None
        timeout = self.effective_timeout(ctx)
        logger.info("running %s (%s) for execution %s", ctx.action_ref, self.name, ctx.execution_id)
        env = action_environment(ctx, values.get("env"))
        if on_output is not None:
            env.setdefault("PYTHONUNBUFFERED", "1")  # a Python script's prints stream as they happen
        try:
            outcome = run_process(
                argv,
                env=env,
                cwd=cwd,
                stdin=f"{password}\n".encode() if uses_password else None,
                timeout=timeout,
                on_output=on_output,
            )
        except OSError as exc:
            raise RunnerError(
                f"action '{ctx.action_ref}': cannot start '{argv[0]}': {exc.strerror or exc}; "
                "check that it is installed and executable"
            ) from exc
        return shell_result(outcome, timeout=timeout, sudo_password_used=uses_password)

    @abc.abstractmethod
    def _command(self, ctx: RunContext, values: Mapping[str, Any]) -> list[str]:
        """The argv to run (without the sudo prefix)."""


class LocalShellCommandRunner(_LocalShellRunner):
    """``local-shell-cmd``: runs the ``cmd`` parameter with ``bash -c``."""

    name: ClassVar[str] = "local-shell-cmd"
    parameters: ClassVar[dict[str, ParameterSpec]] = {
        "cmd": ParameterSpec(type="string", description="Command to run with bash -c."),
        **_COMMON_PARAMETERS,
    }

    def _command(self, ctx: RunContext, values: Mapping[str, Any]) -> list[str]:
        cmd = values.get("cmd")
        if not isinstance(cmd, str) or not cmd.strip():
            raise RunnerError(
                f"action '{ctx.action_ref}' (local-shell-cmd) has no 'cmd' to run; "
                "set cmd in the action metadata or pass it when running the action"
            )
        return ["bash", "-c", cmd]


class LocalShellScriptRunner(_LocalShellRunner):
    """``local-shell-script``: runs the entry point with the action parameters as arguments."""

    name: ClassVar[str] = "local-shell-script"
    parameters: ClassVar[dict[str, ParameterSpec]] = dict(_COMMON_PARAMETERS)

    def _command(self, ctx: RunContext, values: Mapping[str, Any]) -> list[str]:
        path = resolve_entry_point(ctx)
        args = positional_and_named(
            ctx.action_parameter_specs,
            ctx.parameters,
            kwarg_op=str(values.get("kwarg_op") or "--"),
            exclude=self.parameters.keys(),
        )
        return [*script_interpreter(path), str(path), *args]
