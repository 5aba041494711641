"""The ``bare_rq_jobs_per_s`` baseline: RQ alone, jobs that do nothing.

Run as ``python -m bench.bare_rq measure REDIS_URL N LOG_DIR [lean]`` (prints one
JSON line) in an environment without ``RQ_KEY_PREFIX``. It starts two worker
processes (``python -m bench.bare_rq worker REDIS_URL NAME [lean]``) of RQ's
:class:`rq.worker.SimpleWorker` (JSON serializer), warms them up, then enqueues
N jobs (RQ's default job options) in batches of 200 per pipeline (as st2lite's
scheduler does) while the workers run them, and times until the workers have
finished all N.

With ``lean``, the workers are st2lite's RQ worker class
(:class:`st2lite.jobqueue.Worker`, RQ with fewer heartbeat round trips) running
the same empty jobs: the difference between the two runs is what that class
saves, and st2lite's own cost per execution is measured against this one.
Without it, this module imports nothing from st2lite (so RQ keeps its default
key prefix); with it, the caller sets ``RQ_KEY_PREFIX`` as st2lite does, for
both processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis
from rq import Queue
from rq.serializers import JSONSerializer
from rq.worker import SimpleWorker

__all__ = ["measure", "nothing", "work"]

QUEUE = "bench"
WARMUP = 100
BATCH = 200


def nothing() -> None:
    """The job."""


def work(url: str, name: str, *, lean: bool = False) -> None:
    """One RQ worker on the bench queue until SIGTERM."""
    worker_class: type[SimpleWorker] = SimpleWorker
    if lean:
        from st2lite.jobqueue import Worker

        worker_class = Worker
    connection = redis.Redis.from_url(url)
    queue = Queue(QUEUE, connection=connection, serializer=JSONSerializer)
    worker = worker_class([queue], connection=connection, name=name, serializer=JSONSerializer)
    worker.work(burst=False, logging_level="WARNING", with_scheduler=False)


def _enqueue(queue: Queue, connection: redis.Redis, n: int) -> None:
    for start in range(0, n, BATCH):
        # RQ's defaults for everything (result kept 500 s, job timeout 180 s): plain RQ as its users get it.
        datas = [Queue.prepare_data("bench.bare_rq.nothing") for _ in range(min(BATCH, n - start))]
        with connection.pipeline() as pipe:
            queue.enqueue_many(datas, pipeline=pipe)
            pipe.execute()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(url: str, n: int, *, workers: int = 2, log_dir: Path, lean: bool = False) -> dict[str, Any]:
    connection = redis.Redis.from_url(url)
    queue = Queue(QUEUE, connection=connection, serializer=JSONSerializer)
    names = [f"bare{i}" for i in range(workers)]
    worker_keys = [SimpleWorker.redis_worker_namespace_prefix + name for name in names]
    procs = []
    for name in names:
        with open(log_dir / f"{name}.log", "wb") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.bare_rq", "worker", url, name] + (["lean"] if lean else []),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def finished() -> int:
        with connection.pipeline(transaction=False) as pipe:
            for key in worker_keys:
                pipe.hget(key, "successful_job_count")
            return sum(int(v or 0) for v in pipe.execute())

    def wait(count: int, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while finished() < count:
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"an RQ worker exited with {proc.returncode}; see {log_dir}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"RQ workers finished {finished()} of {count} jobs in {timeout:.0f}s")
            time.sleep(0.005)
        return time.perf_counter()

    try:
        _enqueue(queue, connection, WARMUP)
        wait(WARMUP, 60)
        pids = {f"worker{i}": proc.pid for i, proc in enumerate(procs)}
        pids["redis"] = int(connection.info("server")["process_id"])
        pids["bench (enqueue)"] = os.getpid()
        before = {role: _cpu_seconds(pid) for role, pid in pids.items()}
        started = time.perf_counter()
        _enqueue(queue, connection, n)
        enqueued = time.perf_counter() - started
        ended = wait(WARMUP + n, 300)
        cpu = {role: round((_cpu_seconds(pid) - before[role]) * 1000 / n, 3) for role, pid in pids.items()}
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    seconds = ended - started
    return {
        "jobs": n,
        "workers": workers,
        "seconds": round(seconds, 3),
        "enqueue_seconds": round(enqueued, 3),
        "cpu_ms_per_job": cpu,
        "jobs_per_s": n / seconds,
    }


def main(argv: list[str]) -> int:
    lean = argv[-1:] == ["lean"]
    args = argv[:-1] if lean else argv
    if args[:1] == ["worker"] and len(args) == 3:
        work(args[1], args[2], lean=lean)
        return 0
    if args[:1] == ["measure"] and len(args) == 4:
        print(json.dumps(measure(args[1], int(args[2]), log_dir=Path(args[3]), lean=lean)))
        return 0
    print("usage: python -m bench.bare_rq worker URL NAME [lean] | measure URL N LOG_DIR [lean]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
