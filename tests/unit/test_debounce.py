"""The pure debounce rules of the file sensor: one event per write, with time passed in."""

from __future__ import annotations

import pytest

from st2lite.sensors.debounce import Debouncer, Settled, merge


def test_a_write_is_one_created_event_released_after_the_quiet_period() -> None:
    debouncer = Debouncer(quiet=0.5)
    debouncer.add("created", "/in/a.csv", 0.0)
    debouncer.add("modified", "/in/a.csv", 0.1)
    debouncer.add("modified", "/in/a.csv", 0.3)

    assert debouncer.due(0.7) == []  # 0.4 s after the last event: still writing
    assert debouncer.due(0.8) == [Settled("created", "/in/a.csv")]
    assert debouncer.due(5.0) == [] and len(debouncer) == 0


def test_a_file_written_for_ever_is_released_after_max_delay() -> None:
    debouncer = Debouncer(quiet=0.5, max_delay=2.0)
    for tick in range(30):
        debouncer.add("modified", "/in/log", tick * 0.1)
        if tick * 0.1 < 2.0:
            assert debouncer.due(tick * 0.1) == []
    assert debouncer.due(2.9) == [Settled("modified", "/in/log")]


def test_paths_are_debounced_apart_and_released_oldest_first() -> None:
    debouncer = Debouncer(quiet=0.2)
    debouncer.add("created", "/in/b", 0.0)
    debouncer.add("created", "/in/a", 0.1)
    debouncer.add("modified", "/in/b", 0.15)

    assert debouncer.due(1.0) == [Settled("created", "/in/b"), Settled("created", "/in/a")]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        (["created", "modified", "modified"], [Settled("created", "/f")]),
        (["created", "deleted"], []),
        (["modified", "deleted"], [Settled("deleted", "/f")]),
        (["deleted", "created"], [Settled("modified", "/f")]),
        (["deleted", "modified"], [Settled("modified", "/f")]),
        (["modified", "created"], [Settled("modified", "/f")]),
        (["created", "deleted", "created"], [Settled("created", "/f")]),
    ],
)
def test_merge_rules(events: list[str], expected: list[Settled]) -> None:
    debouncer = Debouncer(quiet=0.1)
    for at, kind in enumerate(events):
        debouncer.add(kind, "/f", at * 0.01)  # type: ignore[arg-type]
    assert debouncer.due(10.0) == expected


def test_a_move_keeps_its_destination_and_a_later_event_on_the_path_is_separate() -> None:
    debouncer = Debouncer(quiet=0.1)
    debouncer.add("created", "/in/a.part", 0.0)
    debouncer.add("moved", "/in/a.part", 0.01, dest_path="/in/a.csv")
    debouncer.add("created", "/in/a.part", 0.02)  # a new file at the old name

    assert debouncer.due(0.05) == [Settled("moved", "/in/a.part", "/in/a.csv")]  # split off at once
    assert debouncer.due(1.0) == [Settled("created", "/in/a.part")]


def test_merge_table_and_bad_quiet_period() -> None:
    assert merge("moved", "modified") == "split"
    assert merge("modified", "moved") == "moved"
    assert merge("deleted", "deleted") == "deleted"
    with pytest.raises(ValueError, match="quiet period must be 0 or more seconds, got -1"):
        Debouncer(quiet=-1)


def test_a_zero_quiet_period_releases_at_the_next_tick() -> None:
    debouncer = Debouncer(quiet=0)
    debouncer.add("created", "/f", 1.0)
    assert debouncer.due(1.0) == [Settled("created", "/f")]
