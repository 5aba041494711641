"""Action chains run end to end in this process: worker starts a chain, conductor advances it, tasks run.

Each step is run explicitly (schedule, run the scheduled executions, let the
conductor take the events), so the tests can look at the chain between steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

from st2lite import keys
from st2lite.chains.conductor import ChainConductor
from st2lite.config import Settings
from st2lite.datastore import kv_lookup
from st2lite.executions import Execution, ExecutionStore
from st2lite.launch import prepare_execution, request_in
from st2lite.redisdb import Redis
from st2lite.registration import register_from_disk
from st2lite.registry import RegistryStore
from st2lite.requests import RequestQueue
from st2lite.scheduler import Scheduler
from st2lite.statuses import COMPLETED, ExecutionStatus
from st2lite.worker import WorkerRuntime, build_runtime, run_execution

pytestmark = pytest.mark.redis

#: Chains that use the core pack (outside tests/fixtures/packs, whose packs are also loaded without it).
CHAINS_PACK = REPO / "tests" / "fixtures" / "runnable" / "chains"


class Chains:
    """The chain fixture pack registered, and the stages to run chains step by step."""

    def __init__(self, settings: Settings, client: Redis) -> None:
        self.client = client
        report, _version = register_from_disk(settings, client, [CHAINS_PACK], actor="test")
        assert not report.problems, report.problems
        self.executions = ExecutionStore.for_settings(client, settings, actor="test")
        self.scheduler = Scheduler(settings, client, settings.redis_url, name="scheduler-test")
        self.worker: WorkerRuntime = build_runtime(settings, settings.redis_url, name="worker-test")
        self.conductor = ChainConductor(settings, client, name="conductor-test")
        self.requests = RequestQueue(client, maxlen=10_000)
        self.requests.ensure_group()

    def request(self, action: str, parameters: dict[str, Any]) -> str:
        snapshot = RegistryStore(self.client).load()
        prepared = prepare_execution(
            snapshot,
            snapshot.content.action(action),
            parameters,
            context={"user": "tester"},
            kv_lookup=kv_lookup(self.client),
        )
        with self.client.pipeline(transaction=True) as pipe:
            request_in(pipe, prepared, executions=self.executions, requests=self.requests)
            pipe.execute()
        return prepared.execution.id

    def step(self) -> int:
        """Schedule, run every scheduled execution once, let the conductor advance; returns how many ran."""
        self.scheduler.drain()
        queued = self.scheduler.jobs.queued_ids()
        self.scheduler.jobs.empty()  # run here instead, by the same code a worker runs
        for eid in queued:
            run_execution(self.worker, eid)
        self.conductor.drain()
        return len(queued)

    def run(self, execution_id: str, *, max_steps: int = 20) -> Execution:
        """Step until ``execution_id`` has ended; fail when it takes more than ``max_steps``."""
        for _ in range(max_steps):
            self.step()
            execution = self.executions.get(execution_id)
            if execution.status in COMPLETED:
                return execution
        raise AssertionError(f"execution {execution_id} still {self.executions.status(execution_id)}")

    def children(self, chain: Execution) -> list[Execution]:
        return sorted(self.executions.get_many(chain.children), key=lambda e: e.created_at)


@pytest.fixture
def chains(settings: Settings, redis_client: Redis) -> Iterator[Chains]:
    yield Chains(settings, redis_client)


def test_a_chain_renders_vars_publish_results_and_context_and_returns_stackstorms_result(chains: Chains) -> None:
    chain_id = chains.request("chains.greet", {"name": "ops"})

    chain = chains.run(chain_id)

    assert chain.status is ExecutionStatus.SUCCEEDED
    first, second = chains.children(chain)
    assert [first.action, second.action] == ["core.local", "core.local"]
    assert first.parent == second.parent == chain_id
    assert first.context["parent"]["execution_id"] == chain_id
    assert first.context["chain"] == {"name": "first"}
    assert first.result["stdout"] == "hello ops"
    assert second.result["stdout"] == f"hello ops 1 parent={chain_id} rc=0"
    result = chain.result
    assert [(t["name"], t["state"], t["execution_id"]) for t in result["tasks"]] == [
        ("first", "succeeded", first.id),
        ("second", "succeeded", second.id),
    ]
    assert result["tasks"][1]["result"] == second.result
    assert result["published"] == {"greeting": "hello ops", "said": "hello ops", "code": 0}
    assert [c.status for c in chain.log] == ["requested", "scheduled", "running", "succeeded"]


def test_no_worker_waits_for_a_chain_and_its_state_is_saved_after_every_task(chains: Chains) -> None:
    chain_id = chains.request("chains.greet", {"name": "ops"})

    assert chains.step() == 1  # the worker started the chain and returned at once
    chain = chains.executions.get(chain_id)
    assert chain.status is ExecutionStatus.RUNNING
    assert chains.client.zscore(keys.RUNNING_LEASES, chain_id) is None  # no lease: nobody runs it
    [first] = chain.children
    assert chains.executions.status(first) is ExecutionStatus.SCHEDULED
    state = chains.client.hget(keys.execution(chain_id), "chain")
    assert state is not None and f'"waiting_on":"{first}"' in state

    assert chains.step() == 1  # the first task ran; the conductor started the second
    chain = chains.executions.get(chain_id)
    assert len(chain.children) == 2
    state = chains.client.hget(keys.execution(chain_id), "chain")
    assert state is not None and '"said":"hello ops"' in state


@pytest.mark.parametrize(
    ("fail_at", "ran", "status"),
    [
        ("none", ["create_vm", "register_dns", "attach_lb"], "succeeded"),
        ("attach_lb", ["create_vm", "register_dns", "attach_lb", "rollback_dns", "rollback_vm", "notify"], "failed"),
        ("register_dns", ["create_vm", "register_dns", "rollback_vm", "notify"], "failed"),
    ],
)
def test_on_failure_rolls_back_and_the_chain_ends_with_the_last_tasks_status(
    chains: Chains, tmp_path: Path, fail_at: str, ran: list[str], status: str
) -> None:
    log = tmp_path / "steps.log"
    chain_id = chains.request("chains.provision", {"fail_at": fail_at, "log": str(log)})

    chain = chains.run(chain_id)

    assert log.read_text().split() == ran  # each task ran once, in order
    assert [t["name"] for t in chain.result["tasks"]] == ran
    assert chain.status.value == status
    failed = [t["name"] for t in chain.result["tasks"] if t["state"] == "failed"]
    assert failed == ([] if fail_at == "none" else [fail_at, "notify"])


def test_a_task_whose_parameters_cannot_be_rendered_fails_the_chain_with_the_reason(chains: Chains) -> None:
    chain_id = chains.request("chains.broken_template", {})

    chain = chains.run(chain_id)

    assert chain.status is ExecutionStatus.FAILED
    assert [t["name"] for t in chain.result["tasks"]] == ["ok"]
    assert "task 'broken' could not start" in chain.result["error"]
    assert "nobody_set_this" in chain.result["error"]
    assert len(chain.children) == 1


def test_a_repeated_chain_event_takes_no_second_step(chains: Chains) -> None:
    chain_id = chains.request("chains.greet", {"name": "ops"})
    chains.step()
    [first] = chains.executions.get(chain_id).children
    run_execution(chains.worker, first)
    chains.scheduler.jobs.empty()
    [entry] = chains.client.xrange(keys.CHAIN_EVENTS)

    chains.conductor.drain()
    # The same event delivered again (a conductor that died before acknowledging it, reclaimed):
    chains.client.xadd(keys.CHAIN_EVENTS, entry[1])
    chains.conductor.drain()

    assert len(chains.executions.get(chain_id).children) == 2
    assert len(chains.scheduler.jobs.queued_ids()) == 1
