"""core.FileWatchSensor against real folders: one event per write, globs, late folders, line tail, bad parameters.

To show that something did *not* happen without sleeping, each test waits for a
later "fence" event (a file written after the one that must stay silent) and
then asserts on what came before it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sensor_harness import FailingDispatch, SensorHarness, make_trigger, running_sensor, sensor_harness

from st2lite.config import Settings
from st2lite.redisdb import Redis
from st2lite.sensors.file_watch import FILE_WATCH_TRIGGER, LINE_WATCH_TRIGGER, FileWatchSensor

pytestmark = pytest.mark.redis

#: Long enough that the flushes of one write (microseconds apart) stay within it even on a loaded machine.
QUIET = 0.3


@pytest.fixture
def harness(settings: Settings, redis_client: Redis) -> Iterator[SensorHarness]:
    with sensor_harness(settings, redis_client, "core.FileWatchSensor", "FileWatchSensor") as built:
        yield built


@pytest.fixture
def sensor(harness: SensorHarness) -> Iterator[FileWatchSensor]:
    built = FileWatchSensor(sensor_service=harness.service, config={})
    with running_sensor(built):
        yield built


def watch(folder: Path, **parameters: Any) -> dict[str, Any]:
    return make_trigger(FILE_WATCH_TRIGGER, {"path": str(folder), "quiet_period": QUIET, **parameters})


def write_in_steps(path: Path, *chunks: str) -> None:
    """One write of a file, flushed several times (each flush is a raw 'modified' event)."""
    with path.open("w") as handle:
        for chunk in chunks:
            handle.write(chunk)
            handle.flush()


def by_event(payloads: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(p["event"], p["file_name"]) for p in payloads]


def test_one_write_is_one_created_event_and_the_glob_filters(
    tmp_path: Path, harness: SensorHarness, sensor: FileWatchSensor
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    trigger = watch(inbox, glob="*.csv")
    sensor.add_trigger(trigger)

    write_in_steps(inbox / "export.csv", "a,b\n", "1,2\n", "3,4\n")
    write_in_steps(inbox / "notes.txt", "not a csv\n")
    first = harness.wait_payloads(trigger, 1, "the created event of export.csv")[0]
    write_in_steps(inbox / "fence.csv", "x\n")
    payloads = harness.wait_payloads(trigger, 2, "the fence event")

    assert by_event(payloads) == [("created", "export.csv"), ("created", "fence.csv")]
    assert first == {
        "event": "created",
        "path": str(inbox / "export.csv"),
        "file_name": "export.csv",
        "folder": str(inbox),
        "dest_path": None,
        "is_directory": False,
        "size": 12,
        "watch_path": str(inbox),
    }
    instance = harness.instances(trigger)[0]
    assert instance["trigger"] == FILE_WATCH_TRIGGER and instance["parameters"] == trigger["parameters"]
    assert instance["source"] == "sensor:core.FileWatchSensor"
    assert harness.errors == []


def test_modified_moved_and_deleted(tmp_path: Path, harness: SensorHarness, sensor: FileWatchSensor) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "report.csv").write_text("old\n")  # there before the trigger: no event
    trigger = watch(inbox)
    sensor.add_trigger(trigger)

    write_in_steps(inbox / "report.csv", "new\n", "more\n")
    harness.wait_payloads(trigger, 1, "modified")
    (inbox / "report.csv").rename(inbox / "final.csv")
    moved = harness.wait_payloads(trigger, 2, "moved")[1]
    (inbox / "final.csv").unlink()
    payloads = harness.wait_payloads(trigger, 3, "deleted")

    assert by_event(payloads) == [("modified", "report.csv"), ("moved", "report.csv"), ("deleted", "final.csv")]
    assert moved["dest_path"] == str(inbox / "final.csv") and moved["size"] == len("new\nmore\n")
    assert payloads[2]["size"] is None


def test_events_filter_and_two_triggers_on_one_folder(
    tmp_path: Path, harness: SensorHarness, sensor: FileWatchSensor
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    every = watch(inbox)
    deletions = watch(inbox, events=["deleted"])
    sensor.add_trigger(every)
    sensor.add_trigger(deletions)

    (inbox / "a.txt").write_text("a")
    harness.wait_payloads(every, 1, "created a.txt")
    (inbox / "a.txt").unlink()
    harness.wait_payloads(every, 2, "deleted a.txt")
    only = harness.wait_payloads(deletions, 1, "deleted a.txt, for the deleted-only trigger")

    assert by_event(only) == [("deleted", "a.txt")]

    # Removing one trigger leaves the other trigger on the same folder watching.
    sensor.remove_trigger(deletions)
    (inbox / "c.txt").write_text("c")
    payloads = harness.wait_payloads(every, 3, "created c.txt")
    assert by_event(payloads)[2:] == [("created", "c.txt")]
    assert len(harness.payloads(deletions)) == 1


def test_a_folder_created_late_then_deleted_and_made_again(
    tmp_path: Path, harness: SensorHarness, sensor: FileWatchSensor
) -> None:
    folder = tmp_path / "later" / "drop"
    trigger = watch(folder)
    sensor.add_trigger(trigger)

    folder.mkdir(parents=True)
    (folder / "first.csv").write_text("1\n")  # may land before the watch starts: found by the scan
    created = harness.wait_payloads(trigger, 1, "created first.csv in the late folder")
    assert by_event(created) == [("created", "first.csv")]

    shutil.rmtree(folder)
    harness.wait_payloads(trigger, 2, "deleted first.csv with its folder")
    folder.mkdir()
    (folder / "second.csv").write_text("2\n")
    payloads = harness.wait_payloads(trigger, 3, "created second.csv in the new folder")

    assert by_event(payloads) == [("created", "first.csv"), ("deleted", "first.csv"), ("created", "second.csv")]
    assert harness.errors == []


def test_remove_trigger_stops_its_events(tmp_path: Path, harness: SensorHarness, sensor: FileWatchSensor) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    first = watch(one)
    fence = watch(two)
    sensor.add_trigger(first)
    sensor.add_trigger(fence)
    (one / "a").write_text("a")
    harness.wait_payloads(first, 1, "created a")

    sensor.remove_trigger(first)
    (one / "b").write_text("b")
    (two / "fence").write_text("f")
    harness.wait_payloads(fence, 1, "the fence")

    assert by_event(harness.payloads(first)) == [("created", "a")]


def test_recursive_watch_sees_sub_folders(tmp_path: Path, harness: SensorHarness, sensor: FileWatchSensor) -> None:
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    trigger = watch(root, recursive=True, glob="*.log")
    sensor.add_trigger(trigger)

    (root / "sub" / "deep.log").write_text("x\n")
    payloads = harness.wait_payloads(trigger, 1, "created sub/deep.log")

    assert payloads[0]["path"] == str(root / "sub" / "deep.log") and payloads[0]["folder"] == str(root / "sub")


# -- line tail ---------------------------------------------------------------------------------------


def test_line_tail_emits_complete_lines_through_truncation_and_rotation(
    tmp_path: Path, harness: SensorHarness, sensor: FileWatchSensor
) -> None:
    log = tmp_path / "app.log"
    log.write_text("already there\n")
    trigger = make_trigger(LINE_WATCH_TRIGGER, {"file_path": str(log)})
    sensor.add_trigger(trigger)

    with log.open("a") as handle:
        handle.write("one\ntw")
    harness.wait_payloads(trigger, 1, "line one")
    with log.open("a") as handle:
        handle.write("o\n")
    harness.wait_payloads(trigger, 2, "line two, completed by its newline")
    log.write_text("three\n")  # truncated and written again
    harness.wait_payloads(trigger, 3, "line three after the truncation")
    with log.open("a") as handle:
        handle.write("last of the old file\n")
    log.rename(tmp_path / "app.log.1")  # rotation
    log.write_text("four\n")
    payloads = harness.wait_payloads(trigger, 5, "line four in the new file")

    assert [p["line"] for p in payloads] == ["one", "two", "three", "last of the old file", "four"]
    assert payloads[0] == {"file_path": str(log), "file_name": "app.log", "line": "one"}
    assert harness.errors == []


def test_line_tail_waits_for_a_file_that_does_not_exist_yet(
    tmp_path: Path, harness: SensorHarness, sensor: FileWatchSensor
) -> None:
    log = tmp_path / "later.log"
    trigger = make_trigger(LINE_WATCH_TRIGGER, {"file_path": str(log)})
    sensor.add_trigger(trigger)

    log.write_text("first\nsecond\n")
    payloads = harness.wait_payloads(trigger, 2, "both lines of the new file")

    assert [p["line"] for p in payloads] == ["first", "second"]


# -- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger_type", "parameters", "message"),
    [
        (FILE_WATCH_TRIGGER, {}, "invalid parameters: parameter 'path': Field required"),
        (FILE_WATCH_TRIGGER, {"path": "relative/dir"}, "path must be an absolute path, got 'relative/dir'"),
        (FILE_WATCH_TRIGGER, {"path": "/tmp", "glob": "sub/*.csv"}, "glob 'sub/*.csv' matches file names, not paths"),
        (FILE_WATCH_TRIGGER, {"path": "/tmp", "events": ["changed"]}, "parameter 'events.0': Input should be"),
        (FILE_WATCH_TRIGGER, {"path": "/tmp", "events": []}, "events must name at least one of created"),
        (FILE_WATCH_TRIGGER, {"path": "/tmp", "pattern": "*"}, "parameter 'pattern': unknown parameter"),
        (LINE_WATCH_TRIGGER, {"path": "/tmp/x.log"}, "parameter 'file_path': Field required"),
        ("core.st2.webhook", {"url": "x"}, "this sensor emits core.st2.file_watch and core.st2.file_watch.line"),
    ],
)
def test_bad_parameters_are_reported_and_the_other_triggers_keep_working(
    tmp_path: Path,
    harness: SensorHarness,
    sensor: FileWatchSensor,
    trigger_type: str,
    parameters: dict[str, Any],
    message: str,
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = watch(inbox)
    sensor.add_trigger(good)
    bad = make_trigger(trigger_type, parameters)

    sensor.add_trigger(bad)
    (inbox / "still.txt").write_text("ok")

    harness.wait_payloads(good, 1, "the good trigger's event")
    assert len(harness.errors) == 1
    assert harness.errors[0].startswith(f"trigger '{bad['ref']}' ({trigger_type}): ")
    assert message in harness.errors[0]


def test_a_path_that_is_a_file_is_reported_once(
    tmp_path: Path, harness: SensorHarness, sensor: FileWatchSensor
) -> None:
    target = tmp_path / "a-file"
    target.write_text("x")
    bad = watch(target)
    sensor.add_trigger(bad)

    error = harness.wait_error(lambda e: "is not a folder" in e, "the not-a-folder error")

    assert error == (
        f"trigger '{bad['ref']}' (core.st2.file_watch): '{target}' is not a folder; watch its folder, with a glob"
    )
    sensor.poll_once()
    sensor.poll_once()
    assert len(harness.errors) == 1


def test_a_tick_that_raises_is_reported_and_the_watches_carry_on(tmp_path: Path, harness: SensorHarness) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    trigger = watch(inbox)
    with running_sensor(FileWatchSensor(sensor_service=FailingDispatch(harness.service), config={})) as sensor:
        sensor.add_trigger(trigger)
        (inbox / "lost").write_text("x")
        harness.wait_error(lambda e: "tick raised" in e, "the failed dispatch")
        (inbox / "kept").write_text("y")
        payloads = harness.wait_payloads(trigger, 1, "the next event")

    assert harness.errors == ["tick raised ConnectionError: Redis went away"]
    assert by_event(payloads) == [("created", "kept")]
