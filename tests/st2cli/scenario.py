"""Run a list of :class:`Step` (``st2`` commands, a few HTTP calls) in order and keep a transcript of each.

A step's command line may use ``${NAME}`` placeholders: the fixed variables
given to :class:`Scenario` (``BASE``, ``ST2_PASS``, ``HOME``...) and what
earlier steps captured (``EXEC_ID``...). A step whose ``export`` is set puts its
captured value in the environment of every later ``st2`` command (how the
token from ``st2 auth -t`` becomes ``ST2_AUTH_TOKEN``).

The scenario only records what happened; :func:`problems` says what a result
got wrong, so the test decides what to assert and what is pending.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

__all__ = ["Result", "Scenario", "Step", "clean_environment", "problems"]

#: Seconds one ``st2`` command may take (``st2 run`` polls every 2 s until the execution ends).
COMMAND_TIMEOUT = 90.0
#: Seconds a waiting step (``retry``, ``wait``) keeps trying.
DEADLINE = 30.0
#: Statuses an execution never leaves.
FINAL = frozenset({"succeeded", "failed", "timeout", "abandoned", "canceled"})
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
#: The line that starts each section of the transcript (as the contract's driver script writes it).
RULER = "==================="


@dataclass(frozen=True)
class Step:
    """One command of the acceptance script and what it must do.

    Attributes:
        name: The test id.
        args: ``st2`` arguments (``${NAME}`` placeholders allowed).
        code: The exit code it must end with (for an ``http`` step: the HTTP status).
        expect: Strings its output must contain.
        pattern: Regular expressions its output must match.
        absent: Strings its output must not contain.
        needs: Features it depends on (see ``PENDING`` in the test).
        unset: Environment variables removed for this command.
        env: Environment variables set for this command.
        capture: ``(NAME, regex)``: keep the regex's first group as ``${NAME}`` (only on the expected exit code).
        export: Put the captured value in the environment of later commands as ``NAME``.
        seed: Body of a ``POST /api/v1/executions`` giving ``${NAME}`` when the capture failed and the step is
            pending, so later steps can still run against an execution.
        wait: ``(NAME, statuses)``: before running, wait until execution ``${NAME}`` has one of ``statuses``.
        retry: Run again until the expectations hold or :data:`DEADLINE` passes (something happens elsewhere).
        http: ``(method, path, json body)``: an HTTP call to st2lite instead of an ``st2`` command.
    """

    name: str
    args: tuple[str, ...] = ()
    code: int = 0
    expect: tuple[str, ...] = ()
    pattern: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    needs: frozenset[str] = frozenset()
    unset: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    capture: tuple[str, str] | None = None
    export: bool = False
    seed: Mapping[str, Any] | None = None
    wait: tuple[str, frozenset[str]] | None = None
    retry: bool = False
    http: tuple[str, str, Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class Result:
    step: Step
    command: str
    output: str
    code: int
    seconds: float
    notes: tuple[str, ...] = ()

    @property
    def section(self) -> str:
        """This command's part of the transcript: the command line, what it printed, its exit code."""
        lines = [f"{RULER} $ {self.command}", self.output.rstrip("\n"), f"[exit {self.code}]"]
        lines += [f"(note: {note})" for note in self.notes]
        return "\n".join(lines)


def problems(result: Result) -> list[str]:
    """What ``result`` got wrong against its step (empty when it did everything the step asks)."""
    step, out = result.step, result.output
    found = []
    if result.code != step.code:
        found.append(f"exit code {result.code}, expected {step.code}")
    found += [f"output lacks {text!r}" for text in step.expect if text not in out]
    found += [f"output does not match /{regex}/" for regex in step.pattern if not re.search(regex, out, re.M)]
    found += [f"output contains {text!r}" for text in step.absent if text in out]
    if "Traceback (most recent call last)" in out:
        found.append("the client crashed (a Python traceback)")
    if step.code == 0 and "ERROR:" in out:
        found.append("the client printed an ERROR")
    return found


