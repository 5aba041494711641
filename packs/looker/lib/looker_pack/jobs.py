"""Failed scheduled jobs: the System Activity query that finds them and the rows it returns (pure logic, no I/O).

Looker's System Activity model ``system__activity`` has an explore ``scheduled_plan`` joining each scheduled
plan to its jobs. A job's ``scheduled_job.status`` is ``success`` or ``failure``; ``scheduled_plan.run_once``
(Yes/No) marks one-off sends ("Send now", test deliveries), which are not retried.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "FIELDS",
    "FailedJob",
    "failed_jobs",
    "inline_query",
    "parse_looker_time",
]

MODEL = "system__activity"
EXPLORE = "scheduled_plan"
#: The fields the sensor reads; a Look used instead of the inline query must show these (more is fine).
FIELDS = (
    "scheduled_job.id",
    "scheduled_job.status",
    "scheduled_job.status_detail",
    "scheduled_job.created_time",
    "scheduled_job.finalized_time",
    "scheduled_plan.id",
    "scheduled_plan.name",
    "scheduled_plan.run_once",
)
REQUIRED = ("scheduled_job.id", "scheduled_job.status", "scheduled_plan.id")


@dataclass(frozen=True)
class FailedJob:
    """One failed run of a (recurring) scheduled plan."""

    job_id: str
    plan_id: str
    plan_name: str
    status_detail: str
    created_at: str
    finalized_at: str

    def payload(self, source: str) -> dict[str, Any]:
        """The ``looker.schedule_failed`` trigger payload."""
        return {
            "job_id": self.job_id,
            "plan_id": self.plan_id,
            "plan_name": self.plan_name,
            "status": "failure",
            "status_detail": self.status_detail,
            "created_at": self.created_at,
            "finalized_at": self.finalized_at,
            "source": source,
        }


def inline_query(lookback_hours: int, timezone: str, limit: int) -> dict[str, Any]:
    """The body of ``POST /api/4.0/queries/run/json`` (a ``WriteQuery``) listing recent recurring failures."""
    return {
        "model": MODEL,
        "view": EXPLORE,
        "fields": list(FIELDS),
        "filters": {
            "scheduled_job.status": "failure",
            "scheduled_plan.run_once": "No",
            "scheduled_job.created_time": f"{lookback_hours} hours",
        },
        "sorts": ["scheduled_job.created_time desc"],
        "limit": str(limit),
        "query_timezone": timezone,
    }


def parse_looker_time(text: str, timezone: str) -> datetime | None:
    """A Looker time (``2026-12-07 02:15:03``, in ``timezone``) as an aware datetime; ``None`` when unreadable."""
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text.strip(), pattern).replace(tzinfo=ZoneInfo(timezone))
        except ValueError:
            continue
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def missing_fields(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The :data:`REQUIRED` fields the rows lack (checked on the first row; an empty result lacks nothing)."""
    for row in rows:
        return [name for name in REQUIRED if name not in row]
    return []


def failed_jobs(
    rows: Iterable[Mapping[str, Any]], *, now: datetime, lookback_hours: int, timezone: str
) -> list[FailedJob]:
    """The rows that are failed runs of recurring plans created within the lookback, oldest first.

    Successes, one-off runs (``run_once`` Yes) and jobs older than ``lookback_hours`` are left out, whatever the
    query or Look filtered already; a row whose creation time cannot be read is kept (Looker's filter applied).
    """
    since = now - timedelta(hours=lookback_hours)
    found: list[tuple[datetime, FailedJob]] = []
    for row in rows:
        if _text(row.get("scheduled_job.status")).lower() != "failure":
            continue
        if _text(row.get("scheduled_plan.run_once")).lower() in ("yes", "true", "1"):
            continue
        job_id, plan_id = _text(row.get("scheduled_job.id")), _text(row.get("scheduled_plan.id"))
        if not job_id or not plan_id:
            continue
        created_text = _text(row.get("scheduled_job.created_time"))
        created = parse_looker_time(created_text, timezone) if created_text else None
        if created is not None and created < since:
            continue
        job = FailedJob(
            job_id=job_id,
            plan_id=plan_id,
            plan_name=_text(row.get("scheduled_plan.name")),
            status_detail=_text(row.get("scheduled_job.status_detail")),
            created_at=created_text,
            finalized_at=_text(row.get("scheduled_job.finalized_time")),
        )
        found.append((created or now, job))
    found.sort(key=lambda pair: pair[0])
    return [job for _created, job in found]
