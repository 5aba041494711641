"""``GET /metrics`` and ``GET /api/v1/health`` against a real API server, Redis, rules engine and worker."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import pytest
import uvicorn
from conftest import ApiServer, wait_for
from prometheus_client.parser import text_string_to_metric_families

from st2lite import keys
from st2lite.api.app import create_app
from st2lite.embedded_redis import free_port
from st2lite.jobqueue import WORKERS_KEY
from st2lite.requests import RequestQueue
from st2lite.rules_engine import RulesEngine
from st2lite.sensors.status import SensorStatusStore

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

COMPLETED = ("succeeded", "failed", "timeout", "abandoned", "canceled")


def scrape(api: ApiServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``: (sample name, sorted labels) -> value."""
    response = api.http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def run(api: ApiServer, cmd: str) -> str:
    response = api.http.post("/api/v1/executions", json={"action": "core.local", "parameters": {"cmd": cmd}})
    assert response.status_code == 201, response.text
    execution_id: str = response.json()["id"]
    return execution_id


def test_metrics_count_what_the_pipeline_did(api_server: ApiServer) -> None:
    engine = RulesEngine(api_server.settings, api_server.redis, name="metrics-test")
    engine.bus.ensure_group()
    RequestQueue(api_server.redis, maxlen=1000).ensure_group()
    before = scrape(api_server)
    assert value(before, "st2lite_triggers_received_total") == 0
    assert value(before, "st2lite_execution_duration_seconds_count") == 0
    assert value(before, "st2lite_stream_lag", stream="triggers", group=keys.TRIGGER_GROUP) == 0

    webhook = api_server.http.post("/api/v1/webhooks/hello", json={"name": "st2"})
    assert webhook.status_code == 202, webhook.text
    ok, bad = run(api_server, "true"), run(api_server, "exit 3")
    waiting = scrape(api_server)
    assert value(waiting, "st2lite_triggers_received_total") == 1
    assert value(waiting, "st2lite_stream_lag", stream="triggers", group=keys.TRIGGER_GROUP) == 1
    assert value(waiting, "st2lite_stream_lag", stream="requests", group=keys.SCHEDULER_GROUP) == 2
    assert value(waiting, "st2lite_queue_depth", queue="requests") == 2
    assert value(waiting, "st2lite_executions", status="requested") == 2

    api_server.process()
    assert api_server.wait_final(ok)["status"] == "succeeded"
    assert api_server.wait_final(bad)["status"] == "failed"
    after = scrape(api_server)

    assert value(after, "st2lite_triggers_received_total") == len(api_server.trigger_stream()) >= 1
    assert value(after, "st2lite_stream_lag", stream="triggers", group=keys.TRIGGER_GROUP) == 0
    assert value(after, "st2lite_stream_lag", stream="requests", group=keys.SCHEDULER_GROUP) == 0
    assert value(after, "st2lite_queue_depth", queue="actions") == 0
    assert value(after, "st2lite_executions_completed_total", action="core.local", status="failed") == 1
    assert value(after, "st2lite_executions_completed_total", action="core.local", status="succeeded") >= 1
    finished = sum(value(after, "st2lite_executions", status=status) for status in COMPLETED)
    completed = sum(v for (name, _), v in after.items() if name == "st2lite_executions_completed_total")
    assert finished == completed == len(api_server.execution_ids())
    assert value(after, "st2lite_executions", status="requested") == 0
    assert value(after, "st2lite_execution_duration_seconds_count") == completed
    assert value(after, "st2lite_execution_duration_seconds_bucket", le="+Inf") == completed
    assert value(after, "st2lite_execution_duration_seconds_sum") > 0
    buckets = sorted(
        (float(dict(labels)["le"]), v) for (name, labels), v in after.items() if name.endswith("_seconds_bucket")
    )
    assert [v for _, v in buckets] == sorted(v for _, v in buckets), "buckets are cumulative"
    enforcements = api_server.redis.zcard(keys.enforcement_index("all", "all"))
    assert value(after, "st2lite_enforcements") == enforcements >= 1


def test_sensor_restarts_come_from_the_sensor_status_hashes(api_server: ApiServer) -> None:
    statuses = SensorStatusStore(api_server.redis)
    statuses.update("examples.Flaky", state="running", restarts=3)
    statuses.update("examples.Steady", state="running", restarts=0)

    samples = scrape(api_server)

    assert value(samples, "st2lite_sensor_restarts_total", sensor="examples.Flaky") == 3
    assert ("st2lite_sensor_restarts_total", (("sensor", "examples.Steady"),)) in samples