class Scenario:
    """Runs steps with the real ``st2`` against one st2lite and keeps every :class:`Result`."""

    def __init__(self, st2: Path, env: Mapping[str, str], variables: Mapping[str, str], api_url: str) -> None:
        self.st2 = st2
        self.env = dict(env)
        self.vars = dict(variables)
        self.api_url = api_url
        self.results: dict[str, Result] = {}

    def fill(self, text: str) -> str:
        """``text`` with its ``${NAME}`` placeholders replaced (an unknown name stays as it is)."""
        return _PLACEHOLDER.sub(lambda m: self.vars.get(m.group(1), m.group(0)), text)

    def run_all(self, steps: list[Step], pending: set[str]) -> None:
        for step in steps:
            self.results[step.name] = self.run(step, pending=bool(step.needs & pending))

    def run(self, step: Step, *, pending: bool) -> Result:
        """Run ``step`` (its expectations with the placeholders known so far filled in)."""
        step = replace(
            step,
            expect=tuple(self.fill(t) for t in step.expect),
            absent=tuple(self.fill(t) for t in step.absent),
            pattern=tuple(self.fill(t) for t in step.pattern),
        )
        notes: list[str] = []
        if step.wait is not None:
            notes += self._wait(*step.wait)
        deadline = time.monotonic() + DEADLINE
        while True:
            result = self._http(step) if step.http else self._command(step)
            if not step.retry or pending or not problems(result) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if step.capture is not None:
            name, regex = step.capture
            match = re.search(regex, result.output, re.M) if result.code == step.code else None
            if match:
                self.vars[name] = match.group(1)
                if step.export:
                    self.env[name] = match.group(1)
            elif pending and step.seed is not None:
                self.vars[name] = self._seed(step.seed)
                notes.append(f"pending step: {name}={self.vars[name]} requested with POST /api/v1/executions")
        return Result(result.step, result.command, result.output, result.code, result.seconds, (*result.notes, *notes))

    def _command(self, step: Step) -> Result:
        args = [self.fill(a) for a in step.args]
        env = {k: v for k, v in self.env.items() if k not in step.unset}
        env.update({k: self.fill(v) for k, v in step.env.items()})
        changes = [*(f"-u {k}" for k in step.unset), *(f"{k}=..." for k in step.env)]
        shown = " ".join([*(["env", *changes] if changes else []), "st2", *(_quote(a) for a in args)])
        started = time.monotonic()
        try:
            done = subprocess.run(
                [str(self.st2), *args],
                env=env,
                cwd=self.vars["HOME"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
            output, code = done.stdout, done.returncode
        except subprocess.TimeoutExpired as exc:
            captured = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else exc.output or ""
            output, code = f"{captured}\n(killed after {COMMAND_TIMEOUT:.0f}s)", -9
        return Result(step, shown, output, code, time.monotonic() - started)

    def _headers(self) -> dict[str, str]:
        token = self.env.get("ST2_AUTH_TOKEN")
        return {"X-Auth-Token": token} if token else {}

    def _http(self, step: Step) -> Result:
        assert step.http is not None
        method, path, body = step.http
        started = time.monotonic()
        response = httpx.request(method, self.api_url + self.fill(path), json=body, headers=self._headers())
        return Result(step, f"{method} {path} {body}", response.text, response.status_code, time.monotonic() - started)

    def _seed(self, body: Mapping[str, Any]) -> str:
        response = httpx.post(f"{self.api_url}/api/v1/executions", json=dict(body), headers=self._headers())
        assert response.status_code == 201, f"POST /api/v1/executions {body}: {response.status_code} {response.text}"
        execution_id: str = response.json()["id"]
        return execution_id

    def _wait(self, name: str, statuses: frozenset[str]) -> list[str]:
        """Wait until execution ``${name}`` has one of ``statuses``; a note when it did not."""
        execution_id = self.vars.get(name)
        if execution_id is None:
            return [f"no {name} to wait for"]
        deadline = time.monotonic() + DEADLINE
        status = "?"
        while time.monotonic() < deadline:
            response = httpx.get(f"{self.api_url}/api/v1/executions/{execution_id}", headers=self._headers())
            status = response.json().get("status", "?") if response.status_code == 200 else str(response.status_code)
            if status in statuses:
                return []
            time.sleep(0.1)
        return [f"execution {execution_id} still {status} after {DEADLINE:.0f}s (waited for {sorted(statuses)})"]


def _quote(arg: str) -> str:
    return f"'{arg}'" if not arg or any(c in arg for c in " {}\"'$") else arg


def clean_environment(home: Path, urls: Mapping[str, str]) -> dict[str, str]:
    """The environment of every ``st2`` command: ours without ``ST2_*``, an empty home, the three URLs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ST2_", "ST2LITE_"))}
    env.update(urls)
    env.update(HOME=str(home), ST2_CLI_SKIP_CONFIG="1", TERM="dumb", COLUMNS="160", PYTHONWARNINGS="ignore")
    return env
