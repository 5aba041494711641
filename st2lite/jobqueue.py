"""The one module that imports ``rq``: enqueueing executions and running RQ workers.

A job carries only the execution id; everything else lives in the execution
record. Jobs are JSON-serialised (never pickled) and RQ keeps them only a
minute after they end: the execution record is the result. RQ's keys are moved under
``st2lite:rq`` (``RQ_KEY_PREFIX`` must be set before rq is imported, which
is why this module sets it at import time and is the only importer of rq).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from st2lite import keys

os.environ["RQ_KEY_PREFIX"] = keys.RQ_PREFIX

# rq reads RQ_KEY_PREFIX when it is imported: these imports must stay below the line above.
import rq
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.utils import utcparse
from rq.worker import SimpleWorker

from st2lite.redisdb import Pipeline, Redis, bytes_twin, connect

__all__ = ["HEARTBEAT_EVERY", "JOB_FUNCTION", "QUEUE_KEY", "WORKERS_KEY", "workers", "JobQueue", "Worker", "run_worker"]

#: The Redis list of the action queue's waiting jobs (read by :mod:`st2lite.metrics`).
QUEUE_KEY = f"{rq.Queue.redis_queue_namespace_prefix}{keys.ACTION_QUEUE}"

#: RQ's set of the keys of the registered workers (read by ``/api/v1/health``, see :func:`workers`).
WORKERS_KEY = str(rq.Worker.redis_workers_keys)

#: The dotted path RQ calls with the execution id.
JOB_FUNCTION = "st2lite.worker.run_job"


class JobQueue:
    """The RQ queue actions run from."""

    def __init__(self, server: str | Redis, name: str = keys.ACTION_QUEUE) -> None:
        """``server``: a Redis URL, or a client whose server to use."""
        # RQ needs a connection that returns bytes.
        self._connection = connect(server, decode_responses=False) if isinstance(server, str) else bytes_twin(server)
        self._queue = rq.Queue(name, connection=self._connection, serializer=JSONSerializer)

    def enqueue_in(self, pipe: Pipeline, execution_ids: Iterable[str]) -> None:
        """Queue one job per execution on ``pipe`` (part of the caller's transaction)."""
        datas = [
            rq.Queue.prepare_data(
                JOB_FUNCTION,
                args=(eid,),
                job_id=eid,
                timeout=-1,  # runners enforce the action's own timeout
                # Kept a minute: with 0, RQ deletes each finished job at once, which costs more.
                result_ttl=60,
                failure_ttl=3600,
            )
            for eid in execution_ids
        ]
        if datas:
            self._queue.enqueue_many(datas, pipeline=pipe)

    def enqueue(self, execution_ids: Iterable[str]) -> None:
        """Queue one job per execution, in one round trip."""
        with self._connection.pipeline(transaction=False) as pipe:
            self.enqueue_in(pipe, execution_ids)
            pipe.execute()

    def pending(self, execution_id: str) -> bool:
        """True while the execution's job waits in the queue or a live worker holds it."""
        try:
            job = Job.fetch(execution_id, connection=self._connection, serializer=JSONSerializer)
        except NoSuchJobError:
            return False
        return job.get_status(refresh=False) in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED)

    def queued_ids(self) -> list[str]:
        """The execution ids whose jobs wait in the queue, oldest first."""
        return [str(job_id) for job_id in self._queue.get_job_ids()]

    def __len__(self) -> int:
        return int(self._queue.count)

    def empty(self) -> None:
        self._queue.empty()


def workers(client: Redis, worker_keys: Iterable[str]) -> list[tuple[str, datetime | None, str]]:
    """The live RQ workers among ``worker_keys`` (members of :data:`WORKERS_KEY`): name, last heartbeat, state.

    One pipelined round trip over RQ's worker hashes (RQ's own ``Worker.all`` costs several per worker). A
    key that expired (RQ's ``worker_ttl`` after the last heartbeat: the worker died) or that records a death
    is left out; RQ drops such keys from its set lazily.
    """
    ordered = sorted(worker_keys)
    if not ordered:
        return []
    with client.pipeline(transaction=False) as pipe:
        for key in ordered:
            pipe.hmget(key, "last_heartbeat", "state", "death")
        rows = pipe.execute()
    prefix = str(rq.Worker.redis_worker_namespace_prefix)
    found = []
    for key, (last, state, death) in zip(ordered, rows, strict=True):
        if (last is None and state is None) or death:
            continue
        found.append((key.removeprefix(prefix), utcparse(last).replace(tzinfo=UTC) if last else None, state or "?"))
    return found


#: Seconds between two stand-alone heartbeats of a worker (RQ sends one before and after every job).
HEARTBEAT_EVERY = 5.0


class Worker(SimpleWorker):  # type: ignore[misc]  # rq is untyped to mypy
    """Runs jobs in the worker process itself: runners start their own subprocesses.

    RQ's loop sends the worker's heartbeat (3 round trips) three times per job and
    writes the ``idle`` state twice; with jobs that take milliseconds that is half of
    the worker's Redis traffic. Here a stand-alone heartbeat is sent at most every
    :data:`HEARTBEAT_EVERY` seconds (the worker key lives ``worker_ttl`` = 420 s, and
    the heartbeat RQ sends inside its per-job transactions is kept), and a state
    already written is not written again. Nothing else of RQ changes: jobs,
    registries, the started-job heartbeat and worker registration are RQ's own.
    """

    _beat_at = float("-inf")

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is None and timeout is None and time.monotonic() - self._beat_at < HEARTBEAT_EVERY:
            return
        super().heartbeat(timeout, pipeline)
        if pipeline is None:
            self._beat_at = time.monotonic()

    def set_state(self, state: str, pipeline: Any = None) -> None:
        if pipeline is None and state == getattr(self, "_state", None):
            return
        super().set_state(state, pipeline)

    def unsubscribe(self) -> None:
        """RQ's, waiting at most 1 s for its pub/sub thread.

        RQ's thread reads with a 60 s timeout and redis-py 8's ``stop()`` joins
        it without a limit, so a stopping worker could hang for a minute (and be
        killed by ``st2lite up`` or a test). The thread is a daemon: it ends with the process.
        """
        if not self.pubsub_thread:
            return
        self.pubsub.unsubscribe()
        try:
            self.pubsub_thread.stop(timeout=1.0)
        except TypeError:  # redis-py before 8: stop() does not wait
            self.pubsub_thread.stop()
            self.pubsub_thread.join(timeout=1.0)
        self.pubsub.close()


def run_worker(
    url: str,
    *,
    name: str | None = None,
    burst: bool = False,
    on_start: Callable[[], Any] | None = None,
    max_jobs: int | None = None,
) -> None:
    """Run an RQ worker on the action queue until stopped (SIGINT/SIGTERM finish the current job first)."""
    connection = connect(url, decode_responses=False)
    queue = rq.Queue(keys.ACTION_QUEUE, connection=connection, serializer=JSONSerializer)
    worker = Worker([queue], connection=connection, name=name, serializer=JSONSerializer)
    if on_start is not None:
        on_start()
    worker.work(burst=burst, logging_level="WARNING", max_jobs=max_jobs, with_scheduler=False)
