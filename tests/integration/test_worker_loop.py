"""st2lite's RQ worker class: RQ's loop with fewer round trips per job, nothing lost.

Both workers below run the same empty jobs (``os.getpid``) from a real queue in
burst mode; the connection counts the round trips each one makes.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis

from st2lite import jobqueue  # sets RQ's key prefix before rq is imported
from st2lite.jobqueue import Worker

import rq  # isort: skip  # after st2lite.jobqueue, which sets RQ_KEY_PREFIX
from rq.serializers import JSONSerializer  # isort: skip
from rq.worker import SimpleWorker  # isort: skip

pytestmark = pytest.mark.redis

JOBS = 40


class CountingConnection(redis.connection.Connection):
    """A connection that counts what it sends: one call per round trip (a pipeline is one)."""

    round_trips = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.round_trips += 1
        super().send_packed_command(command, check_health)


def _round_trips_per_job(url: str, worker_class: type[SimpleWorker], name: str) -> tuple[float, rq.Queue]:
    connection = redis.Redis.from_url(url, connection_class=CountingConnection)
    queue = rq.Queue(f"loop-{name}", connection=connection, serializer=JSONSerializer)
    queue.enqueue_many([rq.Queue.prepare_data("os.getpid") for _ in range(JOBS)])
    worker = worker_class([queue], connection=connection, name=name, serializer=JSONSerializer)
    before = CountingConnection.round_trips
    worker.work(burst=True, logging_level="WARNING", with_scheduler=False)
    return (CountingConnection.round_trips - before) / JOBS, queue


def test_lean_worker_runs_every_job_with_fewer_round_trips(redis_url: str) -> None:
    rq_per_job, rq_queue = _round_trips_per_job(redis_url, SimpleWorker, "plain")
    ours_per_job, our_queue = _round_trips_per_job(redis_url, Worker, "lean")

    # Every job ran and RQ recorded it as RQ does.
    assert rq_queue.finished_job_registry.count == JOBS
    assert our_queue.finished_job_registry.count == JOBS
    assert len(our_queue) == 0
    # RQ's own loop sends the worker heartbeat three times per job and the idle state twice.
    assert ours_per_job <= rq_per_job - 8, (ours_per_job, rq_per_job)


def test_lean_worker_still_heartbeats_when_the_interval_has_passed(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobqueue, "HEARTBEAT_EVERY", 0.0)
    rq_per_job, _ = _round_trips_per_job(redis_url, SimpleWorker, "plain")
    ours_per_job, queue = _round_trips_per_job(redis_url, Worker, "lean")

    assert queue.finished_job_registry.count == JOBS
    # With no interval, only the repeated "idle" state is saved.
    assert rq_per_job - 2 <= ours_per_job < rq_per_job, (ours_per_job, rq_per_job)
