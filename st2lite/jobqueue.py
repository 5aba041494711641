"""The one module that imports ``rq``: enqueueing executions and running RQ workers.

A job carries only the execution id; everything else lives in the execution
record. Jobs are JSON-serialised (never pickled) and RQ keeps them only a
minute after they end: the execution record is the result. RQ's keys are moved under
``st2lite:rq`` (``RQ_KEY_PREFIX`` must be set before rq is imported, which
is why this module sets it at import time and is the only importer of rq).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
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

from st2lite.redisdb import UNAVAILABLE, Pipeline, Redis, bytes_twin, connect

__all__ = [
    "HEARTBEAT_EVERY",
    "JOB_FUNCTION",
    "QUEUE_KEY",
    "QUEUE_KEYS",
    "WORKERS_KEY",
    "queue_depths",
    "workers",
    "JobQueue",
    "Worker",
    "run_worker",
]

log = logging.getLogger(__name__)

#: The Redis list of the action queue's waiting jobs (read by :mod:`st2lite.metrics`).
QUEUE_KEY = f"{rq.Queue.redis_queue_namespace_prefix}{keys.ACTION_QUEUE}"

#: The RQ queues the workers read (one for now), by name -> the Redis list of its waiting jobs.
QUEUE_KEYS = {keys.ACTION_QUEUE: QUEUE_KEY}

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


def queue_depths(client: Redis) -> dict[str, int]:
    """How many jobs wait in each queue of :data:`QUEUE_KEYS` (one round trip)."""
    with client.pipeline(transaction=False) as pipe:
        for key in QUEUE_KEYS.values():
            pipe.llen(key)
        depths = pipe.execute()
    return {name: int(depth) for name, depth in zip(QUEUE_KEYS, depths, strict=True)}


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


#: Seconds the command listener waits for a message before it looks at its stop event again (at shutdown the
#: reply to the unsubscribe wakes it at once; this only bounds a wait whose wake-up was lost).
COMMANDS_POLL = 60.0
#: Longest wait at shutdown for the command listener to let go of its connection.
COMMANDS_STOP_WAIT = 2.0


class Worker(SimpleWorker):  # type: ignore[misc]  # rq is untyped to mypy
    """Runs jobs in the worker process itself: runners start their own subprocesses.

    RQ's loop sends the worker's heartbeat (3 round trips) three times per job and
    writes the ``idle`` state twice; with jobs that take milliseconds that is half of
    the worker's Redis traffic. Here a stand-alone heartbeat is sent at most every
    :data:`HEARTBEAT_EVERY` seconds (the worker key lives ``worker_ttl`` = 420 s, and
    the heartbeat RQ sends inside its per-job transactions is kept), and a state
    already written is not written again.

    The listener of RQ's command channel (``rq:pubsub:<worker>``: shutdown,
    stop-job) is this class's own thread, stopped by an event: RQ's teardown
    unsubscribes and then calls redis-py's ``PubSubWorkerThread.stop()``, which
    (redis-py 8) waits for the thread without a limit; when the thread had already
    read the unsubscribe reply it was waiting up to 60 s for a new subscription, so
    a worker told to stop sometimes took a minute to exit. Here the stop event is set
    *before* the unsubscribe is sent, so the reply that wakes the listener always
    finds it set, and the wait for the thread is bounded. A SIGINT/SIGTERM that
    arrives while the worker starts (after :func:`run_worker` began, before RQ
    installs its handlers) is kept and acted on once they are in: the worker
    deregisters and exits 0 instead of being killed with its registration left
    behind. Nothing else of RQ changes: jobs,
    registries, the started-job heartbeat and worker registration are RQ's own.
    """

    _beat_at = float("-inf")
    pubsub_thread: threading.Thread | None
    #: The SIGINT/SIGTERM received before RQ's handlers were installed (filled by :func:`run_worker`).
    early_signals: list[int] | tuple[()] = ()

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

    def subscribe(self) -> None:
        self._commands_stop = threading.Event()
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = threading.Thread(target=self._listen_for_commands, name="rq-commands", daemon=True)
        self.pubsub_thread.start()

    def _listen_for_commands(self) -> None:
        stop = self._commands_stop
        while not stop.is_set():
            try:
                # Blocks until a message (a command, or the reply to unsubscribe() below) or the timeout.
                self.pubsub.get_message(ignore_subscribe_messages=True, timeout=COMMANDS_POLL)
            except UNAVAILABLE as exc:  # redis-py subscribes again when it reconnects
                if not stop.is_set():
                    log.warning("Worker %s: command channel lost: %s; retrying in 2s", self.name, exc)
                stop.wait(2.0)
            except Exception:  # a bad command must not end the listener
                log.exception("Worker %s: command not handled", self.name)

    def unsubscribe(self) -> None:
        thread = self.pubsub_thread
        if thread is None:
            return
        self._commands_stop.set()  # before the reply to the unsubscribe can wake the listener
        with contextlib.suppress(*UNAVAILABLE):  # the listener then sees the event after its retry pause
            self.pubsub.unsubscribe()
        thread.join(COMMANDS_STOP_WAIT)
        self.pubsub.close()
        self.pubsub_thread = None

    def _install_signal_handlers(self) -> None:
        super()._install_signal_handlers()
        if self.early_signals:
            name = signal.Signals(self.early_signals[0]).name
            log.info("Worker %s: stopping (%s received while starting)", self.name, name)
            self._stop_requested = True  # RQ's loop checks this before it first waits for a job


def run_worker(
    url: str,
    *,
    name: str | None = None,
    burst: bool = False,
    on_start: Callable[[], Any] | None = None,
    max_jobs: int | None = None,
) -> None:
    """Run an RQ worker on the action queue until stopped (SIGINT/SIGTERM finish the current job first).

    Call from the main thread (signal handlers). A SIGINT/SIGTERM from here on is never lost: until RQ
    installs its handlers it is kept, and the worker stops before it waits for its first job.
    """
    received: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: received.append(signum))
    connection = connect(url, decode_responses=False)
    queue = rq.Queue(keys.ACTION_QUEUE, connection=connection, serializer=JSONSerializer)
    worker = Worker([queue], connection=connection, name=name, serializer=JSONSerializer)
    worker.early_signals = received
    if on_start is not None:
        on_start()
    worker.work(burst=burst, logging_level="WARNING", max_jobs=max_jobs, with_scheduler=False)
