"""Action chains run end to end in this process: worker starts a chain, conductor advances it, tasks run.

Each step is run explicitly (schedule, run the scheduled executions, let the
conductor take the events), so the tests can look at the chain between steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import CHAINS_PACK, wait_for

from st2lite import keys
from st2lite.chains.conductor import ChainConductor
from st2lite.chains.flow import ChainState, Run
from st2lite.config import Settings
from st2lite.datastore import kv_lookup
from st2lite.executions import Execution, ExecutionFilter, ExecutionStore
from st2lite.launch import prepare_execution, request_in
from st2lite.redisdb import Redis
from st2lite.registration import register_from_disk
from st2lite.registry import RegistryStore
from st2lite.requests import RequestQueue
from st2lite.scheduler import Scheduler
from st2lite.statuses import COMPLETED, ExecutionStatus
from st2lite.triggers import ACTION_TRIGGER, NOTIFY_TRIGGER
from st2lite.worker import WorkerRuntime, build_runtime, run_execution

pytestmark = pytest.mark.redis


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

    def request(self, action: str, parameters: dict[str, Any], **context: Any) -> str:
        snapshot = RegistryStore(self.client).load()
        prepared = prepare_execution(
            snapshot,
            snapshot.content.action(action),
            parameters,
            context={"user": "tester", **context},
            kv_lookup=kv_lookup(self.client),
        )
        with self.client.pipeline(transaction=True) as pipe:
            request_in(pipe, prepared, executions=self.executions, requests=self.requests)
            pipe.execute()
        return prepared.execution.id

    def step(self) -> int:
        """Schedule, run every scheduled execution once, let the conductor advance; returns how many ran."""
        self.scheduler.policies.sweep(self.scheduler.registry.current())  # retries, wake-ups (as its loop does)
        self.scheduler.drain()
        queued = self.scheduler.jobs.queued_ids()
        self.scheduler.jobs.empty()  # run here instead, by the same code a worker runs
        for eid in queued:
            run_execution(self.worker, eid)
        self.conductor.drain()
        return len(queued)

    def run(self, execution_id: str, *, on_step: Callable[[], None] | None = None) -> Execution:
        """Step until ``execution_id`` has ended (retries wait for their time); fail after the deadline."""

        def ended() -> Execution | None:
            self.step()
            if on_step is not None:
                on_step()
            execution = self.executions.get(execution_id)
            return execution if execution.status in COMPLETED else None

        result: Execution = wait_for(ended, f"execution {execution_id} to end", every=0.02)
        return result

    def state(self, chain_id: str) -> ChainState:
        raw = self.client.hget(keys.execution(chain_id), "chain")
        assert raw is not None
        return ChainState.model_validate_json(raw)

    def children(self, chain: Execution) -> list[Execution]:
        return sorted(self.executions.get_many(chain.children), key=lambda e: e.created_at)


def trigger_payloads(client: Redis, trigger: str) -> list[dict[str, Any]]:
    """The payloads of the trigger instances of type ``trigger`` on the trigger stream."""
    instances = [orjson.loads(fields["t"]) for _id, fields in client.xrange(keys.TRIGGER_STREAM)]
    return [i["payload"] for i in instances if i["trigger"] == trigger]


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
    assert chains.state(chain_id).running == {first: Run(task="first")}

    assert chains.step() == 1  # the first task ran; the conductor started the second
    chain = chains.executions.get(chain_id)
    assert len(chain.children) == 2
    state = chains.state(chain_id)
    assert state.vars["said"] == "hello ops"
    assert [r.task for r in state.running.values()] == ["second"]
    assert state.results["first"]["stdout"] == "hello ops"


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


def test_a_failed_task_is_retried_with_backoff_until_it_succeeds(chains: Chains, tmp_path: Path) -> None:
    counter = tmp_path / "tries"
    chain_id = chains.request("chains.retrying", {"counter": str(counter), "succeed_on": 3})
    dues: list[float] = []

    def watch() -> None:
        dues.extend(score for _member, score in chains.client.zrange(keys.CHAIN_RETRIES, 0, -1, withscores=True))

    chain = chains.run(chain_id, on_step=watch)

    assert chain.status is ExecutionStatus.SUCCEEDED
    assert counter.read_text().strip() == "3"
    tasks = chain.result["tasks"]
    assert [(t["attempt"], t["state"]) for t in tasks] == [(1, "failed"), (2, "failed"), (3, "succeeded")]
    assert [t["result"]["stdout"] for t in tasks] == ["try 1", "try 2", "try 3"]
    # The waits lived in Redis, 0.2 s then 0.4 s after the failures (backoff 2).
    first_end, second_end = (datetime.fromisoformat(t["updated_at"]).timestamp() for t in tasks[:2])
    first_due, second_due = sorted(set(dues))
    # Due 0.2 s, then 0.4 s, after the conductor saw the failure (which is after the run ended).
    assert first_end + 0.2 <= first_due < first_end + 0.2 + 5
    assert second_end + 0.4 <= second_due < second_end + 0.4 + 5
    second_start = datetime.fromisoformat(tasks[1]["created_at"]).timestamp()
    assert second_start >= first_end + 0.2
    assert chains.client.zcard(keys.CHAIN_RETRIES) == 0


def test_retries_stop_after_count_and_the_chain_fails(chains: Chains, tmp_path: Path) -> None:
    counter = tmp_path / "tries"
    chain = chains.run(chains.request("chains.retrying", {"counter": str(counter), "succeed_on": 9}))

    assert chain.status is ExecutionStatus.FAILED
    assert [t["attempt"] for t in chain.result["tasks"]] == [1, 2, 3]
    assert counter.read_text().strip() == "3"


def test_with_items_runs_one_job_per_row_at_most_two_at_a_time(chains: Chains, tmp_path: Path) -> None:
    log = tmp_path / "rows.log"
    rows = [{"name": f"row{i}"} for i in range(5)]
    chain_id = chains.request("chains.rows", {"rows": rows, "log": str(log)})
    in_flight: list[int] = []

    def watch() -> None:
        raw = chains.client.hget(keys.execution(chain_id), "chain")
        if raw is not None and chains.executions.status(chain_id) is ExecutionStatus.RUNNING:
            state = ChainState.model_validate_json(raw)
            in_flight.append(sum(1 for run in state.running.values() if run.task == "each"))

    chain = chains.run(chain_id, on_step=watch)

    assert chain.status is ExecutionStatus.SUCCEEDED
    assert sorted(log.read_text().split()) == [f"{i}:row{i}" for i in range(5)]  # each row once
    assert max(in_flight) == 2
    items = [t for t in chain.result["tasks"] if t["name"] == "each"]
    assert sorted(t["item"] for t in items) == list(range(5))
    assert chain.result["published"]["done"] == 5
    assert chain.result["published"]["names"] == [f"ROW{i}" for i in range(5)]  # in item order
    summary = chain.result["tasks"][-1]
    assert summary["result"]["stdout"] == "5 rows: ROW0,ROW1,ROW2,ROW3,ROW4"
    children = chains.children(chain)
    assert sorted(c.context["chain"]["item"] for c in children if c.context["chain"]["name"] == "each") == list(
        range(5)
    )


def test_with_items_concurrency_may_come_from_the_chain_parameters(chains: Chains, tmp_path: Path) -> None:
    rows = [{"name": f"row{i}"} for i in range(6)]
    chain_id = chains.request("chains.rows", {"rows": rows, "log": str(tmp_path / "rows.log"), "limit": 3})
    started: list[int] = []

    def watch() -> None:
        raw = chains.client.hget(keys.execution(chain_id), "chain")
        if raw is not None and chains.executions.status(chain_id) is ExecutionStatus.RUNNING:
            started.append(sum(1 for run in ChainState.model_validate_json(raw).running.values() if run.task == "each"))

    assert chains.run(chain_id, on_step=watch).status is ExecutionStatus.SUCCEEDED
    assert max(started) == 3

    refused = chains.run(chains.request("chains.rows", {"rows": rows, "log": str(tmp_path / "no.log"), "limit": 0}))
    assert refused.status is ExecutionStatus.FAILED
    assert refused.result["error"] == (
        "task 'each': 'concurrency' must be a whole number from 1 to 10000 (or a template giving one), not 0"
    )
    assert refused.children == []


def test_with_items_of_an_empty_list_succeeds_without_running_anything(chains: Chains, tmp_path: Path) -> None:
    chain = chains.run(chains.request("chains.rows", {"rows": [], "log": str(tmp_path / "none.log")}))

    assert chain.status is ExecutionStatus.SUCCEEDED
    assert [t["name"] for t in chain.result["tasks"]] == ["summary"]
    assert chain.result["tasks"][0]["result"]["stdout"] == "0 rows:"


def test_with_items_that_is_not_a_list_fails_the_chain_saying_so(chains: Chains) -> None:
    chain = chains.run(chains.request("chains.not_a_list", {}))

    assert chain.status is ExecutionStatus.FAILED
    assert chain.result["error"] == (
        "task 'each': with-items gave int 3, not a list; give it a list or a template that renders one"
    )
    assert chain.children == []


def test_a_task_timeout_kills_the_task_and_ends_the_chain_as_timeout(chains: Chains) -> None:
    chain = chains.run(chains.request("chains.slow", {}))

    assert chain.status is ExecutionStatus.TIMEOUT
    [child] = chains.children(chain)
    assert child.status is ExecutionStatus.TIMEOUT
    assert child.parameters["timeout"] == 1  # core.local's timeout is whole seconds: 0.4 rounds up


def test_a_chain_re_run_from_its_failed_task_keeps_what_ran_before(chains: Chains, tmp_path: Path) -> None:
    log = tmp_path / "steps.log"
    failed = chains.run(chains.request("chains.provision", {"fail_at": "attach_lb", "log": str(log)}))
    assert failed.status is ExecutionStatus.FAILED
    before = [t for t in failed.result["tasks"] if t["name"] in ("create_vm", "register_dns")]
    log.write_text("")

    rerun = {"ref": failed.id, "tasks": ["attach_lb"], "reset": []}
    chain = chains.run(chains.request("chains.provision", {"fail_at": "none", "log": str(log)}, **{"re-run": rerun}))

    assert chain.status is ExecutionStatus.SUCCEEDED
    assert log.read_text().split() == ["attach_lb"]  # only the failed task and what follows ran again
    assert chain.result["tasks"][:2] == before  # the earlier tasks' records, original executions included
    assert [t["name"] for t in chain.result["tasks"]] == ["create_vm", "register_dns", "attach_lb"]
    assert len(chain.children) == 1


def test_a_re_run_from_a_task_that_never_ran_fails_saying_so(chains: Chains, tmp_path: Path) -> None:
    log = tmp_path / "steps.log"
    done = chains.run(chains.request("chains.provision", {"log": str(log)}))

    rerun = {"ref": done.id, "tasks": ["rollback_vm"], "reset": []}
    chain = chains.run(chains.request("chains.provision", {"log": str(log)}, **{"re-run": rerun}))

    assert chain.status is ExecutionStatus.FAILED
    assert chain.result["error"] == (f"task 'rollback_vm' did not run in execution {done.id}; cannot re-run from it")


def test_a_publish_that_cannot_be_rendered_fails_the_chain_with_the_reason(chains: Chains) -> None:
    chain = chains.run(chains.request("chains.bad_publish", {}))

    assert chain.status is ExecutionStatus.FAILED
    assert [t["name"] for t in chain.result["tasks"]] == ["first"]  # 'never' never ran
    assert chain.result["error"].startswith("task 'first' publish: 'oops' could not be rendered: ")
    assert "no_such_key" in chain.result["error"]


def test_a_chain_can_run_another_chain_as_a_task(chains: Chains) -> None:
    chain = chains.run(chains.request("chains.outer", {}))

    assert chain.status is ExecutionStatus.SUCCEEDED, chain.result
    inner, last = chains.children(chain)
    assert inner.action == "chains.greet" and inner.status is ExecutionStatus.SUCCEEDED
    assert len(chains.executions.get(inner.id).children) == 2  # the inner chain's own tasks
    assert last.result["stdout"].startswith("got: hello nested 1 parent=")


def test_chain_tasks_obey_their_actions_concurrency_policy(chains: Chains, tmp_path: Path) -> None:
    log = tmp_path / "marks.log"

    chain = chains.run(chains.request("chains.serial_items", {"log": str(log)}))

    assert chain.status is ExecutionStatus.SUCCEEDED
    assert sorted(log.read_text().split()) == ["a", "b", "c", "d"]
    marks = [c for c in chains.children(chain) if c.action == "chains.mark"]
    # Four allowed at once by the chain, one at a time by the policy: from scheduled to done, none overlap.
    spans = sorted(
        (next(e.timestamp for e in m.log if e.status is ExecutionStatus.SCHEDULED), m.end_timestamp or "")
        for m in marks
    )
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:], strict=False)), spans
    assert sum(1 for m in marks if ExecutionStatus.DELAYED in [e.status for e in m.log]) == 3


def test_a_retry_policy_on_a_chain_runs_the_failed_chain_again(chains: Chains, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    first = chains.run(chains.request("chains.flaky_chain", {"counter": str(counter)}))
    assert first.status is ExecutionStatus.FAILED

    def retry() -> list[Execution]:
        chains.step()  # the scheduler's policy sweep creates the retry
        found = chains.executions.search(ExecutionFilter(action="chains.flaky_chain"), limit=10)[0]
        return [e for e in found if e.id != first.id]

    retried = wait_for(retry, "the retry policy to create the retry", every=0.02)
    second = chains.run(retried[0].id)

    assert second.status is ExecutionStatus.SUCCEEDED
    assert second.context["policies"]["retry"]["retried_liveaction_id"] == first.id
    assert counter.read_text().strip() == "2"


def test_task_notify_emits_stackstorms_notify_triggers_once_per_route(chains: Chains) -> None:
    chain = chains.run(chains.request("chains.notifying", {}))

    assert chain.status is ExecutionStatus.SUCCEEDED
    loud = chains.children(chain)[0]
    sent = trigger_payloads(chains.client, NOTIFY_TRIGGER)
    assert sorted((p["route"], p["message"]) for p in sent) == [
        ("audit", "Action core.local succeeded."),
        ("chat", "Action core.local succeeded."),
        ("chat", "done on loud"),
    ]  # on-complete and on-success; not on-failure; nothing for 'quiet' (skip_notify)
    complete = next(p for p in sent if p["message"] == "done on loud")
    assert complete["data"] == {"rc": 0}
    assert (complete["execution_id"], complete["status"], complete["action_ref"]) == (
        loud.id,
        "succeeded",
        "core.local",
    )


def test_a_chain_that_ends_emits_the_action_trigger_and_its_tasks_name_it_as_parent(
    settings: Settings, redis_client: Redis, tmp_path: Path
) -> None:
    chains = Chains(settings.model_copy(update={"action_trigger_unwatched": True}), redis_client)
    chain = chains.run(
        chains.request("chains.provision", {"fail_at": "register_dns", "log": str(tmp_path / "steps.log")})
    )

    sent = trigger_payloads(chains.client, ACTION_TRIGGER)
    [own] = [p for p in sent if p["execution_id"] == chain.id]
    assert (own["status"], own["action_ref"], own["parent"]) == ("failed", "chains.provision", None)
    assert own["result"]["tasks"] == chain.result["tasks"]
    tasks = [p for p in sent if p["execution_id"] != chain.id]
    assert {p["execution_id"] for p in tasks} == set(chain.children)
    assert {p["parent"] for p in tasks} == {chain.id}  # a rule keeps to top-level ones with trigger.parent nexists
