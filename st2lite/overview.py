"""The dashboard's overview of recent executions: counts per minute by status, and the actions that fail (pure).

``GET /api/v1/overview`` reads the executions created in the window and the
other figures (queue depth, running, SLA misses) and hands the executions (as
:class:`~st2lite.executions.ExecutionBrief`: a full window is 10,000 of them) to
:func:`summarize`, which buckets them by the minute they were created in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from st2lite.executions import ExecutionBrief
from st2lite.statuses import FAILED_STATES

__all__ = ["MAX_MINUTES", "TOP_FAILING", "Summary", "summarize", "window_start"]

#: The longest window an overview covers (a day).
MAX_MINUTES: Final = 1440
#: How many failing actions an overview lists.
TOP_FAILING: Final = 10

_MINUTE: Final = timedelta(minutes=1)


def window_start(now: datetime, minutes: int) -> datetime:
    """The start of the oldest of ``minutes`` whole-minute buckets ending with the one ``now`` is in."""
    return now.replace(second=0, microsecond=0) - (minutes - 1) * _MINUTE


@dataclass
class _Failing:
    action: str
    failed: int = 0
    total: int = 0
    last_failed_at: str = ""
    last_failed_execution: str = ""


@dataclass(frozen=True)
class Summary:
    """Executions of a window: counts per minute (oldest first) and in all, and the actions that failed most."""

    per_minute: list[dict[str, Any]]
    totals: dict[str, int]
    failing_actions: list[dict[str, Any]] = field(default_factory=list)


def summarize(executions: Iterable[ExecutionBrief], *, now: datetime, minutes: int) -> Summary:
    """Bucket ``executions`` by creation minute over the ``minutes`` minutes up to ``now`` (older ones ignored).

    Every minute of the window has an entry, and each entry's ``counts`` every status seen in the window
    (zero where that minute had none). A failure is a ``failed``, ``timeout`` or ``abandoned`` execution;
    ``failing_actions`` are the :data:`TOP_FAILING` actions with most failures (then the most recent first),
    each with its newest failure.
    """
    start = window_start(now, minutes)
    buckets: list[Counter[str]] = [Counter() for _ in range(minutes)]
    totals: Counter[str] = Counter()
    failing: dict[str, _Failing] = {}
    for execution in executions:
        created = datetime.fromisoformat(execution.created_at)
        slot = int((created - start) // _MINUTE)
        if not 0 <= slot < minutes:
            continue
        status = execution.status.value
        buckets[slot][status] += 1
        totals[status] += 1
        entry = failing.setdefault(execution.action, _Failing(execution.action))
        entry.total += 1
        if execution.status in FAILED_STATES:
            entry.failed += 1
            at = execution.end_timestamp or execution.created_at
            if at > entry.last_failed_at:
                entry.last_failed_at, entry.last_failed_execution = at, execution.id
    seen = sorted(totals)
    per_minute = [
        {"minute": (start + i * _MINUTE).isoformat(), "counts": {status: counts[status] for status in seen}}
        for i, counts in enumerate(buckets)
    ]
    worst = sorted((e for e in failing.values() if e.failed), key=lambda e: (e.failed, e.last_failed_at), reverse=True)[
        :TOP_FAILING
    ]
    return Summary(
        per_minute=per_minute,
        totals=dict(totals),
        failing_actions=[
            {
                "action": e.action,
                "failed": e.failed,
                "total": e.total,
                "last_failed_at": e.last_failed_at,
                "last_failed_execution": e.last_failed_execution,
            }
            for e in worst
        ],
    )
