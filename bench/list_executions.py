"""``list_1m``: the newest 50 executions with a status filter, among 1,000,000 stored.

1,000,000 executions of ``core.noop`` (rule ``bench.r<k>``, one of 10) are
written with :meth:`ExecutionStore.create_in` on pipelines of 2,000, by one
process per CPU, created over the last 7 days: 85 % ``succeeded``, 10 %
``failed``, 3 % ``running``, 2 % ``canceled``. Then
``ExecutionStore.search(ExecutionFilter(status="failed"), limit=50)`` (what
``GET /api/v1/executions?status=failed`` does) runs 200 times after 10 warm-up
calls; each call is timed on its own.
"""

from __future__ import annotations

import multiprocessing
import os
import time

from bench.common import Context, Figure, Lab, lab, percentile, profile_call, timed
from st2lite.executions import Execution, ExecutionFilter, ExecutionStore
from st2lite.ids import new_id
from st2lite.redisdb import connect
from st2lite.statuses import ExecutionStatus

__all__ = ["run"]

EXECUTIONS = 1_000_000
QUERIES = 200
WARMUP = 10
BATCH = 2_000
SPAN_MS = 7 * 86_400 * 1000
#: One status per slot of 100 executions, in these proportions.
MIX = (
    [ExecutionStatus.SUCCEEDED] * 85
    + [ExecutionStatus.FAILED] * 10
    + [ExecutionStatus.RUNNING] * 3
    + [ExecutionStatus.CANCELED] * 2
)
# Spread the statuses so every stretch of time has all of them.
MIX = [MIX[(i * 37) % 100] for i in range(100)]


def _store(url: str) -> ExecutionStore:
    return ExecutionStore(
        connect(url), ttl=30 * 86_400, audit_maxlen=5_000_000, trigger_maxlen=1_000_000, actor="bench"
    )


def _write(args: tuple[str, int, int, int, int]) -> int:
    """Create executions ``start`` .. ``stop - 1`` of ``total`` (runs in a pool process)."""
    url, start, stop, total, now_ms = args
    store = _store(url)
    client = connect(url)
    base = Execution(
        id="-",
        action="core.noop",
        runner="noop",
        parameters={},
        context={"user": "stanley"},
        result={"failed": False, "succeeded": True, "return_code": 0},
    )
    for first in range(start, stop, BATCH):
        with client.pipeline(transaction=False) as pipe:
            for i in range(first, min(stop, first + BATCH)):
                execution = base.model_copy(update={"id": new_id(), "status": MIX[i % 100], "rule": f"bench.r{i % 10}"})
                store.create_in(pipe, execution, created_ms=now_ms - SPAN_MS + SPAN_MS * i // total)
            pipe.execute()
    return stop - start


def populate(env: Lab, n: int) -> float:
    """Write ``n`` executions with one process per CPU; returns the seconds it took."""
    now_ms = int(time.time() * 1000)
    workers = max(1, os.cpu_count() or 1)
    chunk = -(-n // (workers * 4))
    jobs = [(env.url, s, min(n, s + chunk), n, now_ms) for s in range(0, n, chunk)]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        written = sum(pool.map(_write, jobs))
    assert written == n
    return time.perf_counter() - started


def run(ctx: Context) -> list[Figure]:
    n = ctx.size(EXECUTIONS, minimum=10_000)
    with lab() as env:
        populate_seconds = populate(env, n)
        memory = env.client.info("memory")["used_memory"]
        store = _store(env.url)
        search = store.search
        flt = ExecutionFilter(status="failed")
        for _ in range(WARMUP):
            search(flt, limit=50)

        def queries() -> list[float]:
            out = []
            for _ in range(QUERIES):
                (items, total), seconds = timed(lambda: search(flt, limit=50))
                if len(items) != 50 or any(x.status != ExecutionStatus.FAILED for x in items):
                    raise AssertionError(f"list returned {len(items)} executions, not 50 failed ones")
                out.append(seconds * 1000)
            return out

        if ctx.profile:
            profile_call("list_1m", queries)
            return []
        millis = queries()
        _, total = search(flt, limit=50)
    details = {
        "stored": n,
        "filter": "status=failed",
        "matching": total,
        "limit": 50,
        "queries": QUERIES,
        "populate_seconds": round(populate_seconds, 1),
        "populate_per_s": round(n / populate_seconds),
        "redis_used_memory_mb": round(memory / 2**20),
        "max_ms": round(max(millis), 2),
    }
    return [
        Figure("list_1m_p50_ms", percentile(millis, 50), "ms", details=details),
        Figure("list_1m_p99_ms", percentile(millis, 99), "ms", details=details),
    ]
