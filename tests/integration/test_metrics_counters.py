"""The counters ``transition.lua`` keeps for ``/metrics``, read back through :func:`st2lite.metrics.read_snapshot`."""

from __future__ import annotations

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from st2lite.executions import Execution, ExecutionStore, StatusChange
from st2lite.metrics import DURATION_BUCKETS, read_snapshot, registry_for
from st2lite.redisdb import Redis
from st2lite.statuses import ExecutionStatus as S

pytestmark = [pytest.mark.redis]


@pytest.fixture
def store(redis_client: Redis) -> ExecutionStore:
    return ExecutionStore(redis_client, ttl=3600, audit_maxlen=10_000, trigger_maxlen=10_000, actor="test")


def finish(store: ExecutionStore, client: Redis, eid: str, action: str, start: str | None, end: str, status: S) -> None:
    """Create ``eid`` and move it to ``status``, with the given start and end timestamps."""
    execution = Execution.model_validate(
        {
            "id": eid,
            "action": action,
            "runner": "noop",
            "parameters": {"action": "not.this", "text": '"action":"nor.this"'},
            "log": [StatusChange(status=S.REQUESTED, timestamp="2026-01-01T00:00:00+00:00")],
        }
    )
    with client.pipeline(transaction=True) as pipe:
        store.create_in(pipe, execution, created_ms=1)
        pipe.execute()
    if start is None:
        store.transition(eid, status, fields={"end": end})
        return
    store.transition(eid, S.SCHEDULED)
    store.transition(eid, S.RUNNING, fields={"start": start})
    store.transition(eid, status, fields={"end": end})


def test_completions_count_by_action_and_status_and_durations_land_in_their_bucket(
    store: ExecutionStore, redis_client: Redis
) -> None:
    # Across a leap day and a year end: the script's own ISO parsing must agree with Python's.
    finish(
        store,
        redis_client,
        "a",
        "pack.one",
        "2024-02-29T23:59:59.500000+00:00",
        "2024-03-01T00:00:01.000000+00:00",
        S.SUCCEEDED,
    )
    finish(
        store,
        redis_client,
        "b",
        "pack.one",
        "2025-12-31T23:59:59.990000+00:00",
        "2026-01-01T00:00:00.010000+00:00",
        S.FAILED,
    )
    finish(
        store,
        redis_client,
        "c",
        "pack.two",
        "2026-11-22T10:00:00.000000+00:00",
        "2026-11-22T12:00:00.000000+00:00",
        S.TIMEOUT,
    )
    finish(store, redis_client, "d", "pack.two", None, "2026-11-22T12:00:00.000000+00:00", S.CANCELED)

    snapshot = read_snapshot(redis_client)

    assert snapshot.completed == {
        ("pack.one", "succeeded"): 1,
        ("pack.one", "failed"): 1,
        ("pack.two", "timeout"): 1,
        ("pack.two", "canceled"): 1,
    }
    expected = [0] * (len(DURATION_BUCKETS) + 1)
    expected[DURATION_BUCKETS.index(2.5)] = 1  # 1.5 s
    expected[DURATION_BUCKETS.index(0.05)] = 1  # 0.02 s
    expected[DURATION_BUCKETS.index(3600.0) + 1] = 1  # 2 h: +Inf
    assert list(snapshot.duration_buckets) == expected  # the canceled one never ran: not observed
    assert snapshot.duration_sum == pytest.approx(1.5 + 0.02 + 7200, abs=1e-4)
    assert snapshot.executions_by_status["canceled"] == 1 and snapshot.executions_by_status["requested"] == 0

    text = generate_latest(registry_for(snapshot)).decode()
    [histogram] = [f for f in text_string_to_metric_families(text) if f.name == "st2lite_execution_duration_seconds"]
    samples = {(s.name, s.labels.get("le")): s.value for s in histogram.samples}
    assert samples[("st2lite_execution_duration_seconds_count", None)] == 3
    assert samples[("st2lite_execution_duration_seconds_bucket", "1.0")] == 1
    assert samples[("st2lite_execution_duration_seconds_bucket", "2.5")] == 2
    assert samples[("st2lite_execution_duration_seconds_bucket", "3600.0")] == 2
    assert samples[("st2lite_execution_duration_seconds_bucket", "+Inf")] == 3


def test_an_empty_redis_gives_zeros_and_no_group_samples(redis_client: Redis) -> None:
    snapshot = read_snapshot(redis_client)

    assert snapshot.triggers_received == 0 and snapshot.groups == () and snapshot.sensor_restarts == {}
    assert snapshot.completed == {} and sum(snapshot.duration_buckets) == 0 and snapshot.enforcements == 0
