"""Executions that wait in ``pending`` for someone outside: inquiries and callback tasks.

This module holds the pure part (what a wait is, when it times out);
:mod:`st2lite.wait_store` moves executions in and out of ``pending``.

A runner that waits (``inquirer``, ``callback``) returns a ``pending``
:class:`~st2lite.runners.base.RunResult` with a :class:`Wait`. The worker
hands it to :meth:`WaitStore.enter`, which, in one ``MULTI``, moves the
execution ``running -> pending`` (the lease goes: nobody runs it, so the
reaper leaves it alone), stores the :class:`WaitRecord` in the execution's
``wait`` field and puts the execution in ``st2lite:waits:deadlines``, scored
by when it times out. It ends in one of two ways, each an atomic
``transition.lua`` move allowed only from ``pending`` (so exactly once):

- an answer (``PUT /api/v1/inquiries/{id}``, ``POST /api/v1/callbacks/{id}``)
  through :meth:`WaitStore.finish`;
- its deadline: :meth:`WaitStore.sweep`, called by every :class:`~st2lite.worker.Reaper`
  (workers and ``st2lite rules``), moves it to ``timeout``.

A stale deadline entry (the execution was answered or canceled) is dropped
by the sweep when it comes due.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["NotifyCommand", "Wait", "WaitKind", "WaitRecord"]


class WaitKind(StrEnum):
    """Who the execution waits for."""

    INQUIRY = "inquiry"  # a person, through the inquiries API
    CALLBACK = "callback"  # a system, through the callbacks API


class NotifyCommand(BaseModel):
    """A command the worker runs once the execution is ``pending`` (it tells the outside system the token)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    argv: list[str]
    env: dict[str, str]
    cwd: str | None = None
    timeout: float = 60.0


class Wait(BaseModel):
    """What a waiting runner asks for: how long, how often a heartbeat, the token's hash, whom to notify.

    Only :meth:`record` is stored; ``notify`` holds the clear token in its
    environment and never leaves the worker's memory.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: WaitKind
    #: Seconds from entering ``pending`` to ``timeout``; None: no limit.
    timeout: float | None = Field(default=None, gt=0)
    #: Seconds allowed between heartbeats (the first counts from entering ``pending``); None: none needed.
    heartbeat: float | None = Field(default=None, gt=0)
    #: sha256 (hex) of the callback token.
    token_hash: str | None = None
    notify: NotifyCommand | None = None

    def record(self, now: float) -> WaitRecord:
        return WaitRecord(
            kind=self.kind,
            since=now,
            timeout=self.timeout,
            heartbeat=self.heartbeat,
            token_hash=self.token_hash,
        )


class WaitRecord(BaseModel):
    """The stored part of a :class:`Wait` (the execution's ``wait`` field)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: WaitKind
    #: Epoch seconds the execution entered ``pending``.
    since: float
    timeout: float | None = None
    heartbeat: float | None = None
    token_hash: str | None = None

    @property
    def timeout_at(self) -> float | None:
        return None if self.timeout is None else self.since + self.timeout

    def deadline(self, last_beat: float) -> float | None:
        """When it times out if the last sign of life (entering ``pending``, a heartbeat) was at ``last_beat``."""
        candidates = [t for t in (self.timeout_at, None if self.heartbeat is None else last_beat + self.heartbeat) if t]
        return min(candidates) if candidates else None

    def timeout_reason(self, now: float) -> str:
        """Why it timed out at ``now``: its whole wait ran out, or a heartbeat is missing."""
        timeout_at = self.timeout_at
        if timeout_at is not None and now >= timeout_at - 0.001:
            if self.kind is WaitKind.INQUIRY:
                return f"the inquiry was not answered within its ttl of {_minutes(self.timeout)} minutes"
            return f"no callback arrived within the timeout of {self.timeout:g} seconds"
        return f"no heartbeat arrived within {self.heartbeat:g} seconds; the outside system is presumed gone"


def _minutes(seconds: float | None) -> str:
    return f"{(seconds or 0) / 60:g}"
