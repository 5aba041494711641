"""Concurrency policies with real processes: `st2lite rules` and two `st2lite worker`s against one Redis."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import pytest

from st2lite import keys
from st2lite.config import Settings
from st2lite.dispatch import TriggerDispatcher
from st2lite.executions import ExecutionStore
from st2lite.redisdb import Redis, connect
from st2lite.statuses import ExecutionStatus
from st2lite.triggers import WEBHOOK_TRIGGER

from .conftest import FINAL, Procs, alive, execution_store, register, wait_for

pytestmark = pytest.mark.e2e

PACK = {
    "pack.yaml": "name: ops\ndescription: policies e2e\nversion: 0.1.0\nauthor: tests\n",
    "actions/job.yaml": "name: job\nrunner_type: local-shell-cmd\n",
    "policies/one_at_a_time.yaml": """\
        name: one_at_a_time
        resource_ref: ops.job
        policy_type: action.concurrency
        parameters: {threshold: 1}
        """,
    "rules/run_job.yaml": """\
        name: run_job
        enabled: true
        trigger: {type: core.st2.webhook, parameters: {url: job}}
        action: {ref: ops.job, parameters: {cmd: "{{ trigger.body.cmd }}"}}
        """,
}


def _start(settings: Settings, redis_url: str, procs: Procs) -> tuple[Redis, TriggerDispatcher, ExecutionStore]:
    """Register the pack ``ops`` and start ``st2lite rules``; the tests start their workers."""
    client = connect(redis_url)
    for relative, text in PACK.items():
        path = Path(settings.packs_path) / "ops" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    register(settings, client)
    procs.service("rules", redis_url=redis_url)
    return client, TriggerDispatcher(settings, client), execution_store(client)


def _fire(dispatcher: TriggerDispatcher, cmd: str) -> None:
    payload = {"headers": {}, "headers_lower": {}, "body": {"cmd": cmd}}
    dispatcher.dispatch(WEBHOOK_TRIGGER, payload, parameters={"url": "job"}, actor="e2e")


def test_two_scheduled_runs_of_one_job_never_overlap_with_a_concurrency_of_1(
    settings: Settings, redis_url: str, procs: Procs, tmp_path: Path
) -> None:
    client, dispatcher, store = _start(settings, redis_url, procs)
    marks = tmp_path / "marks.log"
    procs.service("worker", redis_url=redis_url)
    procs.service("worker", redis_url=redis_url)
    runs = 12
    for run in range(runs):
        _fire(
            dispatcher,
            f"echo start $(date +%s.%N) {run} >> {marks}; sleep 0.05; echo end $(date +%s.%N) {run} >> {marks}",
        )

    def all_done() -> bool:
        ids = client.zrange(keys.EXECUTIONS_ALL, 0, -1)
        return len(ids) == runs and all(store.status(eid).value in FINAL for eid in ids)

    wait_for(all_done, what=f"{runs} runs to finish", timeout=40)
    executions = store.get_many(client.zrange(keys.EXECUTIONS_ALL, 0, -1))
    assert {e.status for e in executions} == {ExecutionStatus.SUCCEEDED}
    assert any(ExecutionStatus.DELAYED in [c.status for c in e.log] for e in executions)  # the policy held some
    spans: dict[str, dict[str, float]] = {}
    for line in marks.read_text().splitlines():
        kind, at, run = line.split()
        spans.setdefault(run, {})[kind] = float(at)
    assert sorted(spans, key=int) == [str(run) for run in range(runs)]  # every run ran, once
    ordered = sorted(spans.values(), key=lambda span: span["start"])
    for before, after in zip(ordered, ordered[1:], strict=False):
        assert before["end"] <= after["start"], f"runs overlap: {before} and {after}"
    slots = keys.policy_slots("ops.one_at_a_time", "all")
    assert client.scard(slots + keys.SLOT_MEMBERS_SUFFIX) == 0
    assert client.zcard(slots + keys.SLOT_QUEUE_SUFFIX) == 0


def test_a_killed_slot_holder_is_abandoned_and_the_next_delayed_run_starts(
    settings: Settings, redis_url: str, procs: Procs, tmp_path: Path
) -> None:
    client, dispatcher, store = _start(settings, redis_url, procs)
    pid_file = tmp_path / "holder.pid"
    worker = procs.service("worker", redis_url=redis_url)
    _fire(dispatcher, f"echo $$ > {pid_file}; exec sleep 30")
    [holder] = wait_for(lambda: client.zrange(keys.EXECUTIONS_ALL, 0, -1), what="the first execution")
    wait_for(lambda: pid_file.is_file() and pid_file.read_text().strip(), what="the slot holder to run")
    procs.adopt(int(pid_file.read_text()))
    _fire(dispatcher, "echo next")
    waiter = wait_for(
        lambda: list(client.zrange(keys.execution_index("status", "delayed"), 0, -1)), what="the next run to wait"
    )[0]

    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    procs.service("worker", redis_url=redis_url)
    wait_for(
        lambda: store.status(waiter) == ExecutionStatus.SUCCEEDED,
        what="the delayed run to start once the holder was abandoned",
        timeout=settings.abandon_after * 2 + 15,
    )
    first, second = store.get(holder), store.get(waiter)
    assert first.status == ExecutionStatus.ABANDONED
    assert [c.status.value for c in second.log] == ["requested", "delayed", "scheduled", "running", "succeeded"]
    assert first.end_timestamp is not None and second.start_timestamp is not None
    assert first.end_timestamp <= second.start_timestamp
    wait_for(lambda: not alive(int(pid_file.read_text())), what="the holder's action to die with its worker")