def health(api: ApiServer) -> dict[str, Any]:
    response = api.http.get("/api/v1/health")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "ok" and body["redis"] == "ok"
    return body


def test_health_lists_a_running_rules_engine_and_drops_it_when_it_stops(api_server: ApiServer) -> None:
    assert health(api_server)["rules_engines"] == []
    engine = RulesEngine(api_server.settings, api_server.redis, name="health-engine")
    stop = threading.Event()
    thread = threading.Thread(target=engine.run, args=(stop,), daemon=True)
    thread.start()
    try:
        [entry] = wait_for(lambda: health(api_server)["rules_engines"], "the engine's heartbeat")
        assert entry["name"] == "health-engine" and entry["alive"] is True
        assert entry["last_heartbeat"].startswith(time.strftime("%Y-%m-%dT", time.gmtime()))
    finally:
        stop.set()
        thread.join(timeout=10)
    assert health(api_server)["rules_engines"] == []


def test_health_reports_a_silent_rules_engine_as_not_alive(api_server: ApiServer) -> None:
    seconds, _micros = api_server.redis.time()
    api_server.redis.zadd(keys.heartbeats("rules"), {"host:1": (int(seconds) - 60) * 1000})

    [entry] = health(api_server)["rules_engines"]

    assert entry["name"] == "host:1" and entry["alive"] is False


def test_health_lists_sensor_containers_with_their_last_heartbeat(api_server: ApiServer) -> None:
    seconds, _micros = api_server.redis.time()
    lease_ms = api_server.settings.sensor_lease_seconds * 1000
    api_server.redis.zadd(
        keys.SENSOR_MEMBERS, {"live": int(seconds) * 1000 + lease_ms, "gone": int(seconds) * 1000 - 1000}
    )

    containers = {c["name"]: c for c in health(api_server)["sensor_containers"]}

    assert containers["live"]["alive"] is True and containers["gone"]["alive"] is False
    assert containers["live"]["last_heartbeat"] > containers["gone"]["last_heartbeat"]


def test_health_lists_a_running_worker_and_not_a_stopped_one(api_server: ApiServer) -> None:
    assert health(api_server)["workers"] == []
    worker = subprocess.Popen(
        [sys.executable, "-m", "st2lite", "worker"], env=api_server.env, cwd=api_server.cwd, stderr=subprocess.PIPE
    )
    try:
        [entry] = wait_for(
            lambda: [w for w in health(api_server)["workers"] if w["state"] == "idle"], "the worker to wait for jobs"
        )
        assert entry["alive"] is True and entry["last_heartbeat"].startswith(time.strftime("%Y-%m-%dT", time.gmtime()))
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            raise AssertionError(worker.stderr.read().decode()[-5000:]) from None
    assert worker.returncode == 0
    assert health(api_server)["workers"] == []


def test_metrics_and_health_answer_503_while_redis_is_away(api_server: ApiServer) -> None:
    away = api_server.settings.model_copy(
        update={"redis_url": f"redis://127.0.0.1:{free_port()}/0", "api_port": free_port()}
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(away, away.redis_url), host="127.0.0.1", port=away.api_port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, "the API to listen")
        base = f"http://127.0.0.1:{away.api_port}"
        metrics = httpx.get(f"{base}/metrics", timeout=10, headers={"St2-Api-Key": "whatever"})
        status = httpx.get(f"{base}/api/v1/health", timeout=10)
    finally:
        server.should_exit = True
        thread.join(timeout=10)

    # The credentials cannot be checked either: 503 before the route, with the auth middleware's faultstring.
    assert metrics.status_code == status.status_code == 503, metrics.text
    assert metrics.json()["faultstring"].startswith("cannot reach Redis")
    assert set(status.json()) == {"status", "redis"}
    assert status.json()["status"] == "unavailable"
    assert status.json()["redis"].startswith("cannot reach Redis")


def test_health_leaves_out_a_worker_that_died_or_whose_key_expired(api_server: ApiServer) -> None:
    api_server.redis.sadd(WORKERS_KEY, "st2lite:rq:worker:expired", "st2lite:rq:worker:dead")
    api_server.redis.hset("st2lite:rq:worker:dead", mapping={"state": "busy", "death": "2026-11-22T00:00:00.000000Z"})

    assert health(api_server)["workers"] == []
