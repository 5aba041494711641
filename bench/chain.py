"""``chain_task_ms``: what one task of an action chain costs, from one task's end to the next one's.

Processes: one ``run_rules`` process (rules engine, scheduler, chain
conductor) and two workers on a private Redis. The benchmark runs the chain
``bench_chain.noop20`` (twenty ``core.noop`` tasks in a row) ``RUNS`` times,
one after the other, each requested as ``POST /api/v1/executions`` does. Per
run: the chain's elapsed time (start to end) divided by its 20 tasks. The
figure is the median over the runs; the details keep every run. StackStorm's
chain runner polls its tasks once a second, so each of its tasks takes at
least a second.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from bench.common import PACKS_DIR, Context, Figure, lab, register_packs, wait_for
from bench.procs import start_rules, start_worker
from st2lite.datastore import kv_lookup
from st2lite.executions import ExecutionStore
from st2lite.launch import prepare_execution, request_in
from st2lite.registry import RegistryStore
from st2lite.requests import RequestQueue
from st2lite.statuses import COMPLETED, ExecutionStatus

__all__ = ["run"]

RUNS = 20
TASKS = 20
WORKERS = 2


def _request(env: Any, store: ExecutionStore, requests: RequestQueue) -> str:
    snapshot = RegistryStore(env.client).load()
    prepared = prepare_execution(
        snapshot,
        snapshot.content.action("bench_chain.noop20"),
        {},
        context={"user": "bench"},
        kv_lookup=kv_lookup(env.client),
    )
    with env.client.pipeline(transaction=True) as pipe:
        request_in(pipe, prepared, executions=store, requests=requests)
        pipe.execute()
    return prepared.execution.id


def _seconds(start: str | None, end: str | None) -> float:
    if not start or not end:
        raise ValueError("the chain has no start or end time")
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def measure(runs: int) -> dict[str, Any]:
    with lab() as env:
        register_packs(env.client, PACKS_DIR / "bench_chain")
        procs = [start_rules(env)] + [start_worker(env, f"w{i}") for i in range(WORKERS)]
        store = ExecutionStore.for_settings(env.client, env.settings, actor="bench")
        requests = RequestQueue(env.client, maxlen=100_000)
        per_task_ms = []
        try:
            for _ in range(runs + 1):  # the first run warms the processes up
                chain_id = _request(env, store, requests)
                wait_for(lambda cid=chain_id: store.status(cid) in COMPLETED, timeout=120, what="the chain to end")
                chain = store.get(chain_id)
                if chain.status is not ExecutionStatus.SUCCEEDED or len(chain.children) != TASKS:
                    raise RuntimeError(f"chain {chain_id} ended {chain.status.value} with {len(chain.children)} tasks")
                per_task_ms.append(_seconds(chain.start_timestamp, chain.end_timestamp) * 1000 / TASKS)
                for proc in procs:
                    proc.check_alive()
        finally:
            for proc in procs:
                proc.stop()
    timed = per_task_ms[1:]
    return {
        "runs": runs,
        "tasks_per_chain": TASKS,
        "workers": WORKERS,
        "per_task_ms_each_run": [round(v, 2) for v in timed],
        "per_task_ms_min": round(min(timed), 2),
        "per_task_ms_max": round(max(timed), 2),
        "median": statistics.median(timed),
    }


def run(ctx: Context) -> list[Figure]:
    details = measure(ctx.size(RUNS, minimum=3))
    value = details.pop("median")
    return [Figure("chain_task_ms", round(value, 3), "ms/task", details=details)]
