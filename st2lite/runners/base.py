"""What every runner shares: the run context, the result, the runner interface and process supervision.

A runner turns one :class:`RunContext` (an execution whose parameters are
final) into one :class:`RunResult` whose ``result`` has StackStorm's shape for
that runner. Runners never touch Redis or the execution record; the worker
does. Subprocess runners (shell, python) start their process in a new session
through :func:`run_process`, so a timeout kills the whole process group.
"""

from __future__ import annotations

import abc
import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from st2lite.actions import ParameterSpec
from st2lite.exceptions import RunnerError
from st2lite.processes import die_with_parent
from st2lite.statuses import ExecutionStatus
from st2lite.waits import Wait

__all__ = [
    "OutputCallback",
    "ProcessOutcome",
    "RunContext",
    "RunResult",
    "Runner",
    "decode_json_fields",
    "action_environment",
    "cancel_running",
    "resolve_entry_point",
    "run_process",
    "strip_shell_chars",
    "timeout_message",
]

logger = logging.getLogger(__name__)

#: Receives live output: ``(stream, line)`` with stream ``"stdout"`` or ``"stderr"`` and the line as read,
#: line ending included (the last line of a stream may have none).
OutputCallback = Callable[[str, str], None]

#: Seconds the output readers get to reach the end of the output once the process has exited.
_DRAIN_AFTER_EXIT = 1.0
#: Seconds the output readers get to drain after the process group was killed.
_DRAIN_AFTER_KILL = 2.0


