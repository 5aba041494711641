"""``st2lite up`` end to end with event sources other than webhooks: a timer rule, a file landing in a folder
(the built-in file sensor, started because a rule uses it) and a pack's own polling sensor."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest

from .conftest import Procs, Up, alive, descendants, wait_for, write_rules

pytestmark = pytest.mark.e2e

BEAT_SENSOR = """
from st2reactor.sensor.base import PollingSensor


class BeatSensor(PollingSensor):
    def setup(self):
        self.beats = 0

    def poll(self):
        self.beats += 1
        self.sensor_service.dispatch("default.beat", {"n": self.beats})

    def cleanup(self):
        pass

    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass
"""


def _rule(trigger: str, parameters: dict[str, Any], cmd: str) -> dict[str, Any]:
    return {
        "enabled": True,
        "trigger": {"type": trigger, "parameters": parameters},
        "action": {"ref": "core.local", "parameters": {"cmd": cmd}},
    }


def test_timers_files_and_pack_sensors_run_actions_under_up(procs: Procs, site: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"  # created after start: the sensor waits for it
    write_rules(
        site,
        {
            "every_second": _rule("core.st2.IntervalTimer", {"unit": "seconds", "delta": 1}, "echo tick"),
            "file_landed": _rule(
                "core.st2.file_watch",
                {"path": str(inbox), "glob": "*.csv", "events": ["created"], "quiet_period": 0.2},
                "echo landed {{ trigger.file_name }}",
            ),
            "on_beat": _rule("default.beat", {}, "echo beat {{ trigger.n }}"),
        },
    )
    (site / "sensors").mkdir()
    (site / "sensors" / "beat.py").write_text(textwrap.dedent(BEAT_SENSOR))
    (site / "sensors" / "beat.yaml").write_bytes(
        orjson.dumps(
            {
                "class_name": "BeatSensor",
                "entry_point": "beat.py",
                "poll_interval": 1,
                "trigger_types": [{"name": "beat", "payload_schema": {"type": "object", "required": ["n"]}}],
            }
        )
    )
    up = Up.start(procs, tmp_path / "home", site, workers=1)

    def stdout_of(rule: str) -> list[str]:
        return [
            str(e.result.get("stdout"))
            for e in up.executions()
            if e.rule == f"default.{rule}" and e.status == "succeeded"
        ]

    ticks = wait_for(lambda: (s := stdout_of("every_second")) and len(s) >= 2 and s, what="two timer ticks")
    assert set(ticks) == {"tick"}
    beats = wait_for(lambda: stdout_of("on_beat"), what="the pack sensor's beat to run its rule")
    assert beats[0].startswith("beat ")

    wait_for(
        lambda: (
            {s["ref"]: s["state"] for s in up.get("/api/v1/sensors").json()}.get("core.FileWatchSensor") == "running"
        ),
        what="the file sensor to run",
    )
    inbox.mkdir()
    (inbox / "skip.txt").write_text("not a csv")
    # A file already in the folder when the sensor starts watching it is not news (as in StackStorm): on a loaded
    # machine the sensor may take its trigger a moment after it runs, so new files land until one is seen.
    landed: list[str] = []
    for attempt in range(4):
        (inbox / f"orders-{attempt}.csv").write_text("id,total\n1,9.5\n")
        try:
            landed = wait_for(lambda: stdout_of("file_landed"), what="the file landing to run its rule", timeout=5)
            break
        except AssertionError:
            continue
    assert landed and set(landed) <= {f"landed orders-{i}.csv" for i in range(4)}, landed

    sensors = {s["ref"]: s for s in up.get("/api/v1/sensors").json()}
    assert sensors["default.BeatSensor"]["state"] == "running", sensors
    assert sensors["core.FileWatchSensor"]["state"] == "running", sensors
    assert sensors["core.HttpPollSensor"]["state"] == "idle"  # no rule uses it

    tree = descendants(up.process.pid)
    assert up.stop() == 0
    assert [pid for pid in tree if alive(pid)] == []  # the sensor processes stopped too
