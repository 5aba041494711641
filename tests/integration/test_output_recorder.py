"""The worker's output recorder against a real Redis: batching, order, latency, limits, retention."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from conftest import wait_for

from st2lite import keys
from st2lite.output import OutputRecorder, OutputStore, truncation_notice
from st2lite.redisdb import Redis

pytestmark = pytest.mark.redis

TTL = 3_600


def recorder(client: Redis, **overrides: Any) -> OutputRecorder:
    options: dict[str, Any] = {
        "execution_id": "e1",
        "action_ref": "pack.act",
        "ttl": TTL,
        "flush_interval": 0.1,
        "max_bytes": 1_048_576,
        "max_lines": 100_000,
        "events_maxlen": 10_000,
    }
    options.update(overrides)
    return OutputRecorder(client, **options)


def flushes(client: Redis) -> int:
    """EXPIRE calls so far: the recorder sends one per batch."""
    stats: dict[str, Any] = client.info("commandstats")
    return int(stats.get("cmdstat_expire", {}).get("calls", 0))


def test_a_line_is_stored_within_the_flush_interval_while_the_action_runs(redis_client: Redis) -> None:
    rec = recorder(redis_client)
    started = time.monotonic()
    rec("stdout", "first\n")
    wait_for(lambda: redis_client.xlen(keys.execution_output("e1")) == 1, "the first line", deadline=1.0, every=0.01)
    assert time.monotonic() - started < 0.5
    rec.close()
    [line] = list(OutputStore(redis_client).lines("e1"))
    assert (line.output_type, line.data) == ("stdout", "first\n") and line.timestamp.endswith("+00:00")
    assert 0 < redis_client.ttl(keys.execution_output("e1")) <= TTL
    [(_id, fields)] = redis_client.xrange(keys.OUTPUT_EVENTS)
    assert fields == {"x": "e1", "a": "pack.act", "t": "stdout", "d": "first\n", "ts": line.timestamp}


def test_a_chatty_action_costs_few_round_trips_and_keeps_each_streams_order(redis_client: Redis) -> None:
    rec = recorder(redis_client)
    before = flushes(redis_client)

    def write(stream: str) -> None:
        for i in range(2_500):
            rec(stream, f"{stream} {i}\n")

    writers = [threading.Thread(target=write, args=(s,)) for s in ("stdout", "stderr")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    rec.close()

    lines = list(OutputStore(redis_client).lines("e1"))
    assert len(lines) == 5_000
    for stream in ("stdout", "stderr"):
        assert [ln.data for ln in lines if ln.output_type == stream] == [f"{stream} {i}\n" for i in range(2_500)]
    assert flushes(redis_client) - before <= 25  # not 5,000


def test_output_past_the_limits_ends_with_one_truncation_line(redis_client: Redis) -> None:
    rec = recorder(redis_client, max_lines=10)
    for i in range(50):
        rec("stdout", f"line {i}\n")
    rec.close()
    rec("stdout", "after close\n")  # ignored
    lines = [ln.data for ln in OutputStore(redis_client).lines("e1")]
    assert lines == [f"line {i}\n" for i in range(10)] + [truncation_notice(1_048_576, 10)]


def test_nothing_is_written_for_an_action_that_prints_nothing(redis_client: Redis) -> None:
    rec = recorder(redis_client)
    rec.close()
    assert not redis_client.exists(keys.execution_output("e1"), keys.OUTPUT_EVENTS)
