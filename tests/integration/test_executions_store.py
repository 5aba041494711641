"""ExecutionStore: indexes, listing with filters, transitions and leases, against a real Redis."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from st2lite import keys
from st2lite.exceptions import ExecutionNotFoundError, InvalidTransitionError
from st2lite.executions import Execution, ExecutionFilter, ExecutionStore, StatusChange
from st2lite.redisdb import Redis
from st2lite.statuses import ExecutionStatus
from st2lite.triggers import ACTION_TRIGGER, TriggerInstance

pytestmark = pytest.mark.redis


@pytest.fixture
def store(redis_client: Redis) -> ExecutionStore:
    return ExecutionStore(redis_client, ttl=3600, audit_maxlen=10_000, trigger_maxlen=10_000, actor="test")


def add(store: ExecutionStore, client: Redis, n: int, *, created_ms: int, **fields: object) -> Execution:
    execution = Execution.model_validate(
        {
            "id": f"e{n:04d}",
            "action": "core.noop",
            "runner": "noop",
            "log": [StatusChange(status=ExecutionStatus.REQUESTED, timestamp="2026-01-01T00:00:00+00:00")],
            **fields,
        }
    )
    with client.pipeline(transaction=True) as pipe:
        store.create_in(pipe, execution, created_ms=created_ms)
        pipe.execute()
    return execution


def test_list_newest_first_with_one_filter_and_the_total(store: ExecutionStore, redis_client: Redis) -> None:
    now = int(time.time() * 1000)
    for n in range(10):
        add(store, redis_client, n, created_ms=now + n, action="core.local" if n % 2 else "core.noop")

    items, total = store.search(ExecutionFilter(action="core.local"), limit=3)

    assert [e.id for e in items] == ["e0009", "e0007", "e0005"]
    assert total == 5


def test_list_with_several_filters_intersects_the_indexes(store: ExecutionStore, redis_client: Redis) -> None:
    now = int(time.time() * 1000)
    for n in range(30):
        add(
            store,
            redis_client,
            n,
            created_ms=now + n,
            action="core.local" if n % 2 else "core.noop",
            rule="site.a" if n % 3 == 0 else "site.b",
        )

    items, total = store.search(ExecutionFilter(action="core.local", rule="site.a"), limit=2, offset=1)

    matching = [n for n in range(30) if n % 2 and n % 3 == 0]
    assert total == len(matching)
    assert [e.id for e in items] == [f"e{n:04d}" for n in sorted(matching, reverse=True)[1:3]]


def test_briefs_match_the_whole_executions_in_order_and_skip_the_gone(
    store: ExecutionStore, redis_client: Redis
) -> None:
    now = int(time.time() * 1000)
    for n in range(4):
        add(store, redis_client, n, created_ms=now + n, action="core.local" if n % 2 else "core.noop")
    store.transition("e0001", ExecutionStatus.SCHEDULED)
    redis_client.delete(keys.execution("e0002"))  # expired after the index was read

    ids, total = store.search_ids(ExecutionFilter(), limit=10)
    assert (ids, total) == (["e0003", "e0002", "e0001", "e0000"], 4)
    briefs = store.briefs(ids)

    whole = store.get_many(ids)
    assert [b.id for b in briefs] == [e.id for e in whole] == ["e0003", "e0001", "e0000"]
    for brief, execution in zip(briefs, whole, strict=True):
        assert (brief.action, brief.status, brief.created_at, brief.end_timestamp) == (
            execution.action,
            execution.status,
            execution.created_at,
            execution.end_timestamp,
        )
    assert briefs[1].status is ExecutionStatus.SCHEDULED


def test_time_window_and_ascending_order(store: ExecutionStore, redis_client: Redis) -> None:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    for n in range(5):
        add(store, redis_client, n, created_ms=int((base + timedelta(minutes=n)).timestamp() * 1000))

    flt = ExecutionFilter(since=base + timedelta(seconds=30), until=base + timedelta(minutes=4))
    items, total = store.search(flt, ascending=True)

    assert [e.id for e in items] == ["e0001", "e0002", "e0003"]
    assert total == 3


def test_top_level_executions_are_listed_with_parent_null(store: ExecutionStore, redis_client: Redis) -> None:
    now = int(time.time() * 1000)
    add(store, redis_client, 1, created_ms=now)
    add(store, redis_client, 2, created_ms=now + 1, parent="e0001")

    top, _ = store.search(ExecutionFilter(parent="null"))
    children, _ = store.search(ExecutionFilter(parent="e0001"))

    assert [e.id for e in top] == ["e0001"]
    assert [e.id for e in children] == ["e0002"]
    assert store.get("e0001").children == ["e0002"]


def test_expired_executions_drop_out_of_the_indexes(redis_client: Redis) -> None:
    store = ExecutionStore(redis_client, ttl=60, audit_maxlen=1000, trigger_maxlen=1000, actor="test")
    old = int((time.time() - 120) * 1000)
    add(store, redis_client, 1, created_ms=old)
    redis_client.delete(keys.execution("e0001"))  # what the key's TTL does
    add(store, redis_client, 2, created_ms=int(time.time() * 1000))

    items, total = store.search(ExecutionFilter())

    assert [e.id for e in items] == ["e0002"]
    assert total == 1


def test_transitions_follow_the_table_and_move_the_status_index(store: ExecutionStore, redis_client: Redis) -> None:
    add(store, redis_client, 1, created_ms=int(time.time() * 1000))

    previous = store.transition("e0001", ExecutionStatus.SCHEDULED)

    assert previous is ExecutionStatus.REQUESTED
    assert store.search(ExecutionFilter(status="scheduled"))[1] == 1
    assert store.search(ExecutionFilter(status="requested"))[1] == 0
    with pytest.raises(InvalidTransitionError) as caught:
        store.transition("e0001", ExecutionStatus.SUCCEEDED)
    assert str(caught.value) == "execution 'e0001' cannot go from 'scheduled' to 'succeeded'"
    assert store.get("e0001").status is ExecutionStatus.SCHEDULED


def test_a_transition_of_an_unknown_execution_says_so(store: ExecutionStore) -> None:
    with pytest.raises(ExecutionNotFoundError) as caught:
        store.transition("nope", ExecutionStatus.SCHEDULED)
    assert "execution 'nope' not found" in str(caught.value)


def test_the_lease_is_taken_when_running_and_dropped_when_done(store: ExecutionStore, redis_client: Redis) -> None:
    add(store, redis_client, 1, created_ms=int(time.time() * 1000))
    store.transition("e0001", ExecutionStatus.SCHEDULED)
    store.transition("e0001", ExecutionStatus.RUNNING, lease_until=time.time() - 1)

    assert store.expired_leases(time.time()) == ["e0001"]

    emit = TriggerInstance(trigger=ACTION_TRIGGER, payload={"execution_id": "e0001", "status": "succeeded"})
    store.transition("e0001", ExecutionStatus.SUCCEEDED, fields={"result": {"ok": True}}, emit=emit)

    assert store.expired_leases(time.time()) == []
    assert store.get("e0001").result == {"ok": True}
    [(_, fields)] = redis_client.xrange(keys.TRIGGER_STREAM)
    assert TriggerInstance.model_validate_json(fields["t"]).payload["execution_id"] == "e0001"


def test_maintenance_prunes_expired_index_entries_of_executions_and_enforcements(redis_client: Redis) -> None:
    from st2lite.enforcements import EnforcementStatus, EnforcementStore, RuleEnforcement
    from st2lite.maintenance import Maintenance

    store = ExecutionStore(redis_client, ttl=60, audit_maxlen=1000, trigger_maxlen=1000, actor="test")
    enforcements = EnforcementStore(redis_client, ttl=60)
    old = int((time.time() - 120) * 1000)
    add(store, redis_client, 1, created_ms=old, rule="site.r")
    with redis_client.pipeline(transaction=True) as pipe:
        enforcements.index_in(
            pipe,
            RuleEnforcement(
                id="t:site.r", rule="site.r", trigger_instance="t", trigger="x", status=EnforcementStatus.SUCCEEDED
            ),
            at_ms=old,
        )
        pipe.execute()

    dropped = Maintenance(store, enforcements).prune()

    assert dropped == 7  # all, status, action, rule, parent indexes + two enforcement indexes
    assert redis_client.zcard(keys.EXECUTIONS_ALL) == 0
    assert redis_client.zcard(keys.enforcement_index("rule", "site.r")) == 0
