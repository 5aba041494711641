"""One trigger instance through the whole pipeline, in this process: bus -> rules engine -> scheduler -> worker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from st2lite import keys
from st2lite.actions import Action, ParameterSpec
from st2lite.audit import AuditKind, AuditLog
from st2lite.config import Settings
from st2lite.content import ContentSet
from st2lite.datastore import KeyValueStore
from st2lite.dispatch import TriggerDispatcher
from st2lite.encryption import generate_key_file
from st2lite.enforcements import EnforcementStatus, EnforcementStore, enforcement_id
from st2lite.executions import Execution, ExecutionFilter
from st2lite.redisdb import Redis
from st2lite.registry import RegistryStore
from st2lite.rules import Rule
from st2lite.rules_engine import SMALL_BATCH, RulesEngine
from st2lite.scheduler import Scheduler
from st2lite.statuses import ExecutionStatus
from st2lite.triggers import ACTION_TRIGGER, KV_VALUE_CHANGE_TRIGGER, WEBHOOK_TRIGGER
from st2lite.worker import build_runtime, run_execution

pytestmark = pytest.mark.redis

LOCAL = Action(
    name="local",
    pack="core",
    runner_type="local-shell-cmd",
    parameters={"cmd": ParameterSpec(type="string", required=True)},
)
NOOP = Action(name="noop", pack="core", runner_type="noop")
COUNTER = Action(
    name="count",
    pack="site",
    runner_type="noop",
    parameters={"count": ParameterSpec(type="integer", required=True)},
)


def webhook_rule(name: str, criteria: dict[str, Any], action: dict[str, Any], **extra: Any) -> Rule:
    return Rule.model_validate(
        {
            "name": name,
            "pack": "site",
            "enabled": True,
            "trigger": {"type": WEBHOOK_TRIGGER, "parameters": {"url": "hook"}},
            "criteria": criteria,
            "action": action,
            **extra,
        }
    )


class Pipeline:
    """The three stages, run step by step so tests can look in between."""

    def __init__(self, settings: Settings, client: Redis) -> None:
        self.settings = settings
        self.client = client
        self.dispatcher = TriggerDispatcher(settings, client)
        self.engine = RulesEngine(settings, client, name="engine-test")
        self.scheduler = Scheduler(settings, client, settings.redis_url, name="scheduler-test")
        self.worker = build_runtime(settings, settings.redis_url, name="worker-test")

    def register(self, *rules: Rule, actions: tuple[Action, ...] = (LOCAL, NOOP, COUNTER)) -> None:
        RegistryStore(self.client).register(
            ContentSet(actions=actions, rules=rules), audit=AuditLog(self.client, maxlen=10_000), actor="test"
        )

    def webhook(self, body: Any) -> str:
        payload = {"headers": {}, "headers_lower": {}, "body": body}
        return self.dispatcher.dispatch(WEBHOOK_TRIGGER, payload, parameters={"url": "hook"}, actor="test").id

    def run_all(self) -> list[Execution]:
        """Process the bus, schedule, and run every scheduled execution; return all executions."""
        self.engine.drain()
        self.scheduler.drain()
        for execution in self.executions():
            if execution.status is ExecutionStatus.SCHEDULED:
                run_execution(self.worker, execution.id)
        return self.executions()

    def executions(self) -> list[Execution]:
        items, _total = self.engine.executions.search(ExecutionFilter(), limit=1000)
        return items


@pytest.fixture
def pipeline(settings: Settings, redis_client: Redis) -> Iterator[Pipeline]:
    yield Pipeline(settings, redis_client)


def test_a_matching_webhook_runs_the_action_and_records_every_step(pipeline: Pipeline) -> None:
    pipeline.register(
        webhook_rule(
            "greet",
            {"trigger.body.name": {"type": "equals", "pattern": "st2"}},
            {"ref": "core.local", "parameters": {"cmd": "echo hello {{ trigger.body.name }}"}},
        )
    )
    instance_id = pipeline.webhook({"name": "st2"})

    [execution] = pipeline.run_all()

    assert execution.status is ExecutionStatus.SUCCEEDED
    assert execution.result["stdout"] == "hello st2"
    assert execution.rule == "site.greet"
    assert execution.trigger_instance == instance_id
    assert [c.status for c in execution.log] == ["requested", "scheduled", "running", "succeeded"]
    enforcement = EnforcementStore(pipeline.client, ttl=60).get(enforcement_id(instance_id, "site.greet"))
    assert enforcement is not None
    assert enforcement.status is EnforcementStatus.SUCCEEDED
    assert enforcement.execution == execution.id
    kinds = [e.kind for e in AuditLog(pipeline.client, maxlen=10_000).read() if e.kind != AuditKind.PACK_REGISTERED]
    assert kinds[:4] == [
        AuditKind.TRIGGER_RECEIVED,
        AuditKind.RULE_MATCHED,
        AuditKind.EXECUTION_CREATED,
        AuditKind.EXECUTION_STATUS,
    ]
    statuses = [e.status for e in AuditLog(pipeline.client, maxlen=10_000).read() if e.execution == execution.id]
    assert statuses == [None, "requested", "scheduled", "running", "succeeded"]


def test_a_trickle_is_scheduled_by_the_engine_and_a_flood_by_the_scheduler(pipeline: Pipeline) -> None:
    pipeline.register(
        webhook_rule("fixed", {}, {"ref": "core.noop"}),
        webhook_rule("rendered", {}, {"ref": "site.count", "parameters": {"count": "{{ trigger.body.i }}"}}),
    )
    jobs = pipeline.scheduler.jobs

    pipeline.webhook({"i": 0})
    pipeline.engine.drain()
    trickle = pipeline.executions()
    assert len(trickle) == 2
    assert {e.status for e in trickle} == {ExecutionStatus.SCHEDULED}
    assert sorted(jobs.queued_ids()) == sorted(e.id for e in trickle)
    assert pipeline.client.xlen(keys.REQUEST_STREAM) == 0

    for i in range(1, SMALL_BATCH + 1):
        pipeline.webhook({"i": i})
    pipeline.engine.drain()
    flood = [e for e in pipeline.executions() if e not in trickle]
    assert len(flood) == 2 * SMALL_BATCH
    assert {e.status for e in flood} == {ExecutionStatus.REQUESTED}
    assert pipeline.client.xlen(keys.REQUEST_STREAM) == 2 * SMALL_BATCH
    assert len(jobs) == 2

    assert pipeline.scheduler.drain() == 2 * SMALL_BATCH
    everything = pipeline.executions()
    assert sorted(jobs.queued_ids()) == sorted(e.id for e in everything)
    for execution in everything:
        assert execution.status is ExecutionStatus.SCHEDULED
        assert [c.status for c in execution.log] == ["requested", "scheduled"]
        statuses = [e.status for e in AuditLog(pipeline.client, maxlen=10_000).read() if e.execution == execution.id]
        assert statuses == [None, "requested", "scheduled"]
    counts = sorted(e.parameters["count"] for e in everything if e.rule == "site.rendered")
    assert counts == list(range(SMALL_BATCH + 1))


def test_a_non_matching_webhook_is_recorded_but_starts_nothing(pipeline: Pipeline) -> None:
    pipeline.register(
        webhook_rule(
            "greet",
            {"trigger.body.name": {"type": "equals", "pattern": "st2"}},
            {"ref": "core.noop"},
        )
    )
    instance_id = pipeline.webhook({"name": "someone else"})

    assert pipeline.run_all() == []
    record = pipeline.client.get(keys.trigger_instance(instance_id))
    assert record is not None and '"status":"processed"' in record
    assert pipeline.client.xpending(keys.TRIGGER_STREAM, keys.TRIGGER_GROUP)["pending"] == 0


def test_the_finished_execution_emits_the_action_trigger_that_other_rules_match(pipeline: Pipeline) -> None:
    follow_up = Rule.model_validate(
        {
            "name": "on_failure",
            "pack": "site",
            "enabled": True,
            "trigger": {"type": ACTION_TRIGGER},
            "criteria": {
                "trigger.status": {"type": "equals", "pattern": "failed"},
                "trigger.action_ref": {"type": "equals", "pattern": "core.local"},
            },
            "action": {"ref": "core.local", "parameters": {"cmd": "echo {{ trigger.execution_id }} failed"}},
        }
    )
    pipeline.register(
        webhook_rule("fail", {}, {"ref": "core.local", "parameters": {"cmd": "exit 1"}}),
        follow_up,
    )
    pipeline.webhook({})
    [failed] = pipeline.run_all()
    assert failed.status is ExecutionStatus.FAILED

    executions = pipeline.run_all()  # processes the action trigger the worker emitted

    notify = next(e for e in executions if e.rule == "site.on_failure")
    assert notify.status is ExecutionStatus.SUCCEEDED
    assert notify.result["stdout"] == f"{failed.id} failed"
    assert notify.trigger == ACTION_TRIGGER


def test_backstop_rules_run_only_when_no_standard_rule_matched(pipeline: Pipeline) -> None:
    pipeline.register(
        webhook_rule("known", {"trigger.body.kind": {"type": "equals", "pattern": "known"}}, {"ref": "core.noop"}),
        webhook_rule("fallback", {}, {"ref": "core.noop"}, type={"ref": "backstop"}),
    )
    pipeline.webhook({"kind": "known"})
    pipeline.webhook({"kind": "surprise"})

    rules = sorted(e.rule or "" for e in pipeline.run_all())

    assert rules == ["site.fallback", "site.known"]


def test_criteria_that_raise_leave_a_failed_enforcement_with_the_reason(pipeline: Pipeline) -> None:
    pipeline.register(
        webhook_rule("compare", {"trigger.body.size": {"type": "lessthan", "pattern": 10}}, {"ref": "core.noop"})
    )
    instance_id = pipeline.webhook({"size": "big"})

    assert pipeline.run_all() == []
    enforcement = EnforcementStore(pipeline.client, ttl=60).get(enforcement_id(instance_id, "site.compare"))
    assert enforcement is not None
    assert enforcement.status is EnforcementStatus.FAILED
    assert enforcement.failure_reason is not None
    assert "criteria could not be evaluated" in enforcement.failure_reason
    assert "trigger.body.size" in enforcement.failure_reason


def test_parameters_that_cannot_be_rendered_fail_the_execution_and_the_enforcement(pipeline: Pipeline) -> None:
    pipeline.register(
        webhook_rule("typo", {}, {"ref": "core.local", "parameters": {"cmd": "echo {{ trigger.body.nope }}"}}),
        webhook_rule("bad_type", {}, {"ref": "site.count", "parameters": {"count": "{{ trigger.body.word }}"}}),
    )
    instance_id = pipeline.webhook({"word": "many"})

    executions = {e.rule: e for e in pipeline.run_all()}

    typo = executions["site.typo"]
    assert typo.status is ExecutionStatus.FAILED
    assert "nope" in typo.result["error"]
    bad_type = executions["site.bad_type"]
    assert bad_type.status is ExecutionStatus.FAILED
    assert bad_type.result["error"] == "parameter 'count' expects integer, got 'many'"
    store = EnforcementStore(pipeline.client, ttl=60)
    for rule in ("site.typo", "site.bad_type"):
        enforcement = store.get(enforcement_id(instance_id, rule))
        assert enforcement is not None and enforcement.status is EnforcementStatus.FAILED
        assert enforcement.execution == executions[rule].id


def test_rendered_parameters_are_cast_to_the_declared_type_and_read_the_datastore(pipeline: Pipeline) -> None:
    KeyValueStore.for_settings(pipeline.client, pipeline.settings, actor="test").set("greeting", "bonjour")
    pipeline.register(
        webhook_rule("count", {}, {"ref": "site.count", "parameters": {"count": "{{ trigger.body.n }}"}}),
        webhook_rule(
            "kv",
            {"trigger.body.lang": {"type": "equals", "pattern": "{{ st2kv.system.lang }}"}},
            {"ref": "core.local", "parameters": {"cmd": "echo {{ st2kv.system.greeting }}{{ st2kv.system.missing }}"}},
        ),
    )
    pipeline.webhook({"n": "42", "lang": ""})

    executions = {e.rule: e for e in pipeline.run_all()}

    assert executions["site.count"].parameters == {"count": 42}
    assert executions["site.kv"].result["stdout"] == "bonjour"


def test_a_datastore_change_fires_a_rule_whose_action_decrypts_a_secret(pipeline: Pipeline) -> None:
    generate_key_file(pipeline.settings.datastore_key_path)
    store = KeyValueStore.for_settings(pipeline.client, pipeline.settings, actor="test")
    store.set("pw", "hunter2", secret=True)
    store.set("watched", "old")
    rule = Rule.model_validate(
        {
            "name": "on_change",
            "pack": "site",
            "enabled": True,
            "trigger": {"type": KV_VALUE_CHANGE_TRIGGER},
            "criteria": {"trigger.new_object.name": {"type": "equals", "pattern": "watched"}},
            "action": {
                "ref": "core.local",
                "parameters": {
                    "cmd": "echo {{ trigger.old_object.value }}-{{ trigger.new_object.value }} "
                    "{{ st2kv.system.pw | decrypt_kv }} {{ st2kv.system.pw == 'hunter2' }}"
                },
            },
        }
    )
    pipeline.register(rule)
    store.set("other", "x")
    store.set("other", "y")  # a value_change the criteria do not match
    store.set("watched", "new")

    executions = pipeline.run_all()

    assert [e.result["stdout"] for e in executions] == ["old-new hunter2 False"]


def test_an_action_removed_from_the_registry_fails_the_enforcement(pipeline: Pipeline) -> None:
    rule = webhook_rule("orphan", {}, {"ref": "site.count", "parameters": {"count": 1}})
    pipeline.register(rule, actions=(LOCAL, NOOP))
    instance_id = pipeline.webhook({})

    assert pipeline.run_all() == []
    enforcement = EnforcementStore(pipeline.client, ttl=60).get(enforcement_id(instance_id, "site.orphan"))
    assert enforcement is not None
    assert enforcement.failure_reason is not None and "site.count" in enforcement.failure_reason


def test_a_disabled_rule_does_not_fire_and_a_re_registered_one_does_without_restart(pipeline: Pipeline) -> None:
    enabled = webhook_rule("toggle", {}, {"ref": "core.noop"})
    disabled = enabled.model_copy(update={"enabled": False})
    pipeline.register(disabled)
    pipeline.webhook({})
    assert pipeline.run_all() == []

    pipeline.register(enabled)
    pipeline.engine.registry._checked = 0.0  # the cache re-reads the version at most every 0.5 s
    pipeline.webhook({})

    assert [e.rule for e in pipeline.run_all()] == ["site.toggle"]


def test_secret_parameters_are_masked_in_the_record_and_given_in_clear_to_the_action(pipeline: Pipeline) -> None:
    secret_action = Action(
        name="secret_echo",
        pack="site",
        runner_type="local-shell-cmd",
        parameters={
            "token": ParameterSpec(type="string", secret=True, required=True),
            "cmd": ParameterSpec(default="echo token-{{ token }}", immutable=True),
        },
    )
    pipeline.register(
        webhook_rule("secret", {}, {"ref": "site.secret_echo", "parameters": {"token": "{{ trigger.body.t }}"}}),
        actions=(LOCAL, NOOP, secret_action),
    )
    pipeline.webhook({"t": "s3cr3t"})

    [execution] = pipeline.run_all()

    assert execution.status is ExecutionStatus.SUCCEEDED
    assert execution.parameters["token"] == "********"
    assert execution.result["stdout"] == "token-s3cr3t"
    assert pipeline.engine.executions.secrets(execution.id) == {}  # dropped once the execution ended
    audit_text = "".join(str(e.model_dump()) for e in AuditLog(pipeline.client, maxlen=10_000).read())
    assert "s3cr3t" not in audit_text.replace("token-s3cr3t", "")


def test_no_action_trigger_is_emitted_when_no_rule_listens_unless_asked(
    settings: Settings, redis_client: Redis
) -> None:
    quiet = Pipeline(settings, redis_client)
    quiet.register(webhook_rule("noop", {}, {"ref": "core.noop"}))
    quiet.webhook({})
    quiet.run_all()
    emitted = [f for _, f in redis_client.xrange(keys.TRIGGER_STREAM) if ACTION_TRIGGER in f["t"]]
    assert emitted == []

    loud = Pipeline(settings.model_copy(update={"action_trigger_unwatched": True}), redis_client)
    loud.webhook({})
    loud.run_all()
    emitted = [f for _, f in redis_client.xrange(keys.TRIGGER_STREAM) if ACTION_TRIGGER in f["t"]]
    assert len(emitted) == 1


def _stored_shape(client: Redis, execution_id: str) -> dict[str, Any]:
    import orjson

    fields = client.hgetall(keys.execution(execution_id))
    doc = orjson.loads(fields["doc"])
    return {
        "fields": sorted(fields),
        "doc": sorted(doc),
        "context": sorted(doc["context"]),
        "ttl_set": client.ttl(keys.execution(execution_id)) > 0,
        "indexes": sorted(
            k.rsplit(":", 1)[0] for k in client.keys(f"{keys.PREFIX}:executions:*") if client.zscore(k, execution_id)
        ),
    }


def test_recorded_firings_store_the_same_records_as_rendered_ones(pipeline: Pipeline) -> None:
    pipeline.register(
        webhook_rule("fixed", {}, {"ref": "core.local", "parameters": {"cmd": "echo fixed"}}),
        webhook_rule("rendered", {}, {"ref": "core.local", "parameters": {"cmd": "echo {{ trigger.body.x }}"}}),
    )
    payload = {"headers": {}, "headers_lower": {}, "body": {"x": "rendered"}}
    instance = pipeline.dispatcher.dispatch(
        WEBHOOK_TRIGGER, payload, parameters={"url": "hook"}, trace_tag='tag "with" quotes', actor="test"
    )
    pipeline.engine.drain()

    executions = {e.rule: e for e in pipeline.executions()}
    fixed, rendered = executions["site.fixed"], executions["site.rendered"]
    assert _stored_shape(pipeline.client, fixed.id) == _stored_shape(pipeline.client, rendered.id)
    assert fixed.context["trace_context"] == {"trace_tag": 'tag "with" quotes'}
    assert fixed.context == {**rendered.context, "rule": fixed.context["rule"]}
    assert fixed.trigger_instance == rendered.trigger_instance == instance.id
    store = EnforcementStore(pipeline.client, ttl=60)
    first = store.get(enforcement_id(instance.id, "site.fixed"))
    second = store.get(enforcement_id(instance.id, "site.rendered"))
    assert first is not None and second is not None
    assert first.model_dump(exclude={"id", "rule", "execution", "enforced_at"}) == second.model_dump(
        exclude={"id", "rule", "execution", "enforced_at"}
    )
    assert first.enforced_at == fixed.created_at
    audit = [e for e in AuditLog(pipeline.client, maxlen=10_000).read() if e.execution == fixed.id]
    assert [(e.kind, e.at) for e in audit] == [
        (AuditKind.RULE_MATCHED, fixed.created_at),
        (AuditKind.EXECUTION_CREATED, fixed.created_at),
        (AuditKind.EXECUTION_STATUS, fixed.created_at),
    ]
    # Both were queued for a worker once the batch was written.
    assert sorted(pipeline.scheduler.jobs.queued_ids()) == sorted([fixed.id, rendered.id])


def test_a_rule_containing_the_placeholder_marker_still_fires_correctly(pipeline: Pipeline) -> None:
    odd = "echo \u0091" + "1\u0092"
    pipeline.register(webhook_rule("odd", {}, {"ref": "core.local", "parameters": {"cmd": odd}}))
    pipeline.webhook({})

    [execution] = pipeline.run_all()

    assert execution.parameters["cmd"] == odd


def test_an_action_default_containing_the_placeholder_marker_still_fires_correctly(pipeline: Pipeline) -> None:
    odd = "echo \u0091" + "2\u0092"
    action = Action(
        name="odd_default",
        pack="site",
        runner_type="local-shell-cmd",
        parameters={"cmd": ParameterSpec(type="string", default=odd)},
    )
    pipeline.register(webhook_rule("odd", {}, {"ref": "site.odd_default"}), actions=(LOCAL, NOOP, action))
    pipeline.webhook({})

    [execution] = pipeline.run_all()

    assert execution.parameters["cmd"] == odd


def test_a_scheduled_execution_whose_job_was_lost_is_enqueued_again_once(pipeline: Pipeline) -> None:
    pipeline.register(webhook_rule("lost", {}, {"ref": "core.noop"}))
    pipeline.webhook({})
    pipeline.engine.drain()
    pipeline.scheduler.drain()
    [execution] = pipeline.executions()
    assert execution.status is ExecutionStatus.SCHEDULED
    # What a worker killed right after RQ handed it the job leaves, or an engine killed between writing
    # the execution and queuing its job.
    pipeline.scheduler.jobs.empty()

    assert pipeline.scheduler.requeue_lost(older_than=0) == [execution.id]
    assert pipeline.scheduler.requeue_lost(older_than=0) == []  # its job waits now: not enqueued twice
    assert len(pipeline.scheduler.jobs) == 1

    run_execution(pipeline.worker, execution.id)
    assert pipeline.engine.executions.get(execution.id).status is ExecutionStatus.SUCCEEDED


def test_recent_scheduled_executions_are_left_alone(pipeline: Pipeline) -> None:
    pipeline.register(webhook_rule("fresh", {}, {"ref": "core.noop"}))
    pipeline.webhook({})
    pipeline.engine.drain()
    pipeline.scheduler.drain()
    pipeline.scheduler.jobs.empty()

    assert pipeline.scheduler.requeue_lost(older_than=3600) == []


def test_enforcements_are_listed_newest_first_from_the_trigger_instance_records(pipeline: Pipeline) -> None:
    pipeline.register(
        webhook_rule("ok", {}, {"ref": "core.noop"}),
        webhook_rule("broken", {"trigger.body.n": {"type": "lessthan", "pattern": 1}}, {"ref": "core.noop"}),
    )
    first = pipeline.webhook({"n": "text"})
    second = pipeline.webhook({"n": "more text"})
    pipeline.engine.drain()
    store = EnforcementStore(pipeline.client, ttl=60)

    listed = store.search(rule="site.ok")
    everything = store.search(limit=10)
    of_first = store.for_trigger_instance(first)

    assert [e.trigger_instance for e in listed] == [second, first]
    assert all(e.status is EnforcementStatus.SUCCEEDED and e.execution for e in listed)
    assert sorted((e.rule, e.status.value) for e in everything) == [
        ("site.broken", "failed"),
        ("site.broken", "failed"),
        ("site.ok", "succeeded"),
        ("site.ok", "succeeded"),
    ]
    assert {e.rule for e in of_first} == {"site.ok", "site.broken"}
    assert store.get(enforcement_id("nope", "site.ok")) is None
