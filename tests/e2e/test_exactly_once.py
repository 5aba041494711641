"""Exactly once: every (trigger instance, rule) pair gets one enforcement and one execution.

Two engines holding the same bus entries, and an engine killed mid-way whose
entries another one reclaims, must still produce exactly one of each.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from st2lite import keys
from st2lite.audit import AuditLog
from st2lite.bus import RedisBus
from st2lite.config import Settings
from st2lite.enforcements import EnforcementStore, enforcement_id
from st2lite.executions import ExecutionFilter
from st2lite.jobqueue import JobQueue
from st2lite.redisdb import Redis, connect
from st2lite.rules_engine import RulesEngine
from st2lite.streams import StreamGroup
from st2lite.triggers import WEBHOOK_TRIGGER, TriggerInstance

from .conftest import Procs, execution_store, register, wait_for, webhook_rule, write_rules

pytestmark = pytest.mark.e2e

#: Two rules on the same webhook, both running core.noop.
RULES = {"first": webhook_rule("burst", "core.noop"), "second": webhook_rule("burst", "core.noop")}
RULE_REFS = ("default.first", "default.second")


def _setup(settings: Settings, client: Redis, count: int) -> list[TriggerInstance]:
    """Register the two rules and publish ``count`` matching trigger instances (pipelined)."""
    write_rules(settings.site_dir, RULES)
    register(settings, client)
    instances = [
        TriggerInstance(
            trigger=WEBHOOK_TRIGGER,
            parameters={"url": "burst"},
            payload={"headers": {}, "headers_lower": {}, "body": {"i": i}},
        )
        for i in range(count)
    ]
    bus = RedisBus(client, maxlen=settings.trigger_stream_maxlen, audit=AuditLog(client, maxlen=100_000))
    bus.ensure_group()
    with client.pipeline(transaction=False) as pipe:
        for instance in instances:
            bus.publish_in(pipe, instance, actor="e2e")
        pipe.execute()
    return instances


def _recorded(client: Redis, instances: list[TriggerInstance]) -> int:
    """How many of ``instances`` have their trigger instance record (the engine's 'done' marker)."""
    return int(client.exists(*[keys.trigger_instance(i.id) for i in instances]))


def _queued(client: Redis) -> list[str]:
    return JobQueue(client).queued_ids()


def _pending(client: Redis) -> int:
    return StreamGroup(client, keys.TRIGGER_STREAM, keys.TRIGGER_GROUP, maxlen=100_000).pending()


def _assert_exactly_once(client: Redis, instances: list[TriggerInstance]) -> None:
    expected = {(i.id, rule) for i in instances for rule in RULE_REFS}
    store = execution_store(client)
    assert store.search(ExecutionFilter(), limit=1)[1] == len(expected)
    for rule in RULE_REFS:
        assert store.search(ExecutionFilter(rule=rule), limit=1)[1] == len(instances)
    executions = store.get_many(client.zrange(keys.EXECUTIONS_ALL, 0, -1))
    pairs = [(e.trigger_instance, e.rule) for e in executions]
    assert len(pairs) == len(expected)
    assert set(pairs) == expected

    eids = [enforcement_id(ti, rule) for ti, rule in sorted(expected)]
    assert client.zcard(keys.enforcement_index("all", "all")) == len(expected)
    found = [EnforcementStore(client, ttl=86_400).get(x) for x in eids]
    enforcements = {e.id: e for e in found if e is not None}
    assert {e.enforcement: e.id for e in executions} == {x: enforcements[x].execution for x in eids}

    assert sorted(_queued(client)) == sorted(e.id for e in executions)  # each execution's job queued once

    assert _recorded(client, instances) == len(instances)
    for raw in client.mget(keys.trigger_instance(i.id) for i in instances):
        record = orjson.loads(raw)
        assert record["status"] == "processed"
        assert sorted(x["rule"] for x in record["enforcements"]) == list(RULE_REFS)
    assert _pending(client) == 0


def test_an_entry_reclaimed_by_another_engine_is_enforced_once(settings: Settings, redis_url: str) -> None:
    client = connect(redis_url)
    instances = _setup(settings, client, 5)
    engine_a = RulesEngine(settings, connect(redis_url), name="a")
    engine_b = RulesEngine(settings, connect(redis_url), name="b")

    held_by_a = engine_a.bus.consume("a", count=100, block_ms=None)
    assert len(held_by_a) == 5
    reclaimed = wait_for(
        lambda: engine_b.bus.reclaim("b", min_idle_ms=100, count=100), what="engine b to reclaim a's entries"
    )
    assert [d.entry_id for d in reclaimed] == [d.entry_id for d in held_by_a]
    engine_b.process(reclaimed)
    engine_b.flush()
    engine_a.process(held_by_a)  # a was only slow: its copy must change nothing
    engine_a.flush()

    _assert_exactly_once(client, instances)


class _Interrupted(RulesEngine):
    """An engine that lets ``rival`` run once after it checked which entries are done, before it writes."""

    def __init__(self, settings: Settings, client: Redis, *, name: str, rival: Callable[[], None]) -> None:
        super().__init__(settings, client, name=name)
        self._rival: Callable[[], None] | None = rival

    def _enforce_one(self, *args: Any, **kwargs: Any) -> None:
        rival, self._rival = self._rival, None
        if rival is not None:
            rival()
        super()._enforce_one(*args, **kwargs)


def test_an_engine_that_loses_the_race_after_its_check_writes_nothing(settings: Settings, redis_url: str) -> None:
    client = connect(redis_url)
    instances = _setup(settings, client, 5)
    engine_b = RulesEngine(settings, connect(redis_url), name="b")

    def rival() -> None:
        engine_b.process(engine_b.bus.reclaim("b", min_idle_ms=0, count=100))
        engine_b.flush()
        assert _recorded(client, instances) == 5  # b committed while a holds its stale 'not done' view

    engine_a = _Interrupted(settings, connect(redis_url), name="a", rival=rival)
    held_by_a = engine_a.bus.consume("a", count=100, block_ms=None)
    engine_a.process(held_by_a)
    engine_a.flush()

    _assert_exactly_once(client, instances)


def test_an_engine_killed_mid_way_loses_nothing_and_duplicates_nothing(
    settings: Settings, redis_url: str, procs: Procs
) -> None:
    client = connect(redis_url)
    instances = _setup(settings, client, 2000)
    small_batches = {"ST2LITE_ENGINE_BATCH_SIZE": "50"}

    first = procs.service("rules", redis_url=redis_url, **small_batches)
    wait_for(lambda: _recorded(client, instances) >= 200, what="the first engine to get going", interval=0.002)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    done_when_killed = _recorded(client, instances)
    assert 0 < done_when_killed < len(instances), "the kill must land mid-way for this test to mean anything"
    assert _pending(client) > 0, "the killed engine should leave entries pending, for the next one to reclaim"

    second = procs.service("rules", redis_url=redis_url, **small_batches)
    wait_for(
        lambda: _recorded(client, instances) == len(instances) and _pending(client) == 0,
        what="the second engine to process every trigger instance",
        timeout=60,
    )
    # Executions the first engine wrote but was killed before queuing are queued again by the second's
    # scheduler once they are ST2LITE_ABANDON_AFTER old.
    total = len(instances) * len(RULE_REFS)
    wait_for(lambda: len(_queued(client)) >= total, what="every execution's job to be queued", timeout=30)
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=10) == 0, procs.output(second)

    _assert_exactly_once(client, instances)
