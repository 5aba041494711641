"""Pure parts of the sensor container: fair share, placement plans, restart backoff, which sensors run."""

from __future__ import annotations

import pytest

from st2lite.content import ContentSet, SensorMeta
from st2lite.sensors.container import restart_delay, runnable_sensors
from st2lite.sensors.placement import fair_share, plan_step


@pytest.mark.parametrize(
    ("sensors", "containers", "share"),
    [(0, 1, 0), (0, 3, 0), (1, 1, 1), (1, 3, 1), (5, 1, 5), (5, 2, 3), (6, 2, 3), (7, 3, 3), (4, 0, 4)],
)
def test_fair_share_is_the_ceiling_of_sensors_per_container(sensors: int, containers: int, share: int) -> None:
    assert fair_share(sensors, containers) == share


def test_a_lone_container_claims_everything() -> None:
    plan = plan_step(["a", "b", "c"], owned=[], live=1, node="n1")
    assert plan.release == ()
    assert sorted(plan.candidates) == ["a", "b", "c"]
    assert plan.room == 3


def test_a_container_gives_up_its_surplus_when_another_joins() -> None:
    plan = plan_step(["a", "b", "c", "d", "e"], owned=["a", "b", "c", "d", "e"], live=2, node="n1")
    assert plan.release == ("d", "e")  # keeps the first three by name
    assert plan.room == 0
    joined = plan_step(["a", "b", "c", "d", "e"], owned=[], live=2, node="n2")
    assert joined.room == 3 and len(joined.candidates) == 5


def test_sensors_no_longer_wanted_are_released_and_room_is_refilled() -> None:
    plan = plan_step(["a", "b"], owned=["a", "gone"], live=1, node="n1")
    assert plan.release == ("gone",)
    assert plan.candidates == ("b",)
    assert plan.room == 1


def test_nodes_try_candidates_in_different_orders() -> None:
    refs = [f"pack.S{i}" for i in range(20)]
    orders = {plan_step(refs, [], 1, node).candidates for node in ("n1", "n2", "n3")}
    assert len(orders) == 3  # containers starting together do not all race for the same sensor first


def test_restart_delay_doubles_up_to_the_ceiling() -> None:
    assert [restart_delay(n, 1.0, 60.0) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert restart_delay(10_000, 1.0, 60.0) == 60.0  # no overflow however long it keeps failing


def _sensor(pack: str, name: str, trigger: str, *, enabled: bool = True) -> SensorMeta:
    return SensorMeta(class_name=name, name=name, pack=pack, enabled=enabled, trigger_types=[{"name": trigger}])


def test_pack_sensors_always_run_builtin_ones_only_when_a_rule_needs_them() -> None:
    content = ContentSet(
        sensors=[
            _sensor("mon", "Poller", "alert"),
            _sensor("mon", "Off", "off", enabled=False),
            _sensor("core", "FileWatchSensor", "st2.file_watch"),
            _sensor("core", "HttpPollSensor", "st2.http_poll"),
        ]
    )
    assert sorted(runnable_sensors(content, frozenset())) == ["mon.Poller"]
    used = frozenset({"core.st2.file_watch"})
    assert sorted(runnable_sensors(content, used)) == ["core.FileWatchSensor", "mon.Poller"]
