"""Timers on a real Redis: one fire per tick, leader failover between processes, rules coming and going.

Engines run with a 1-second lease and a 50 ms loop; every wait is on a
condition with a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, wait_for

from st2lite import keys
from st2lite.audit import AuditKind, AuditLog
from st2lite.bus.redis import FIELD
from st2lite.config import Settings
from st2lite.processes import die_with_parent
from st2lite.redisdb import Redis
from st2lite.registration import register_from_disk
from st2lite.registry import RegistryStore
from st2lite.sensors.timer_engine import TimerEngine, timer_status
from st2lite.sensors.triggers import trigger_id
from st2lite.triggers import CRON_TIMER, INTERVAL_TIMER, TriggerInstance

LEASE = 1.0
LOOP = 0.05
EVERY_SECOND = {"unit": "seconds", "delta": 1}


@pytest.fixture
def timer_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"timer_lease_seconds": LEASE, "timer_loop_interval": LOOP})


def write_pack(folder: Path, rules: dict[str, tuple[str, dict[str, Any], bool]]) -> Path:
    """Pack ``tp`` under ``folder`` with one rule per entry: name -> (trigger type, parameters, enabled)."""
    pack = folder / "tp"
    (pack / "rules").mkdir(parents=True, exist_ok=True)
    (pack / "pack.yaml").write_text("name: tp\ndescription: timers\nversion: 0.1.0\nauthor: tests\n")
    for old in (pack / "rules").iterdir():
        old.unlink()
    for name, (trigger_type, parameters, enabled) in rules.items():
        lines = "".join(f"    {key}: {value!r}\n" for key, value in parameters.items())
        (pack / "rules" / f"{name}.yaml").write_text(
            f"name: {name}\nenabled: {str(enabled).lower()}\ntrigger:\n  type: {trigger_type}\n"
            f"  parameters:\n{lines}action:\n  ref: core.noop\n"
        )
    return pack


def register(settings: Settings, client: Redis, pack: Path) -> int:
    report, version = register_from_disk(settings, client, [pack], actor="test")
    assert not report.problems, [str(p) for p in report.problems]
    return version


def fired(client: Redis, trigger: str | None = None) -> list[TriggerInstance]:
    """The timer instances in the trigger stream, oldest first (of timer ``trigger`` when given)."""
    out = []
    for _eid, fields in client.xrange(keys.TRIGGER_STREAM):
        instance = TriggerInstance.model_validate_json(fields[FIELD])
        if trigger is None or trigger_id(instance.trigger, instance.parameters) == trigger:
            out.append(instance)
    return out


def ticks(instances: list[TriggerInstance]) -> list[datetime]:
    return [datetime.fromisoformat(i.payload["executed_at"]) for i in instances]


def assert_every_second(moments: list[datetime]) -> None:
    assert len(set(moments)) == len(moments), f"a tick fired twice: {moments}"
    gaps = [b - a for a, b in zip(moments, moments[1:], strict=False)]
    assert all(gap == timedelta(seconds=1) for gap in gaps), f"ticks missing or early: {moments}"


@pytest.fixture
def engine(timer_settings: Settings, redis_client: Redis) -> Iterator[TimerEngine]:
    """One engine in a thread of this process."""
    stop = threading.Event()
    timers = TimerEngine(timer_settings, redis_client, "t1")
    thread = threading.Thread(target=timers.run, args=(stop,), daemon=True)
    thread.start()
    yield timers
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_one_engine_fires_each_tick_once_into_the_trigger_stream(
    engine: TimerEngine, timer_settings: Settings, redis_client: Redis, tmp_path: Path
) -> None:
    register(timer_settings, redis_client, write_pack(tmp_path, {"tick": (INTERVAL_TIMER, EVERY_SECOND, True)}))
    timer = trigger_id(INTERVAL_TIMER, EVERY_SECOND)
    instances = wait_for(lambda: (got := fired(redis_client)) and len(got) >= 3 and got, "three ticks")
    assert_every_second(ticks(instances))
    first = instances[0]
    assert first.trigger == INTERVAL_TIMER
    assert first.parameters == EVERY_SECOND
    assert first.payload["schedule"] is None
    assert first.trace_tag == f"st2.IntervalTimer-st2.IntervalTimer.{timer}"
    assert first.source == "timers:t1"
    # The rules engine's matcher finds the rule for each instance.
    ruleset = RegistryStore(redis_client).load().ruleset
    assert all([o.rule.full_ref for o in ruleset.match(i)] == ["tp.tick"] for i in instances)
    # Each instance has its audit event, as RedisBus.publish_in writes them.
    received = {
        e.trigger_instance for e in AuditLog(redis_client, maxlen=1000).read() if e.kind is AuditKind.TRIGGER_RECEIVED
    }
    assert {i.id for i in instances} <= received
    # The state the API can show.
    (status,) = timer_status(redis_client)
    assert status["id"] == timer and status["type"] == INTERVAL_TIMER
    assert status["last_instance"] in {i.id for i in fired(redis_client)}
    assert status["next_at"] > status["last_at"]


def test_disabled_rule_stops_its_timer_and_a_changed_schedule_restarts(
    engine: TimerEngine, timer_settings: Settings, redis_client: Redis, tmp_path: Path
) -> None:
    beat_parameters = {"cron": "* * * * * *"}  # every second, keeps the engine's progress visible
    beat = trigger_id(CRON_TIMER, beat_parameters)
    tick = trigger_id(INTERVAL_TIMER, EVERY_SECOND)
    rules: dict[str, tuple[str, dict[str, Any], bool]] = {
        "beat": (CRON_TIMER, beat_parameters, True),
        "tick": (INTERVAL_TIMER, EVERY_SECOND, True),
    }
    register(timer_settings, redis_client, write_pack(tmp_path, rules))
    wait_for(lambda: fired(redis_client, tick), "the interval timer's first tick")

    rules["tick"] = (INTERVAL_TIMER, EVERY_SECOND, False)
    register(timer_settings, redis_client, write_pack(tmp_path, rules))
    wait_for(lambda: not redis_client.exists(keys.timer_state(tick)), "the disabled timer's state to go")
    assert tick not in redis_client.smembers(keys.TIMERS_ALL)
    count = len(fired(redis_client, tick))
    beats = len(fired(redis_client, beat))
    wait_for(lambda: len(fired(redis_client, beat)) >= beats + 2, "two more beats")
    assert len(fired(redis_client, tick)) == count

    every_two = {"unit": "seconds", "delta": 2}
    rules["tick"] = (INTERVAL_TIMER, every_two, True)
    register(timer_settings, redis_client, write_pack(tmp_path, rules))
    changed = trigger_id(INTERVAL_TIMER, every_two)
    got = wait_for(lambda: (f := fired(redis_client, changed)) and len(f) >= 2 and f, "two ticks of the new schedule")
    first, second = ticks(got)[:2]
    assert second - first == timedelta(seconds=2)


def test_a_stored_schedule_of_another_spec_restarts(
    engine: TimerEngine, timer_settings: Settings, redis_client: Redis, tmp_path: Path
) -> None:
    register(timer_settings, redis_client, write_pack(tmp_path, {"tick": (INTERVAL_TIMER, EVERY_SECOND, True)}))
    timer = trigger_id(INTERVAL_TIMER, EVERY_SECOND)
    state = keys.timer_state(timer)
    fingerprint = wait_for(lambda: redis_client.hget(state, "fingerprint"), "the timer's schedule")
    # As if an older st2lite (another fingerprint) had stored a tick due long ago.
    redis_client.hset(state, mapping={"fingerprint": "older", "next": "1000"})
    wait_for(lambda: redis_client.hget(state, "fingerprint") == fingerprint, "the schedule to restart")
    assert redis_client.hget(state, "next") != "1000"
    wait_for(lambda: fired(redis_client, timer), "a tick of the fresh schedule")
    assert all(t.year > 1970 for t in ticks(fired(redis_client, timer)))


# --- several engines ----------------------------------------------------------------------------------


def start_engine(settings: Settings, name: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ST2LITE_")}
    env.update(
        ST2LITE_HOME=str(settings.home),
        ST2LITE_REDIS_URL=settings.redis_url,
        ST2LITE_TIMER_LEASE_SECONDS=str(LEASE),
        ST2LITE_TIMER_LOOP_INTERVAL=str(LOOP),
        ST2LITE_LOG_LEVEL="WARNING",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "st2lite.sensors.timer_engine", name],
        cwd=REPO,
        env=env,
        preexec_fn=die_with_parent,
    )


def test_two_engines_fire_once_per_tick_and_the_survivor_takes_over(
    timer_settings: Settings, redis_client: Redis, tmp_path: Path
) -> None:
    register(timer_settings, redis_client, write_pack(tmp_path, {"tick": (INTERVAL_TIMER, EVERY_SECOND, True)}))
    timer = trigger_id(INTERVAL_TIMER, EVERY_SECOND)
    engines = {name: start_engine(timer_settings, name) for name in ("e1", "e2")}
    try:
        before = wait_for(lambda: (f := fired(redis_client)) and len(f) >= 4 and f, "four ticks", deadline=30)
        assert_every_second(ticks(before))
        leader = redis_client.get(keys.TIMER_LEADER).partition(":")[0]
        survivor = next(name for name in engines if name != leader)

        engines[leader].send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        engines[leader].wait(timeout=10)
        due = datetime.fromisoformat(redis_client.hget(keys.timer_state(timer), "next_at")).replace(tzinfo=None)

        def due_fired() -> list[TriggerInstance]:
            return [i for i in fired(redis_client) if ticks([i])[0] == due]

        (takeover,) = wait_for(due_fired, "the tick due when the leader died", deadline=15)
        took = time.monotonic() - killed_at
        # The due tick fires once, by the survivor, within the lease (with slack for a busy host).
        assert takeover.source == f"timers:{survivor}"
        assert took < LEASE + LOOP + 3.0, f"takeover took {took:.2f}s"
        wait_for(lambda: len([t for t in ticks(fired(redis_client)) if t > due]) >= 2, "the survivor to go on")
        moments = ticks(fired(redis_client))
        assert len(set(moments)) == len(moments), f"a tick fired twice: {moments}"
        assert moments == sorted(moments)
        # Up to the takeover nothing is missing: the ticks run on, one a second, into the due one.
        assert_every_second([t for t in moments if t <= due])
        assert {i.source for i in fired(redis_client) if ticks([i])[0] > due} == {f"timers:{survivor}"}

        engines[survivor].send_signal(signal.SIGTERM)
        assert engines[survivor].wait(timeout=10) == 0
        assert redis_client.get(keys.TIMER_LEADER) is None  # released on a clean stop
    finally:
        for process in engines.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


# --- registration -------------------------------------------------------------------------------------


def test_invalid_timer_rules_are_rejected_at_registration_and_nothing_else_is_lost(
    timer_settings: Settings, redis_client: Redis, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    first = write_pack(other, {"kept": (INTERVAL_TIMER, EVERY_SECOND, True)})
    first.rename(other / "keep")
    (other / "keep" / "pack.yaml").write_text("name: keep\ndescription: k\nversion: 0.1.0\nauthor: tests\n")
    register(timer_settings, redis_client, other / "keep")

    pack = write_pack(
        tmp_path,
        {
            "good": (CRON_TIMER, {"cron": "*/5 * * * *"}, True),
            "bad_cron": (CRON_TIMER, {"cron": "*/5 * * *"}, True),
            "bad_field": (CRON_TIMER, {"hours": 9}, True),
            "bad_zone": (INTERVAL_TIMER, {**EVERY_SECOND, "timezone": "Mars/Olympus"}, True),
            "bad_date": (  # a string the engine could not read
                "core.st2.DateTimer",
                {"date": "soon"},
                True,
            ),
        },
    )
    report, _version = register_from_disk(timer_settings, redis_client, [pack], actor="test")
    problems = {Path(p.path).name: (p.line, p.field, p.message) for p in report.problems}
    assert problems == {
        "bad_cron.yaml": (
            6,
            "trigger.parameters.cron",
            "'*/5 * * *' has 4 fields; write 5 (minute hour day month day_of_week) or 6 (second first), "
            "e.g. '*/5 * * * *' (rule 'tp.bad_cron', trigger type 'core.st2.CronTimer')",
        ),
        "bad_field.yaml": (
            6,
            "trigger.parameters.hours",
            "unknown parameter of core.st2.CronTimer; did you mean 'hour'? "
            "(rule 'tp.bad_field', trigger type 'core.st2.CronTimer')",
        ),
        "bad_zone.yaml": (
            8,
            "trigger.parameters.timezone",
            "unknown time zone 'Mars/Olympus'; use an IANA name such as 'UTC', 'Europe/Paris' or "
            "'America/New_York' (rule 'tp.bad_zone', trigger type 'core.st2.IntervalTimer')",
        ),
        "bad_date.yaml": (
            6,
            "trigger.parameters.date",
            "'soon' is not an ISO 8601 date and time; write e.g. '2026-12-24 18:00:00' (read in 'timezone') "
            "or '2026-12-24T18:00:00+01:00' (rule 'tp.bad_date', trigger type 'core.st2.DateTimer')",
        ),
    }
    registered = RegistryStore(redis_client).load().content
    assert "tp.good" in registered.rules
    assert not {"tp.bad_cron", "tp.bad_field", "tp.bad_zone", "tp.bad_date"} & set(registered.rules)
    assert "keep.kept" in registered.rules  # the pack registered before is untouched


def test_registration_problem_text_names_file_rule_and_parameter(tmp_path: Path) -> None:
    from st2lite.packs import PackSource, load_all
    from st2lite.registration import BUILTIN_PACKS_DIR

    pack = write_pack(tmp_path, {"every": (CRON_TIMER, {"minute": "*/0"}, True)})
    report = load_all([PackSource(path=BUILTIN_PACKS_DIR / "core", builtin=True), PackSource(path=pack)])
    assert [str(p) for p in report.problems] == [
        f"{pack}/rules/every.yaml:6: field 'trigger.parameters.minute': '*/0': the step after '/' must be a "
        "whole number of 1 or more (rule 'tp.every', trigger type 'core.st2.CronTimer')"
    ]
    assert "tp.every" not in report.content.rules
