"""A chain outlives the processes that conduct it: killed rules processes lose no step and repeat none."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from st2lite.config import Settings
from st2lite.redisdb import connect
from st2lite.statuses import ExecutionStatus

from .conftest import FINAL, Procs, execution_store, register_chains, request_execution, wait_for

pytestmark = pytest.mark.e2e

STEPS = [f"step{i}" for i in range(1, 6)]


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.is_file() else []


def test_a_chain_goes_on_after_its_conductor_is_killed_twice_and_runs_each_task_once(
    settings: Settings, redis_url: str, procs: Procs, tmp_path: Path
) -> None:
    client = connect(redis_url)
    register_chains(settings, client)
    store = execution_store(client)
    log = tmp_path / "steps.log"
    procs.service("worker", redis_url=redis_url)
    procs.service("worker", redis_url=redis_url)
    chain_id = request_execution(settings, client, redis_url, "chains.steps", {"log": str(log)})

    for seen in (2, 4):  # kill the process that conducts the chain while a task runs, twice
        rules = procs.service("rules", redis_url=redis_url)
        wait_for(lambda n=seen: len(_lines(log)) >= n, what=f"{seen} steps to run", timeout=30)
        rules.send_signal(signal.SIGKILL)
        rules.wait(timeout=10)
    assert store.status(chain_id) is ExecutionStatus.RUNNING

    procs.service("rules", redis_url=redis_url)
    wait_for(lambda: store.status(chain_id).value in FINAL, what="the chain to end", timeout=60)

    chain = store.get(chain_id)
    assert chain.status is ExecutionStatus.SUCCEEDED, chain.result
    assert _lines(log) == STEPS  # every task ran, once, in order
    assert [t["name"] for t in chain.result["tasks"]] == STEPS
    assert len(chain.children) == len(STEPS)


def test_a_chain_completes_with_every_task_run_once_when_a_worker_is_killed_mid_task(
    settings: Settings, redis_url: str, procs: Procs, tmp_path: Path
) -> None:
    client = connect(redis_url)
    register_chains(settings, client)
    store = execution_store(client)
    log = tmp_path / "steps.log"
    procs.service("rules", redis_url=redis_url)
    first_worker = procs.service("worker", redis_url=redis_url)
    chain_id = request_execution(settings, client, redis_url, "chains.resilient", {"log": str(log)})

    # Kill the only worker while it runs step 2 (step 1 is done: its line is written at its end).
    wait_for(lambda: _lines(log) == ["step1"] and len(store.get(chain_id).children) == 2, what="step 2 to start")
    wait_for(lambda: store.status(store.get(chain_id).children[1]) is ExecutionStatus.RUNNING, what="step 2 to run")
    first_worker.send_signal(signal.SIGKILL)
    first_worker.wait(timeout=10)
    procs.service("worker", redis_url=redis_url)

    wait_for(lambda: store.status(chain_id).value in FINAL, what="the chain to end", timeout=60)

    chain = store.get(chain_id)
    assert chain.status is ExecutionStatus.SUCCEEDED, chain.result
    assert _lines(log) == STEPS  # the killed run of step 2 never finished; its retry did, once
    attempts = [(t["name"], t["state"], t["attempt"]) for t in chain.result["tasks"]]
    assert ("step2", "abandoned", 1) in attempts
    assert [a for a in attempts if a[1] == "succeeded"] == [(s, "succeeded", 2 if s == "step2" else 1) for s in STEPS]
