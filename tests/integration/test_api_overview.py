"""``GET /api/v1/overview`` against a real server, Redis, rules engine, scheduler and worker: executions per
minute by status, failing actions, queue depth, SLA misses, and every bad ``minutes``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import ApiServer, fault

from st2lite.jobqueue import JobQueue
from st2lite.permissions import Role
from st2lite.scheduler import Scheduler

pytestmark = pytest.mark.redis

SLA_PAYLOAD = {
    "execution_id": "6650f0c2a1b2c3d4e5f60a01",
    "action_ref": "core.local",
    "status": "running",
    "created_at": "2026-05-01T12:00:00+00:00",
    "duration": 5,
    "policy": "default.sla",
}


def run(api: ApiServer, cmd: str) -> str:
    response = api.http.post("/api/v1/executions", json={"action": "core.local", "parameters": {"cmd": cmd}})
    assert response.status_code == 201, response.text
    eid: str = response.json()["id"]
    return eid


def overview(api: ApiServer, client: httpx.Client | None = None, **params: Any) -> dict[str, Any]:
    response = (client or api.http).get("/api/v1/overview", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_counts_per_minute_failing_actions_and_sla_misses(api_server: ApiServer) -> None:
    before = datetime.now(UTC)
    run(api_server, "true")
    failures = [run(api_server, "exit 3"), run(api_server, "exit 4")]
    sla = api_server.http.post("/api/v1/webhooks/st2", json={"trigger": "core.st2.sla_missed", "payload": SLA_PAYLOAD})
    assert sla.status_code == 202, sla.text
    api_server.process()
    last_failed = max((api_server.execution(e) for e in failures), key=lambda e: e["end_timestamp"])
    viewer = httpx.Client(base_url=api_server.url, headers={"St2-Api-Key": api_server.api_key("vera", Role.VIEWER)})

    found = overview(api_server, viewer, minutes=5)

    assert (found["minutes"], found["truncated"], found["running"], found["scheduled"]) == (5, False, 0, 0)
    assert found["totals"] == {"failed": 2, "succeeded": 1}
    minutes = [datetime.fromisoformat(m["minute"].replace("Z", "+00:00")) for m in found["per_minute"]]
    assert len(minutes) == 5 and minutes == sorted(minutes)
    assert all(b - a == timedelta(minutes=1) for a, b in zip(minutes, minutes[1:], strict=False))
    assert minutes[0] <= before.replace(second=0, microsecond=0) and minutes[-1] <= datetime.now(UTC)
    assert all(set(m["counts"]) == {"failed", "succeeded"} for m in found["per_minute"])
    assert sum(m["counts"]["failed"] for m in found["per_minute"]) == 2
    [failing] = found["failing_actions"]
    assert (failing["action"], failing["failed"], failing["total"]) == ("core.local", 2, 3)
    assert (failing["last_failed_execution"], failing["last_failed_at"]) == (
        last_failed["id"],
        last_failed["end_timestamp"],
    )
    assert found["queue_depth"] == {"actions": 0}
    [miss] = found["sla_misses"]
    assert (miss["trigger_instance"], miss["payload"]) == (sla.json()["id"], SLA_PAYLOAD)
    assert found["generated_at"].endswith("Z")


def test_queue_depth_running_and_scheduled_count_what_waits(api_server: ApiServer) -> None:
    for _ in range(2):
        run(api_server, "true")
    Scheduler(api_server.settings, api_server.redis, api_server.settings.redis_url, name="test-scheduler").drain()

    found = overview(api_server)

    assert len(JobQueue(api_server.redis)) == 2
    assert found["queue_depth"] == {"actions": 2}
    assert (found["scheduled"], found["running"]) == (2, 0)
    assert found["totals"] == {"scheduled": 2}
    assert found["failing_actions"] == [] and found["sla_misses"] == []


def test_default_window_is_an_hour(api_server: ApiServer) -> None:
    found = overview(api_server)
    assert found["minutes"] == 60 and len(found["per_minute"]) == 60
    assert found["totals"] == {} and all(m["counts"] == {} for m in found["per_minute"])


@pytest.mark.parametrize(
    ("minutes", "message"),
    [
        ("0", "minutes must be between 1 and 1440 (a day), not 0"),
        ("1441", "minutes must be between 1 and 1440 (a day), not 1441"),
        ("-5", "minutes must be between 1 and 1440 (a day), not -5"),
        ("hour", "invalid request: query.minutes: Input should be a valid integer"),
    ],
)
def test_bad_minutes_are_400(api_server: ApiServer, minutes: str, message: str) -> None:
    response = api_server.http.get("/api/v1/overview", params={"minutes": minutes})
    assert fault(response, 400).startswith(message)
