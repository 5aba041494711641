"""Execution statuses and the one table of allowed transitions (StackStorm's names)."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "CANCELABLE",
    "COMPLETED",
    "FAILED_STATES",
    "TRANSITIONS",
    "ExecutionStatus",
    "can_transition",
]


class ExecutionStatus(StrEnum):
    """Where an execution is in its life; the values are the wire and storage format."""

    REQUESTED = "requested"  # created, not yet queued
    SCHEDULED = "scheduled"  # queued for a worker
    DELAYED = "delayed"  # held back by a policy, re-queued later
    RUNNING = "running"  # a worker runs it
    PENDING = "pending"  # waits for a response (inquiry)
    PAUSING = "pausing"  # a workflow finishes its running tasks before pausing
    PAUSED = "paused"
    RESUMING = "resuming"
    CANCELING = "canceling"  # cancel requested while running
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"  # ran past its timeout and was killed
    ABANDONED = "abandoned"  # its worker died or stopped before it ended
    CANCELED = "canceled"


S = ExecutionStatus

#: Statuses an execution never leaves.
COMPLETED = frozenset({S.SUCCEEDED, S.FAILED, S.TIMEOUT, S.ABANDONED, S.CANCELED})
#: Completed statuses that count as failures.
FAILED_STATES = frozenset({S.FAILED, S.TIMEOUT, S.ABANDONED})
#: Statuses from which a cancel request is accepted.
CANCELABLE = frozenset({S.REQUESTED, S.SCHEDULED, S.DELAYED, S.RUNNING, S.PENDING, S.PAUSING, S.PAUSED, S.RESUMING})

_ENDINGS = frozenset({S.SUCCEEDED, S.FAILED, S.TIMEOUT, S.ABANDONED})

#: status -> the statuses it may move to. Completed statuses move nowhere (re-run makes a new execution).
TRANSITIONS: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    S.REQUESTED: frozenset({S.SCHEDULED, S.DELAYED, S.CANCELED, S.FAILED}),
    S.SCHEDULED: frozenset({S.RUNNING, S.DELAYED, S.CANCELED, S.FAILED, S.ABANDONED}),
    S.DELAYED: frozenset({S.REQUESTED, S.SCHEDULED, S.CANCELED, S.FAILED}),
    S.RUNNING: _ENDINGS | {S.CANCELING, S.PENDING, S.PAUSING},
    S.PENDING: _ENDINGS | {S.RUNNING, S.CANCELED},
    S.PAUSING: _ENDINGS | {S.PAUSED, S.CANCELING},
    S.PAUSED: frozenset({S.RESUMING, S.CANCELING, S.CANCELED}),
    S.RESUMING: _ENDINGS | {S.RUNNING, S.CANCELING},
    S.CANCELING: _ENDINGS | {S.CANCELED},
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.TIMEOUT: frozenset(),
    S.ABANDONED: frozenset(),
    S.CANCELED: frozenset(),
}


def can_transition(current: ExecutionStatus, target: ExecutionStatus) -> bool:
    """True when the lifecycle allows moving from ``current`` to ``target``."""
    return target in TRANSITIONS[current]


def sources_of(target: ExecutionStatus) -> frozenset[ExecutionStatus]:
    """Every status from which ``target`` may be reached."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)
