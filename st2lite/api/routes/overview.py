"""``/api/v1/overview`` (st2lite's own): what the dashboard's overview shows, in one answer.

Executions per minute by status and the failing actions (:mod:`st2lite.overview`), the depth of the queues
the workers read, how many executions run or wait for a worker, and the latest SLA misses.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter

from st2lite.api.deps import RuntimeDep
from st2lite.api.docs_models import OverviewOut, errors
from st2lite.api.errors import ApiError
from st2lite.api.schemas import utc_z
from st2lite.api.security import Authorize, Caller
from st2lite.executions import ExecutionFilter
from st2lite.jobqueue import queue_depths
from st2lite.overview import MAX_MINUTES, summarize, window_start
from st2lite.permissions import Permission
from st2lite.statuses import ExecutionStatus
from st2lite.trigger_instances import TriggerInstanceFilter
from st2lite.triggers import SLA_MISSED_TRIGGER

router = APIRouter(tags=["overview"])

#: Most executions one overview reads (the newest of the window; ``truncated`` says when there were more).
MAX_EXECUTIONS: Final = 10_000
#: Most SLA misses one overview lists.
MAX_SLA_MISSES: Final = 20


@router.get(
    "/api/v1/overview",
    summary="Overview of recent executions",
    responses={200: {"model": OverviewOut, "description": "The overview"}, **errors(400, 401, 403)},
)
def overview(
    rt: RuntimeDep, _caller: Annotated[Caller, Authorize(Permission.EXECUTION_VIEW)], minutes: int = 60
) -> dict[str, Any]:
    """Executions created in the last ``minutes`` (1 to 1440, default 60) per minute by status, oldest minute
    first; the actions that failed most; queue depth; running and scheduled counts; the newest SLA misses.
    At most 10,000 executions are read (the newest): ``truncated`` is true when the window held more."""
    if not 1 <= minutes <= MAX_MINUTES:
        raise ApiError(400, f"minutes must be between 1 and {MAX_MINUTES} (a day), not {minutes}")
    now = datetime.now(UTC)
    since = window_start(now, minutes) - timedelta(milliseconds=1)  # the filter is exclusive
    # Briefs, not whole executions: this runs on every refresh of every open overview, and a full window read
    # as whole executions took ~270 ms of the API's CPU (~150 ms as briefs).
    ids, total = rt.executions.search_ids(ExecutionFilter(since=since), limit=MAX_EXECUTIONS)
    summary = summarize(rt.executions.briefs(ids), now=now, minutes=minutes)
    running = rt.executions.search_ids(ExecutionFilter(status=ExecutionStatus.RUNNING.value), limit=0)[1]
    scheduled = rt.executions.search_ids(ExecutionFilter(status=ExecutionStatus.SCHEDULED.value), limit=0)[1]
    misses, _ = rt.trigger_instances.search(TriggerInstanceFilter(trigger=SLA_MISSED_TRIGGER), limit=MAX_SLA_MISSES)
    return {
        "minutes": minutes,
        "generated_at": utc_z(now.isoformat()),
        "per_minute": [{**m, "minute": utc_z(m["minute"])} for m in summary.per_minute],
        "totals": summary.totals,
        "failing_actions": [{**a, "last_failed_at": utc_z(a["last_failed_at"])} for a in summary.failing_actions],
        "queue_depth": queue_depths(rt.client),
        "running": running,
        "scheduled": scheduled,
        "sla_misses": [
            {
                "trigger_instance": record["id"],
                "occurred_at": utc_z(str(record.get("occurred_at") or "")),
                "payload": record.get("payload") or {},
            }
            for record in misses
        ],
        "truncated": total > MAX_EXECUTIONS,
    }
