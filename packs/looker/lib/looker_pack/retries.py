"""How often a scheduled plan may be retried, and the datastore names that remember it (pure logic, no I/O)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["CLAIM_TTL", "claim_key", "count_key", "day_of", "emitted_key", "emitted_ttl", "limit_reason"]

#: Seconds a claimed job id is remembered: longer than any lookback, so a failure is never retried twice.
CLAIM_TTL = 14 * 86_400
#: Seconds a day's retry count is kept: past the end of the day in any time zone.
COUNT_TTL = 2 * 86_400


def day_of(now: datetime, timezone: str) -> str:
    """The date (``2026-12-07``) of ``now`` in ``timezone``, the "day" of max_retries_per_day."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {timezone!r} in the looker pack config; use an IANA name such as UTC or Europe/Berlin"
        ) from None
    return now.astimezone(zone).date().isoformat()


def claim_key(job_id: str) -> str:
    """The datastore name (local to the action) that marks a failed job as retried."""
    return f"claimed:{job_id}"


def count_key(plan_id: str, day: str) -> str:
    """The datastore name (local to the action) counting the retries of ``plan_id`` on ``day``."""
    return f"retries:{plan_id}:{day}"


def emitted_key(job_id: str) -> str:
    """The datastore name (local to the sensor) of a failed job already emitted."""
    return f"emitted:{job_id}"


def emitted_ttl(lookback_hours: int) -> int:
    """Seconds the sensor remembers an emitted job: the lookback plus a day, so a job never comes back."""
    return (lookback_hours + 24) * 3600


def limit_reason(plan_id: str, done: int, limit: int, day: str, timezone: str) -> str:
    """Why a retry was not made: the per-day limit."""
    return (
        f"retry limit reached: scheduled plan {plan_id} was already retried {done} time(s) on {day} ({timezone}), "
        f"max_retries_per_day is {limit}; it was not run again (raise max_retries_per_day in configs/looker.yaml "
        "or fix the delivery and send it from Looker)"
    )
