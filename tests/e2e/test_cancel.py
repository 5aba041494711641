"""Canceling, pausing and resuming with real workers and a real conductor (``st2lite rules``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from st2lite import keys
from st2lite.cancel import CANCELED_MESSAGE, cancel, pause, resume
from st2lite.chains.flow import ChainState
from st2lite.config import Settings
from st2lite.executions import ExecutionStore
from st2lite.redisdb import Redis, connect
from st2lite.statuses import ExecutionStatus

from .conftest import Procs, alive, execution_store, register_chains, request_execution, wait_for

pytestmark = pytest.mark.e2e


def _pid(path: Path) -> int:
    text = path.read_text().strip() if path.is_file() else ""
    return int(text) if text else 0


def _status(store: ExecutionStore, execution_id: str) -> ExecutionStatus:
    return store.status(execution_id)


def _setup(settings: Settings, redis_url: str, procs: Procs) -> tuple[Redis, ExecutionStore]:
    client = connect(redis_url)
    register_chains(settings, client)
    procs.service("worker", redis_url=redis_url)
    return client, execution_store(client)


def test_canceling_a_running_action_kills_its_process_group(
    settings: Settings, redis_url: str, procs: Procs, tmp_path: Path
) -> None:
    client, store = _setup(settings, redis_url, procs)
    pidfile = tmp_path / "pid"
    eid = request_execution(settings, client, redis_url, "core.local", {"cmd": f"echo $$ > {pidfile}; exec sleep 30"})
    pid = wait_for(lambda: _pid(pidfile) if _status(store, eid) is ExecutionStatus.RUNNING else 0, what="the action")
    procs.adopt(pid)

    assert cancel(store, client, eid, user="tester").status is ExecutionStatus.CANCELING

    wait_for(lambda: _status(store, eid) is ExecutionStatus.CANCELED, what="the execution to be canceled")
    wait_for(lambda: not alive(pid), what="the action's process to die")
    execution = store.get(execution_id=eid)
    assert execution.result["message"] == CANCELED_MESSAGE
    assert [c.status.value for c in execution.log][-2:] == ["canceling", "canceled"]


def test_canceling_a_chain_cancels_its_running_task_and_starts_no_other(
    settings: Settings, redis_url: str, procs: Procs, tmp_path: Path
) -> None:
    client, store = _setup(settings, redis_url, procs)
    procs.service("rules", redis_url=redis_url)
    pidfile, log = tmp_path / "pid", tmp_path / "log"
    chain_id = request_execution(settings, client, redis_url, "chains.long", {"pidfile": str(pidfile), "log": str(log)})
    pid = wait_for(lambda: _pid(pidfile), what="the chain's first task to run")
    procs.adopt(pid)

    cancel(store, client, chain_id, user="tester")

    wait_for(lambda: _status(store, chain_id) is ExecutionStatus.CANCELED, what="the chain to be canceled")
    chain = store.get(chain_id)
    [task] = store.get_many(chain.children)
    assert task.status is ExecutionStatus.CANCELED
    assert not alive(pid)
    assert [t["name"] for t in chain.result["tasks"]] == ["wait"]
    assert not log.exists()  # 'after' never ran


def test_a_paused_chain_starts_nothing_until_it_is_resumed(
    settings: Settings, redis_url: str, procs: Procs, tmp_path: Path
) -> None:
    client, store = _setup(settings, redis_url, procs)
    procs.service("rules", redis_url=redis_url)
    log = tmp_path / "steps.log"
    chain_id = request_execution(settings, client, redis_url, "chains.steps", {"log": str(log)})
    wait_for(lambda: len(store.get(chain_id).children) >= 1, what="the first step to start")

    pause(store, client, chain_id)

    wait_for(lambda: _status(store, chain_id) is ExecutionStatus.PAUSED, what="the chain to pause")
    raw = client.hget(keys.execution(chain_id), "chain")
    assert raw is not None
    state = ChainState.model_validate_json(raw)
    assert state.running == {}
    [held] = state.deferred  # the next step, held back
    ran = len(store.get(chain_id).children)
    assert ran == len(log.read_text().split())  # every started step has finished; none is under way

    resume(store, client, chain_id)

    wait_for(lambda: _status(store, chain_id) is ExecutionStatus.SUCCEEDED, what="the chain to finish", timeout=30)
    assert log.read_text().split() == [f"step{i}" for i in range(1, 6)]
    assert held.task == f"step{ran + 1}"
