"""Workers that die or are stopped mid-action.

SIGKILL: the worker stops renewing the execution's lease, and a reaper marks
the execution ``abandoned`` and emits ``core.st2.generic.actiontrigger`` with
that status. SIGTERM: the worker finishes the action first.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from st2lite import keys
from st2lite.config import Settings
from st2lite.embedded_redis import EmbeddedRedis
from st2lite.executions import Execution, ExecutionStore
from st2lite.ids import new_id
from st2lite.redisdb import Redis, connect
from st2lite.statuses import ExecutionStatus
from st2lite.triggers import ACTION_TRIGGER
from st2lite.worker import Reaper

from .conftest import Procs, alive, execution_store, register, request_execution, trigger_entries, wait_for

pytestmark = pytest.mark.e2e

#: Seconds the reaper may take beyond the lease (its own period, the worker's last renewal).
MARGIN = 3.0


@contextmanager
def _reaping(store: ExecutionStore, settings: Settings) -> Iterator[tuple[threading.Thread, list[BaseException]]]:
    """A :class:`Reaper` running on a thread while the block runs, and the error that ended it, if any."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            Reaper(store, settings).run(stop)
        except Exception as exc:  # reported to the test, not to pytest's unhandled-thread hook
            errors.append(exc)

    thread = threading.Thread(target=run, name="e2e-reaper", daemon=True)
    thread.start()
    try:
        yield thread, errors
    finally:
        stop.set()
        thread.join(timeout=5)


def _running(store: ExecutionStore, execution_id: str, pid_file: Path) -> int:
    """The action's pid once the execution runs and the action wrote it (0 until then)."""
    text = pid_file.read_text().strip() if pid_file.is_file() else ""
    return int(text) if text and store.status(execution_id) == ExecutionStatus.RUNNING else 0


def test_a_killed_worker_s_execution_is_abandoned_and_announced(
    settings: Settings, redis_url: str, procs: Procs, tmp_path: Path
) -> None:
    client = connect(redis_url)
    register(settings, client)
    store = execution_store(client)
    pid_file = tmp_path / "action.pid"
    execution_id = request_execution(
        settings, client, redis_url, "core.local", {"cmd": f"echo $$ > {pid_file}; exec sleep 30"}
    )
    worker = procs.service("worker", redis_url=redis_url)
    action_pid = wait_for(lambda: _running(store, execution_id, pid_file), what="the action to run")
    procs.adopt(action_pid)

    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    killed_at = time.monotonic()
    with _reaping(execution_store(client, actor="reaper:e2e"), settings):
        wait_for(
            lambda: store.status(execution_id) == ExecutionStatus.ABANDONED,
            what="the reaper to abandon the execution",
            timeout=settings.abandon_after + MARGIN,
        )
    assert time.monotonic() - killed_at <= settings.abandon_after + MARGIN

    execution = store.get(execution_id)
    worker_name = f"{socket.gethostname()}:{worker.pid}"
    assert execution.worker == worker_name
    assert execution.result == {"error": f"the worker running it ({worker_name}) stopped responding; abandoned"}
    assert [change.status for change in execution.log] == ["requested", "scheduled", "running", "abandoned"]
    assert client.zscore(keys.RUNNING_LEASES, execution_id) is None
    [announced] = [t for t in trigger_entries(client, ACTION_TRIGGER) if t["payload"]["execution_id"] == execution_id]
    assert announced["payload"]["status"] == "abandoned"
    assert announced["payload"]["action_ref"] == "core.local"
    # The action dies with its worker (PR_SET_PDEATHSIG) instead of running on unseen.
    wait_for(lambda: not alive(action_pid), what="the action's process to die with its worker")


def test_sigterm_lets_the_worker_finish_its_action(
    settings: Settings, redis_url: str, procs: Procs, tmp_path: Path
) -> None:
    client = connect(redis_url)
    register(settings, client)
    store = execution_store(client)
    pid_file = tmp_path / "action.pid"
    execution_id = request_execution(
        settings, client, redis_url, "core.local", {"cmd": f"echo $$ > {pid_file}; sleep 2; echo finished"}
    )
    # Emit the action trigger although no rule listens to it, to check what the finished execution announces.
    worker = procs.service("worker", redis_url=redis_url, ST2LITE_ACTION_TRIGGER_UNWATCHED="true")
    wait_for(lambda: _running(store, execution_id, pid_file), what="the action to run")

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0, procs.output(worker)

    execution = store.get(execution_id)
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.result["stdout"] == "finished"
    assert client.zscore(keys.RUNNING_LEASES, execution_id) is None
    [announced] = [t for t in trigger_entries(client, ACTION_TRIGGER) if t["payload"]["execution_id"] == execution_id]
    assert announced["payload"]["status"] == "succeeded"


class _FailureCountingStore(ExecutionStore):
    """Counts the reaper's lease reads that failed."""

    failures = 0

    def expired_leases(self, now: float, *, count: int = 100) -> list[str]:
        try:
            return super().expired_leases(now, count=count)
        except Exception:
            self.failures += 1
            raise


def _running_with_expired_lease(store: ExecutionStore, client: Redis) -> str:
    execution = Execution(id=new_id(), action="core.local", runner="local-shell-cmd")
    with client.pipeline(transaction=True) as pipe:
        store.create_in(pipe, execution)
        pipe.execute()
    store.transition(execution.id, ExecutionStatus.SCHEDULED)
    store.transition(execution.id, ExecutionStatus.RUNNING, fields={"worker": "gone:1"}, lease_until=time.time() - 1)
    return execution.id


def test_the_reaper_survives_a_redis_outage(own_redis: EmbeddedRedis, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", redis_url=own_redis.url, abandon_after=2.0)
    client = connect(own_redis.url)
    kwargs: dict[str, Any] = {"ttl": 86_400, "audit_maxlen": 100_000, "trigger_maxlen": 100_000}
    store = _FailureCountingStore(client, actor="reaper:e2e", **kwargs)
    with _reaping(store, settings) as (thread, errors):
        own_redis.kill()
        wait_for(lambda: store.failures >= 2 or not thread.is_alive(), what="the reaper to meet the outage")
        assert thread.is_alive(), f"the reaper thread died with the Redis outage: {errors!r}"
        own_redis.start()
        execution_id = _running_with_expired_lease(store, client)
        wait_for(
            lambda: store.status(execution_id) == ExecutionStatus.ABANDONED,
            what="the reaper to work again after the outage",
            timeout=settings.abandon_after + MARGIN,
        )
