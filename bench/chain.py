"""Action chains: ``chain_task_ms`` (what one task costs) and ``with_items_per_s`` (items run per second).

Processes: one ``run_rules`` process (rules engine, scheduler, chain
conductor) and two workers on a private Redis. The benchmark runs the chain
``bench_chain.noop20`` (twenty ``core.noop`` tasks in a row) ``RUNS`` times,
one after the other, each requested as ``POST /api/v1/executions`` does. Per
run: the chain's elapsed time (start to end) divided by its 20 tasks. The
figure is the median over the runs; the details keep every run. StackStorm's
chain runner polls its tasks once a second, so each of its tasks takes at
least a second.

``with_items_per_s``: the chain ``bench_chain.items`` (one ``core.noop`` per
item, ``concurrency: 20``) over ``ITEMS`` items, same processes; items / the
chain's elapsed time (start to end).
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
ITEMS = 1_000
WORKERS = 2


def _request(env: Any, store: ExecutionStore, requests: RequestQueue, action: str, **parameters: Any) -> str:
    snapshot = RegistryStore(env.client).load()
    prepared = prepare_execution(
        snapshot,
        snapshot.content.action(action),
        parameters,
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


def _run_chain(env: Any, store: ExecutionStore, requests: RequestQueue, action: str, **parameters: Any) -> Any:
    chain_id = _request(env, store, requests, action, **parameters)
    wait_for(lambda: store.status(chain_id) in COMPLETED, timeout=300, what=f"chain {action} to end")
    chain = store.get(chain_id)
    if chain.status is not ExecutionStatus.SUCCEEDED:
        raise RuntimeError(f"chain {chain_id} ({action}) ended {chain.status.value}: {chain.result}")
    return chain


def measure(runs: int, items: int) -> tuple[dict[str, Any], dict[str, Any]]:
    with lab() as env:
        register_packs(env.client, PACKS_DIR / "bench_chain")
        procs = [start_rules(env)] + [start_worker(env, f"w{i}") for i in range(WORKERS)]
        store = ExecutionStore.for_settings(env.client, env.settings, actor="bench")
        requests = RequestQueue(env.client, maxlen=100_000)
        per_task_ms = []
        try:
            for _ in range(runs + 1):  # the first run warms the processes up
                chain = _run_chain(env, store, requests, "bench_chain.noop20")
                if len(chain.children) != TASKS:
                    raise RuntimeError(f"chain {chain.id} ran {len(chain.children)} tasks, not {TASKS}")
                per_task_ms.append(_seconds(chain.start_timestamp, chain.end_timestamp) * 1000 / TASKS)
            fan_out = _run_chain(env, store, requests, "bench_chain.items", items=list(range(items)))
            if len(fan_out.children) != items:
                raise RuntimeError(f"chain {fan_out.id} ran {len(fan_out.children)} items, not {items}")
            items_seconds = _seconds(fan_out.start_timestamp, fan_out.end_timestamp)
            for proc in procs:
                proc.check_alive()
        finally:
            for proc in procs:
                proc.stop()
    timed = per_task_ms[1:]
    tasks = {
        "runs": runs,
        "tasks_per_chain": TASKS,
        "workers": WORKERS,
        "per_task_ms_each_run": [round(v, 2) for v in timed],
        "per_task_ms_min": round(min(timed), 2),
        "per_task_ms_max": round(max(timed), 2),
        "median": statistics.median(timed),
    }
    fan = {"items": items, "concurrency": 20, "workers": WORKERS, "seconds": round(items_seconds, 3)}
    return tasks, fan


def run(ctx: Context) -> list[Figure]:
    tasks, fan = measure(ctx.size(RUNS, minimum=3), ctx.size(ITEMS, minimum=50))
    value = tasks.pop("median")
    return [
        Figure("chain_task_ms", round(value, 3), "ms/task", details=tasks),
        Figure("with_items_per_s", round(fan["items"] / fan["seconds"], 1), "items/s", details=fan),
    ]