class RunContext(BaseModel):
    """Everything a runner needs to run one execution.

    ``parameters`` are the action's parameters with their final, real values
    (secrets in clear: never log them). ``runner_parameters`` are the values of
    the runner's parameters (the names in :attr:`Runner.parameters`); a name left
    out takes the runner's default. An entry of ``parameters`` that names a
    runner parameter counts as a runner value and is not passed to the script
    or ``run()``. ``timeout``, when set, overrides the ``timeout`` runner parameter.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    execution_id: str
    action_ref: str
    pack: str
    #: Absolute folder of the pack; entry points resolve against ``<pack_path>/actions``.
    pack_path: str = ""
    entry_point: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)
    runner_parameters: dict[str, Any] = Field(default_factory=dict)
    action_parameter_specs: dict[str, ParameterSpec] = Field(default_factory=dict)
    timeout: float | None = None
    #: Extra environment variables for subprocesses (the worker passes ``ST2LITE_REDIS_URL`` and
    #: ``ST2LITE_DATASTORE_KEY_FILE`` here).
    env: dict[str, str] = Field(default_factory=dict)
    api_url: str = ""
    #: The pack configuration.
    config: dict[str, Any] = Field(default_factory=dict)
    #: The user the execution runs for (its ``context.user``): whose ``st2kv.user`` values it reads.
    user: str = ""


class RunResult(BaseModel):
    """How an execution ended: its status, its result (StackStorm's shape per runner) and an error message.

    A runner that waits for someone outside returns ``pending`` with a ``wait``
    (see :mod:`st2lite.waits`); the worker then parks the execution instead of ending it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: ExecutionStatus
    result: Any = None
    error: str | None = None
    wait: Wait | None = None


class Runner(abc.ABC):
    """Runs actions of one runner type.

    Subclasses set :attr:`name` (StackStorm's runner type name) and
    :attr:`parameters` (the runner parameters with their defaults). :meth:`run`
    returns a result for anything the action itself does (non-zero exit,
    exception, HTTP error, timeout) and raises :class:`~st2lite.exceptions.RunnerError`
    only when the action cannot be started at all.
    """

    name: ClassVar[str]
    parameters: ClassVar[dict[str, ParameterSpec]]

    @abc.abstractmethod
    def run(self, ctx: RunContext, *, on_output: OutputCallback | None = None) -> RunResult:
        """Run the execution described by ``ctx``; ``on_output`` receives output lines as they come."""

    def runner_values(self, ctx: RunContext) -> dict[str, Any]:
        """The runner parameter values of ``ctx``, defaults filled in.

        Later wins: the runner defaults, entries of ``ctx.parameters`` that name a
        runner parameter, then ``ctx.runner_parameters``.
        """
        values = {name: spec.default for name, spec in self.parameters.items() if spec.has_default}
        values.update({k: v for k, v in ctx.parameters.items() if k in self.parameters})
        values.update(ctx.runner_parameters)
        return values

    def effective_timeout(self, ctx: RunContext) -> float | None:
        """``ctx.timeout`` when set, else the ``timeout`` runner parameter (``None`` or 0: no limit)."""
        raw = ctx.timeout if ctx.timeout is not None else self.runner_values(ctx).get("timeout")
        if raw is None:
            return None
        value = float(raw)
        return value if value > 0 else None


def resolve_entry_point(ctx: RunContext) -> Path:
    """The absolute path of the action's script: ``<pack_path>/actions/<entry_point>``.

    Raises:
        RunnerError: The entry point is empty, leaves the pack's ``actions`` folder or is not a file.
    """
    where = f"action '{ctx.action_ref}'"
    if not ctx.entry_point:
        raise RunnerError(f"{where} has no entry_point; set it in the action metadata (a path under actions/)")
    if not ctx.pack_path:
        raise RunnerError(f"{where} has no pack path; register its pack again with 'st2lite pack register'")
    # Lexical normalisation: ".." may not escape actions/, but symlinked scripts are fine.
    actions_dir = Path(os.path.normpath(Path(ctx.pack_path).absolute() / "actions"))
    path = Path(os.path.normpath(actions_dir / ctx.entry_point))
    if not path.is_relative_to(actions_dir):
        raise RunnerError(
            f"{where}: entry_point '{ctx.entry_point}' points outside {actions_dir}; "
            "keep action scripts under the pack's actions/ folder"
        )
    if not path.is_file():
        raise RunnerError(
            f"{where}: entry_point '{ctx.entry_point}' is not a file (looked for {path}); "
            "create it or fix entry_point in the action metadata"
        )
    return path


def action_environment(ctx: RunContext, user_env: Mapping[str, Any] | None) -> dict[str, str]:
    """The environment of an action subprocess.

    Layers, later wins: this process's environment, ``ctx.env``, the ``env``
    runner parameter (non-string values JSON-encoded, ``None`` dropped), then
    ``ST2_ACTION_PACK_NAME``, ``ST2_ACTION_EXECUTION_ID`` and ``ST2_ACTION_API_URL``.
    """
    env = dict(os.environ)
    env.update(ctx.env)
    for key, value in (user_env or {}).items():
        if value is not None:
            env[str(key)] = value if isinstance(value, str) else json.dumps(value)
    env["ST2_ACTION_PACK_NAME"] = ctx.pack
    env["ST2_ACTION_EXECUTION_ID"] = ctx.execution_id
    env["ST2_ACTION_API_URL"] = ctx.api_url
    return env


def timeout_message(timeout: float) -> str:
    """StackStorm's error text for an action killed by its timeout."""
    return f"Action failed to complete in {timeout:g} seconds"


def strip_shell_chars(text: str) -> str:
    """Drop one trailing ``\\n`` and then one trailing ``\\r``, as StackStorm does with shell output."""
    text = text.removesuffix("\n")
    return text.removesuffix("\r")


def decode_json_fields(result: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """Return ``result`` with each string under ``keys`` replaced by its JSON value when it is valid JSON."""
    out = dict(result)
    for key in keys:
        value = out.get(key)
        if isinstance(value, str) and value:
            with contextlib.suppress(ValueError):
                out[key] = json.loads(value)
    return out


class ProcessOutcome(BaseModel):
    """How a subprocess ended: exit code (negative signal number when killed), decoded output, timed out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    return_code: int
    stdout: str
    stderr: str
    timed_out: bool


def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None = None,
    stdin: bytes | None = None,
    timeout: float | None = None,
    on_output: OutputCallback | None = None,
) -> ProcessOutcome:
    """Run ``argv`` in a new session, collecting its output, and kill its process group on timeout.

    Output is decoded as UTF-8 (undecodable bytes replaced). When the process
    exits but a descendant still holds its output pipes open a second later (or
    at the deadline), the group is killed then too, so a background job cannot
    hold the execution open.

    Raises:
        OSError: The program cannot be started (not found, not executable); callers translate it.
    """
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=dict(env),
        start_new_session=True,
        # A worker killed outright takes its action with it instead of leaving it running unseen.
        preexec_fn=_die_with_worker if threading.current_thread() is threading.main_thread() else None,
    )
    assert proc.stdout is not None and proc.stderr is not None
    with _groups_lock:
        _running_groups.add(proc.pid)
    try:
        return _supervise(proc, stdin=stdin, timeout=timeout, on_output=on_output)
    finally:
        with _groups_lock:
            _running_groups.discard(proc.pid)


#: Process groups of the actions this process runs now (their leaders' pids), for :func:`cancel_running`.
_running_groups: set[int] = set()
_groups_lock = threading.Lock()


def cancel_running() -> int:
    """Kill the process group of every action this process runs now (a cancel); returns how many."""
    with _groups_lock:
        groups = list(_running_groups)
    for pgid in groups:
        _kill_group(pgid)
    return len(groups)


def _supervise(
    proc: subprocess.Popen[bytes], *, stdin: bytes | None, timeout: float | None, on_output: OutputCallback | None
) -> ProcessOutcome:
    assert proc.stdout is not None and proc.stderr is not None
    deadline = None if timeout is None else time.monotonic() + timeout
    chunks: dict[str, list[str]] = {"stdout": [], "stderr": []}
    readers = [
        threading.Thread(target=_read_lines, args=(stream, name, chunks[name], on_output), daemon=True)
        for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr))
    ]
    for reader in readers:
        reader.start()
    if stdin is not None:
        threading.Thread(target=_feed, args=(proc.stdin, stdin), daemon=True).start()

    timed_out = False
    try:
        proc.wait(timeout=_remaining(deadline))
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid)
        proc.wait()
    drain_deadline = time.monotonic() + _DRAIN_AFTER_EXIT
    if deadline is not None:
        drain_deadline = min(drain_deadline, deadline)
    for reader in readers:
        reader.join(_remaining(drain_deadline))
    if any(reader.is_alive() for reader in readers):
        # The process ended but a descendant (a background job) still holds the pipes open.
        _kill_group(proc.pid)
        for reader in readers:
            reader.join(_DRAIN_AFTER_KILL)
    return ProcessOutcome(
        return_code=proc.returncode,
        stdout="".join(chunks["stdout"]),
        stderr="".join(chunks["stderr"]),
        timed_out=timed_out,
    )


def _die_with_worker() -> None:
    die_with_parent(signal.SIGKILL)


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _feed(pipe: IO[bytes] | None, data: bytes) -> None:
    if pipe is None:
        return
    with contextlib.suppress(BrokenPipeError, OSError):
        pipe.write(data)
    with contextlib.suppress(BrokenPipeError, OSError):
        pipe.close()


def _read_lines(stream: IO[bytes], name: str, sink: list[str], on_output: OutputCallback | None) -> None:
    with stream:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace")
            sink.append(line)
            if on_output is not None:
                try:
                    on_output(name, line)
                except Exception:
                    logger.exception("output callback failed on a %s line; output is still collected", name)
