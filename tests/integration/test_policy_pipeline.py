"""Policies through the pipeline in this process: rules engine -> scheduler (slots, sweeps) -> worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from test_pipeline import Pipeline as StagesPipeline

from st2lite import keys
from st2lite.actions import Action, ParameterSpec
from st2lite.audit import AuditKind, AuditLog
from st2lite.config import Settings
from st2lite.content import ContentSet
from st2lite.datastore import kv_lookup
from st2lite.executions import Execution
from st2lite.launch import prepare_execution, request_in
from st2lite.policies import Policy
from st2lite.redisdb import Redis
from st2lite.registry import RegistryStore
from st2lite.rules import Rule
from st2lite.scheduler import Scheduler
from st2lite.statuses import ExecutionStatus as S
from st2lite.triggers import SLA_MISSED_TRIGGER, WEBHOOK_TRIGGER
from st2lite.worker import Reaper, run_execution

pytestmark = pytest.mark.redis

JOB = Action(
    name="job",
    pack="site",
    runner_type="local-shell-cmd",
    parameters={
        "cmd": ParameterSpec(type="string", default="true"),
        "host": ParameterSpec(type="string", default="web1"),
    },
)
RULE = Rule.model_validate(
    {
        "name": "run_job",
        "pack": "site",
        "enabled": True,
        "trigger": {"type": WEBHOOK_TRIGGER, "parameters": {"url": "hook"}},
        "action": {
            "ref": "site.job",
            "parameters": {"host": "{{ trigger.body.host }}", "cmd": "{{ trigger.body.cmd }}"},
        },
    }
)


def policy(policy_type: str, enabled: bool = True, **parameters: Any) -> Policy:
    return Policy(
        name=policy_type.replace(".", "_"),
        pack="site",
        resource_ref="site.job",
        policy_type=policy_type,
        parameters=parameters,
        enabled=enabled,
    )


class Pipeline(StagesPipeline):
    """The stages of test_pipeline.py, registering the action ``site.job``, its rule and policies."""

    def __init__(self, settings: Settings, client: Redis) -> None:
        super().__init__(settings, client)
        self.store = self.engine.executions

    def register(self, *policies: Policy) -> None:  # type: ignore[override]
        RegistryStore(self.client).register(
            ContentSet(actions=[JOB], rules=[RULE], policies=policies),
            audit=AuditLog(self.client, maxlen=10_000),
            actor="test",
        )

    def fire(self, count: int = 1, **body: Any) -> None:
        for _ in range(count):
            payload = {"headers": {}, "headers_lower": {}, "body": {"host": "web1", "cmd": "true", **body}}
            self.dispatcher.dispatch(WEBHOOK_TRIGGER, payload, parameters={"url": "hook"}, actor="test")
        self.engine.drain()
        self.scheduler.drain()

    def executions(self) -> list[Execution]:
        """Oldest first."""
        return list(reversed(super().executions()))

    def statuses(self) -> list[str]:
        return [e.status.value for e in self.executions()]

    def run_scheduled(self) -> None:
        """Run every scheduled execution, then schedule what their ends woke."""
        for execution in self.executions():
            if execution.status is S.SCHEDULED:
                run_execution(self.worker, execution.id)
        self.scheduler.drain()

    def audit_kinds(self) -> list[str]:
        return [e.kind.value for e in AuditLog(self.client, maxlen=10_000).read(count=100_000)]


@pytest.fixture
def pipeline(settings: Settings, redis_client: Redis) -> Iterator[Pipeline]:
    yield Pipeline(settings, redis_client)


def test_concurrency_delays_in_arrival_order_and_a_release_wakes_the_next(pipeline: Pipeline) -> None:
    pipeline.register(policy("action.concurrency", threshold=1))
    pipeline.fire(3)  # a trickle: the engine must not schedule these itself

    assert pipeline.statuses() == ["scheduled", "delayed", "delayed"]
    first, second, third = (e.id for e in pipeline.executions())
    queue = "st2lite:policy:site.action_concurrency:all:queue"
    assert pipeline.client.zrange(queue, 0, -1) == [second, third]

    pipeline.run_scheduled()
    assert pipeline.statuses() == ["succeeded", "scheduled", "delayed"]
    pipeline.run_scheduled()
    pipeline.run_scheduled()
    assert pipeline.statuses() == ["succeeded"] * 3
    runs = [pipeline.store.get(eid) for eid in (first, second, third)]
    assert [c.status.value for c in runs[1].log] == ["requested", "delayed", "scheduled", "running", "succeeded"]
    assert runs[0].end_timestamp <= runs[1].start_timestamp and runs[1].end_timestamp <= runs[2].start_timestamp
    assert pipeline.client.scard("st2lite:policy:site.action_concurrency:all:slots") == 0
    kinds = pipeline.audit_kinds()
    assert kinds.count("policy.delayed") == 2 and kinds.count("policy.released") == 3


def test_concurrency_cancel_cancels_with_the_reason(pipeline: Pipeline) -> None:
    pipeline.register(policy("action.concurrency", threshold=1, action="cancel"))
    pipeline.fire(2)

    assert pipeline.statuses() == ["scheduled", "canceled"]
    canceled = pipeline.executions()[1]
    assert canceled.result == {
        "message": "canceled by policy site.action_concurrency: "
        "1 execution(s) of site.job already scheduled or running",
        "policy": "site.action_concurrency",
    }
    pipeline.run_scheduled()
    assert pipeline.statuses() == ["succeeded", "canceled"]


def test_concurrency_attr_counts_per_attribute_value(pipeline: Pipeline) -> None:
    pipeline.register(policy("action.concurrency.attr", threshold=1, attributes=["host"]))
    pipeline.fire(2, host="web1")
    pipeline.fire(1, host="web2")
    assert pipeline.statuses() == ["scheduled", "delayed", "scheduled"]


def test_a_waiter_held_back_by_one_count_does_not_hold_up_another(pipeline: Pipeline) -> None:
    # Both policies apply (StackStorm/st2#5223); the host1 waiter waits for its host's count only.
    pipeline.register(
        policy("action.concurrency.attr", threshold=1, attributes=["host"]),
        policy("action.concurrency", threshold=5),
    )
    pipeline.fire(2, host="web1")
    pipeline.fire(1, host="web2")
    assert pipeline.statuses() == ["scheduled", "delayed", "scheduled"]
    pipeline.run_scheduled()
    assert pipeline.statuses() == ["succeeded", "scheduled", "succeeded"]


def test_an_abandoned_holder_releases_its_slot(pipeline: Pipeline) -> None:
    pipeline.register(policy("action.concurrency", threshold=1))
    pipeline.fire(2)
    holder, waiter = (e.id for e in pipeline.executions())
    pipeline.store.claim(holder, worker="gone:1", lease_until=time.time() - 1)

    assert Reaper(pipeline.store, pipeline.settings).reap() == [holder]
    pipeline.scheduler.drain()
    assert pipeline.statuses() == ["abandoned", "scheduled"]
    assert pipeline.store.get(waiter).status is S.SCHEDULED


def test_the_sweep_wakes_waiters_of_a_removed_policy(pipeline: Pipeline) -> None:
    pipeline.register(policy("action.concurrency", threshold=1))
    pipeline.fire(3)
    pipeline.register(policy("action.concurrency", enabled=False, threshold=1))  # waiters must not wait for ever
    pipeline.scheduler.registry._checked = 0.0  # see the new version at once
    assert pipeline.scheduler.policies.wake_waiters(pipeline.scheduler.registry.current()) == 2
    pipeline.scheduler.drain()
    assert pipeline.statuses() == ["scheduled"] * 3
    pipeline.scheduler.policies.wake_waiters(pipeline.scheduler.registry.current())
    assert pipeline.client.smembers(keys.POLICY_WAITING) == set()


def test_two_schedulers_never_exceed_the_threshold(pipeline: Pipeline, settings: Settings) -> None:
    pipeline.register(policy("action.concurrency", threshold=2))
    snapshot = RegistryStore(pipeline.client).load()
    pipeline.scheduler.requests.ensure_group()
    with pipeline.client.pipeline(transaction=True) as pipe:
        for _ in range(40):
            prepared = prepare_execution(snapshot, JOB, {}, context={"user": "t"}, kv_lookup=kv_lookup(pipeline.client))
            request_in(pipe, prepared, executions=pipeline.store, requests=pipeline.scheduler.requests)
        pipe.execute()
    schedulers = [Scheduler(settings, pipeline.client, settings.redis_url, name=f"s{n}") for n in range(2)]
    threads = [threading.Thread(target=s.drain) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(pipeline.statuses()).count("scheduled") == 2
    assert pipeline.statuses().count("delayed") == 38


def test_retry_creates_a_new_execution_until_max_retry_count(pipeline: Pipeline) -> None:
    pipeline.register(policy("action.retry", retry_on="failure", max_retry_count=2, delay=0))
    pipeline.fire(cmd="exit 3")
    for _ in range(3):
        pipeline.run_scheduled()
        pipeline.scheduler.policies.sweep(pipeline.scheduler.registry.current())
        pipeline.scheduler.drain()
    runs = pipeline.executions()
    assert [e.status.value for e in runs] == ["failed"] * 3
    assert [e.parameters["cmd"] for e in runs] == ["exit 3"] * 3
    assert runs[1].context["policies"] == {
        "retry": {"applied_policy": "site.action_retry", "retry_count": 1, "retried_liveaction_id": runs[0].id}
    }
    assert runs[2].context["policies"]["retry"]["retry_count"] == 2
    assert runs[1].rule == "site.run_job"
    assert pipeline.client.zcard(keys.RETRIES_DUE) == 0
    assert pipeline.audit_kinds().count("policy.retried") == 2


def test_a_retry_is_created_once_even_when_taken_twice(pipeline: Pipeline) -> None:
    pipeline.register(policy("action.retry", retry_on="failure", delay=0))
    pipeline.fire(cmd="exit 1")
    pipeline.run_scheduled()
    [failed] = pipeline.executions()
    sweeper = pipeline.scheduler.policies
    snapshot = pipeline.scheduler.registry.current()
    first = sweeper._retry(snapshot, failed.id)  # a scheduler that died before removing the due entry
    assert first is not None
    assert sweeper.create_retries(snapshot) == []  # the marker stops the second one
    assert len(pipeline.executions()) == 2
    assert pipeline.client.get(keys.retried(failed.id)) == first


def test_retry_waits_its_delay_in_redis(pipeline: Pipeline) -> None:
    pipeline.register(policy("action.retry", retry_on="failure", delay=60))
    pipeline.fire(cmd="exit 1")
    pipeline.run_scheduled()
    [failed] = pipeline.executions()
    due = pipeline.client.zscore(keys.RETRIES_DUE, failed.id)
    assert due is not None and due > time.time() + 50
    assert pipeline.scheduler.policies.create_retries(pipeline.scheduler.registry.current()) == []
    assert len(pipeline.scheduler.policies.create_retries(pipeline.scheduler.registry.current(), now=due)) == 1


def test_sla_missed_is_emitted_once_and_not_for_runs_in_time(pipeline: Pipeline) -> None:
    pipeline.register(policy("action.sla", duration=0.2))
    pipeline.fire(2)
    late, in_time = (e.id for e in pipeline.executions())
    run_execution(pipeline.worker, in_time)
    pipeline.scheduler.requests.add_in(pipeline.client, in_time)  # a duplicate request of a completed run
    pipeline.scheduler.drain()
    assert pipeline.client.zscore(keys.SLA_DUE, in_time) is None
    deadline = time.monotonic() + 5
    missed: list[str] = []
    while not missed and time.monotonic() < deadline:
        missed = pipeline.scheduler.policies.report_missed_slas(pipeline.scheduler.registry.current())
    assert missed == [late]
    assert pipeline.scheduler.policies.report_missed_slas(pipeline.scheduler.registry.current()) == []
    instances = [
        orjson.loads(f["t"]) for _id, f in pipeline.client.xrange(keys.TRIGGER_STREAM) if SLA_MISSED_TRIGGER in f["t"]
    ]
    assert len(instances) == 1
    payload = instances[0]["payload"]
    assert payload["execution_id"] == late and payload["status"] == "scheduled"
    assert (payload["action_ref"], payload["duration"], payload["policy"]) == ("site.job", 0.2, "site.action_sla")
    assert AuditKind.POLICY_SLA_MISSED.value in pipeline.audit_kinds()
