"""Sensor placement on a real Redis: leases, rebalancing, fencing, and two container processes with failover."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import orjson
from container_harness import make_pack, register, wait_for

from st2lite import keys
from st2lite.config import Settings
from st2lite.redisdb import Redis
from st2lite.sensors.placement import Placement, members

SENSORS = [f"pack.S{i}" for i in range(5)]


def test_two_placements_split_the_sensors_and_rebalance(redis_client: Redis) -> None:
    a = Placement(redis_client, "a", lease_seconds=30)
    b = Placement(redis_client, "b", lease_seconds=30)
    first = a.step(SENSORS)
    assert first.run == set(SENSORS) and first.live == 1  # alone: it takes everything
    assert b.step(SENSORS).run == set()  # all leased; b joined the membership
    shrink = a.step(SENSORS)
    assert len(shrink.release) == 2 and len(shrink.run) == 3  # fair share ceil(5/2) = 3
    a.release(shrink.release)
    assert b.step(SENSORS).run == shrink.release
    assert a.owned.isdisjoint(b.owned) and a.owned | b.owned == set(SENSORS)
    assert sorted(members(redis_client)) == ["a", "b"]
    # A removed sensor is given up by its owner.
    owner = a if "pack.S0" in a.owned else b
    assert "pack.S0" in owner.step(SENSORS[1:]).release


def test_a_lost_lease_is_neither_renewed_nor_released(redis_client: Redis) -> None:
    a = Placement(redis_client, "a", lease_seconds=30)
    a.step(["pack.S0"])
    # The lease expired and another container claimed it meanwhile.
    redis_client.set(keys.sensor_lease("pack.S0"), "b:token", px=30_000)
    step = a.step(["pack.S0"])
    assert step.lost == {"pack.S0"} and step.run == set()
    a.release(["pack.S0"])
    assert redis_client.get(keys.sensor_lease("pack.S0")) == "b:token"
    assert redis_client.pttl(keys.sensor_lease("pack.S0")) > 20_000


def test_a_lease_that_expired_unclaimed_is_taken_back(redis_client: Redis) -> None:
    a = Placement(redis_client, "a", lease_seconds=30)
    a.step(["pack.S0", "pack.S1"])
    # The container's loop ran late: one lease expired and nobody claimed it meanwhile.
    redis_client.delete(keys.sensor_lease("pack.S0"))
    step = a.step(["pack.S0", "pack.S1"])
    assert step.lost == set() and step.run == {"pack.S0", "pack.S1"}
    assert redis_client.get(keys.sensor_lease("pack.S0")) == a.token
    assert redis_client.pttl(keys.sensor_lease("pack.S0")) > 20_000


def test_a_dead_placements_sensors_move_after_its_lease(redis_client: Redis) -> None:
    a = Placement(redis_client, "a", lease_seconds=0.5)
    b = Placement(redis_client, "b", lease_seconds=0.5)
    a.step(SENSORS)
    assert b.step(SENSORS).run == set()
    started = time.monotonic()
    # a stops stepping (dead): within its lease b owns everything, and a is no longer a member.
    wait_for(lambda: b.step(SENSORS).run == set(SENSORS), "b to take every sensor", every=b.interval)
    assert time.monotonic() - started < 0.5 + b.interval + 2.0
    assert list(members(redis_client)) == ["b"]


def at_least(count: int, items: list[str]) -> list[str] | None:
    return items if len(items) >= count else None


def timer_ticks(client: Redis) -> list[str]:
    """``executed_at`` of every timer trigger instance on the trigger stream, oldest first."""
    ticks = []
    for _id, fields in client.xrange(keys.TRIGGER_STREAM):
        instance = orjson.loads(fields["t"])
        if instance["trigger"] == "core.st2.IntervalTimer":
            ticks.append(instance["payload"]["executed_at"])
    return ticks


def _sensor_processes(nodes: set[str]) -> Counter[tuple[str, str]]:
    """Live sensor processes of ``nodes``: (sensor ref, node) -> count, from /proc."""
    found: Counter[tuple[str, str]] = Counter()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
            with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                if f.read().split(") ")[1][0] == "Z":
                    continue
        except OSError:
            continue
        if "st2lite.sensors.child" in argv and "--node" in argv:
            node = argv[argv.index("--node") + 1]
            if node in nodes:
                found[(argv[argv.index("st2lite.sensors.child") + 1], node)] += 1
    return found


def test_two_containers_run_each_sensor_once_and_take_over_from_a_killed_one(
    settings: Settings, redis_client: Redis, tmp_path: Path
) -> None:
    refs = [f"sensortest.Idle{i}" for i in range(1, 6)]
    every_second = (
        "name: every_second\npack: sensortest\nenabled: true\n"
        "trigger: {type: core.st2.IntervalTimer, parameters: {unit: seconds, delta: 1}}\n"
        "action: {ref: core.noop}\n"
    )
    pack = make_pack(tmp_path, [f"idle{i}" for i in range(1, 6)], rules={"every_second": every_second})
    register(settings, redis_client, pack)
    tag = uuid.uuid4().hex[:8]
    nodes = {f"a-{tag}", f"b-{tag}"}
    lease = 1.0
    env = {k: v for k, v in os.environ.items() if not k.startswith("ST2LITE_")}
    env.update(
        ST2LITE_REDIS_URL=settings.redis_url,
        ST2LITE_HOME=str(settings.home),
        ST2LITE_PACKS_PATH=str(tmp_path / "none"),
        ST2LITE_SENSOR_LEASE_SECONDS=str(lease),
        ST2LITE_SENSOR_STOP_TIMEOUT="3",
        ST2LITE_TIMER_LEASE_SECONDS=str(lease),
        ST2LITE_TIMER_LOOP_INTERVAL="0.1",
        ST2LITE_LOG_LEVEL="WARNING",
    )
    containers = {
        node: subprocess.Popen(
            [sys.executable, "-m", "st2lite.services", "sensors"],
            env={**env, "ST2LITE_SENSOR_NODE_NAME": node},
            stdin=subprocess.DEVNULL,
        )
        for node in sorted(nodes)
    }
    try:

        def each_once_on(on: set[str], spread: list[int]) -> Counter[tuple[str, str]] | None:
            found = _sensor_processes(nodes)
            per_sensor = Counter(ref for ref, _node in found.elements())
            per_node = sorted(Counter(node for _ref, node in found.elements()).values())
            ok = per_sensor == Counter(refs) and {node for _ref, node in found} == on and per_node == spread
            return found if ok else None

        # Both run some, rebalanced to the fair share (3 + 2), every sensor exactly once.
        wait_for(lambda: each_once_on(nodes, [2, 3]), "each sensor once, 3 + 2 over both containers", deadline=30)
        # Stable: still exactly one process per sensor.
        assert max(Counter(ref for ref, _node in _sensor_processes(nodes).elements()).values()) == 1
        # Each container also runs the timer engine (a background thread); one of them leads and fires the
        # timer: one trigger instance per tick, however many containers run.
        leader = wait_for(lambda: redis_client.get(keys.TIMER_LEADER), "a timer engine to lead")
        victim = leader.partition(":")[0]
        assert victim in nodes
        before = wait_for(lambda: at_least(3, timer_ticks(redis_client)), "three timer ticks")
        assert len(set(before)) == len(before), before  # no tick fired twice

        # SIGKILL the timer leader: its sensors (SIGTERMed with it) run on the other within the lease bound,
        # and the survivor takes the timer over.
        survivor = next(iter(nodes - {victim}))
        containers[victim].send_signal(signal.SIGKILL)
        containers[victim].wait()
        killed = time.monotonic()
        wait_for(lambda: each_once_on({survivor}, [5]), "every sensor once, on the survivor", deadline=30)
        # Bound: lease + one step (lease / 3); the rest is starting the processes on a busy 2-core machine.
        assert time.monotonic() - killed < lease + lease / 3 + 8.0
        assert set(members(redis_client)) == {survivor}
        for ref in refs:
            assert redis_client.get(keys.sensor_lease(ref)).startswith(f"{survivor}:")
        wait_for(
            lambda: (redis_client.get(keys.TIMER_LEADER) or "").startswith(f"{survivor}:"),
            "the survivor to lead the timers",
        )
        after = wait_for(
            lambda: at_least(len(before) + 2, timer_ticks(redis_client)),
            "two more timer ticks from the survivor",
        )
        assert len(set(after)) == len(after), after  # still no tick fired twice, across the takeover
    finally:
        for process in containers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in containers.values():
            process.wait(timeout=30)
    assert containers[survivor].returncode == 0
    wait_for(lambda: not _sensor_processes(nodes), "no sensor process left")
    assert not redis_client.keys(keys.sensor_lease("*"))
