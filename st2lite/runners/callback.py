"""The ``callback`` runner: hand a task to an outside system and wait for it to call back.

AWS Step Functions' "wait for task token", for st2lite: running it makes a
random token (:mod:`st2lite.callbacks`), returns ``pending`` with a
:class:`~st2lite.waits.Wait` that keeps only the token's hash, and once the
worker has parked the execution, runs ``notify_cmd`` once with the callback
URL and the token in its environment (``ST2_CALLBACK_URL``,
``ST2_CALLBACK_TOKEN``, ``ST2_CALLBACK_HEARTBEAT_URL``). The outside system
posts ``{"token", "status", "result"}`` to the URL; it may also post
heartbeats. ``timeout`` bounds the whole wait, ``heartbeat`` the silence
between heartbeats. A ``notify_cmd`` that fails fails the execution.
"""

from __future__ import annotations

from typing import Any, ClassVar

from st2lite.actions import ParameterSpec
from st2lite.callbacks import callback_path, hash_token, new_token
from st2lite.runners.base import (
    OutputCallback,
    RunContext,
    Runner,
    RunResult,
    action_environment,
    run_process,
    strip_shell_chars,
)
from st2lite.statuses import ExecutionStatus
from st2lite.waits import NotifyCommand, Wait, WaitKind

__all__ = ["CALLBACK_RUNNER", "CallbackRunner", "run_notify"]

#: The runner type of callback tasks.
CALLBACK_RUNNER = "callback"


class CallbackRunner(Runner):
    """``callback``: wait for an outside system to post the outcome (see docs/inquiries.md)."""

    name: ClassVar[str] = CALLBACK_RUNNER
    parameters: ClassVar[dict[str, ParameterSpec]] = {
        "notify_cmd": ParameterSpec(
            type="string",
            required=True,
            description="Shell command run once the task waits; it gets ST2_CALLBACK_URL and ST2_CALLBACK_TOKEN.",
        ),
        "timeout": ParameterSpec(
            type="integer", default=3600, description="Seconds to wait for the callback (0: no limit)."
        ),
        "heartbeat": ParameterSpec(
            type="integer", default=0, description="Seconds allowed between heartbeats (0: no heartbeat needed)."
        ),
        "notify_timeout": ParameterSpec(
            type="integer", default=60, description="Seconds notify_cmd may run before it is killed."
        ),
        "cwd": ParameterSpec(type="string", description="Working directory of notify_cmd."),
        "env": ParameterSpec(type="object", description="Environment variables to set for notify_cmd."),
    }

    def run(self, ctx: RunContext, *, on_output: OutputCallback | None = None) -> RunResult:
        values = self.runner_values(ctx)
        command = values.get("notify_cmd")
        timeout, heartbeat = values.get("timeout") or 0, values.get("heartbeat") or 0
        problem = None
        if not isinstance(command, str) or not command.strip():
            problem = "notify_cmd is empty; give the command that tells the outside system where to call back"
        elif not _seconds(timeout) or not _seconds(heartbeat):
            problem = f"timeout and heartbeat must be whole seconds >= 0, not {timeout!r} and {heartbeat!r}"
        if problem is not None:
            return RunResult(status=ExecutionStatus.FAILED, result={"error": problem}, error=problem)
        assert isinstance(command, str)
        token = new_token()
        url = ctx.api_url.rstrip("/") + callback_path(ctx.execution_id)
        env = action_environment(ctx, values.get("env"))
        env.update(ST2_CALLBACK_URL=url, ST2_CALLBACK_TOKEN=token, ST2_CALLBACK_HEARTBEAT_URL=f"{url}/heartbeat")
        notify = NotifyCommand(
            argv=["bash", "-c", command],
            env=env,
            cwd=values.get("cwd") or None,
            timeout=float(values.get("notify_timeout") or 60),
        )
        wait = Wait(
            kind=WaitKind.CALLBACK,
            timeout=float(timeout) or None,
            heartbeat=float(heartbeat) or None,
            token_hash=hash_token(token),
            notify=notify,
        )
        result = {"callback_url": url, "timeout": timeout, "heartbeat": heartbeat}
        return RunResult(status=ExecutionStatus.PENDING, result=result, wait=wait)


def _seconds(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def run_notify(command: NotifyCommand) -> dict[str, Any] | None:
    """Run a callback task's notify command; None when it succeeded, else what to add to the failed result."""
    try:
        outcome = run_process(command.argv, env=command.env, cwd=command.cwd, timeout=command.timeout)
    except OSError as exc:
        return {"error": f"notify_cmd could not start: {exc}"}
    if outcome.return_code == 0:
        return None
    reason = (
        f"notify_cmd was killed after {command.timeout:g} seconds"
        if outcome.timed_out
        else f"notify_cmd exited with {outcome.return_code}"
    )
    return {
        "error": f"{reason}; the outside system was not told where to call back",
        "notify": {
            "return_code": outcome.return_code,
            "stdout": strip_shell_chars(outcome.stdout),
            "stderr": strip_shell_chars(outcome.stderr),
        },
    }
