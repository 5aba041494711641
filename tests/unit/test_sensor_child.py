"""The sensor process's pure parts: finding the class, building it, feeding it its triggers."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from st2lite.content import ContentSet
from st2lite.exceptions import SensorError
from st2lite.rules import Rule
from st2lite.sensors.base import PollingSensor
from st2lite.sensors.child import TriggerFeed, build_sensor, load_sensor_class, sensor_path


def _pack(tmp_path: Path, files: dict[str, str]) -> Path:
    pack = tmp_path / "mypack"
    for name, text in files.items():
        path = pack / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return pack


def test_a_class_imported_into_the_module_is_found_and_gets_its_poll_interval(tmp_path: Path) -> None:
    pack = _pack(
        tmp_path,
        {
            "lib/shared_sensors.py": """
                from st2lite.sensors.base import PollingSensor

                class SharedSensor(PollingSensor):
                    def setup(self): pass
                    def poll(self): pass
                    def cleanup(self): pass
                    def add_trigger(self, trigger): pass
                    def update_trigger(self, trigger): pass
                    def remove_trigger(self, trigger): pass
            """,
            "sensors/thin.py": "from shared_sensors import SharedSensor\n",
        },
    )
    cls = load_sensor_class(sensor_path(str(pack), "thin.py"), pack, "SharedSensor")
    sensor = build_sensor(cls, service=object(), poll_interval=0.5, config={"a": 1})
    assert isinstance(sensor, PollingSensor)
    assert sensor.get_poll_interval() == 0.5 and sensor.config == {"a": 1}
    assert build_sensor(cls, service=object(), poll_interval=None).get_poll_interval() == 5  # the class default


def test_a_missing_file_or_a_non_sensor_class_is_refused_with_what_to_fix(tmp_path: Path) -> None:
    pack = _pack(tmp_path, {"sensors/plain.py": "class Helper:\n    pass\n"})
    with pytest.raises(SensorError, match=r"sensor file .*/sensors/gone.py does not exist; check entry_point"):
        load_sensor_class(sensor_path(str(pack), "gone.py"), pack, "Gone")
    with pytest.raises(SensorError, match="'Helper' in .* is not a sensor class; it must extend Sensor or Polling"):
        load_sensor_class(sensor_path(str(pack), "plain.py"), pack, "Helper")
    with pytest.raises(SensorError, match=r"class 'Nope' not found in .*plain.py \(sensor classes there: none\)"):
        load_sensor_class(sensor_path(str(pack), "plain.py"), pack, "Nope")


class _Recorder:
    def __init__(self, fail_on: str = "") -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_on = fail_on

    def _call(self, method: str, trigger: dict[str, Any]) -> None:
        if method == self.fail_on:
            raise RuntimeError("cannot watch that")
        self.calls.append((method, trigger["parameters"]))

    def add_trigger(self, trigger: dict[str, Any]) -> None:
        self._call("add", trigger)

    def update_trigger(self, trigger: dict[str, Any]) -> None:
        self._call("update", trigger)

    def remove_trigger(self, trigger: dict[str, Any]) -> None:
        self._call("remove", trigger)


def _snapshot(version: int, *paths: str, description: str = "") -> Any:
    rules = [
        Rule.model_validate(
            {
                "name": f"r{i}",
                "pack": "p",
                "enabled": True,
                "trigger": {"type": "p.watched", "parameters": {"path": path}, "description": description},
                "action": {"ref": "core.noop"},
            }
        )
        for i, path in enumerate(paths)
    ]
    return SimpleNamespace(version=version, content=ContentSet(rules=rules))


def test_the_trigger_feed_delivers_changes_once_per_registry_version() -> None:
    sensor = _Recorder()
    feed = TriggerFeed(sensor, ["p.watched"], lambda message, exc: None)
    feed.sync(_snapshot(1, "/a", "/b"))
    feed.sync(_snapshot(1, "/a"))  # same version: nothing read
    feed.sync(_snapshot(2, "/a", description="now described"))
    assert sorted(sensor.calls[:2], key=str) == [("add", {"path": "/a"}), ("add", {"path": "/b"})]  # in id order
    assert sensor.calls[2:] == [("update", {"path": "/a"}), ("remove", {"path": "/b"})]


def test_a_failing_add_trigger_is_reported_and_the_feed_goes_on() -> None:
    sensor = _Recorder(fail_on="add")
    reports: list[str] = []
    feed = TriggerFeed(sensor, ["p.watched"], lambda message, exc: reports.append(message))
    feed.sync(_snapshot(1, "/a"))
    feed.sync(_snapshot(2))
    assert len(reports) == 1 and reports[0].startswith("add_trigger raised RuntimeError: cannot watch that (trigger p.")
    assert sensor.calls == [("remove", {"path": "/a"})]
