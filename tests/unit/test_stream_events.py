"""The event stream's pure parts: filters, event ids, merging the two sources, rewinding an execution,
SSE framing and parsing, and the output budget."""

from __future__ import annotations

import json

import pytest

from st2lite.exceptions import StreamError
from st2lite.output import OutputBudget, OutputLine, check_output_type, output_text, truncation_notice
from st2lite.sse import SseEvent, parse_events
from st2lite.stream_events import (
    EventCursor,
    SourceEntry,
    as_of,
    audit_event_name,
    merge,
    parse_filter,
    sse,
    trigger_instance_data,
)

# -- filters --------------------------------------------------------------------------------------------


def test_filter_lists_are_comma_separated_and_empty_means_everything() -> None:
    flt = parse_filter(events=" st2.execution__update, st2.execution.output__create ,", action_refs="core.local")
    assert flt.events == {"st2.execution__update", "st2.execution.output__create"}
    assert flt.wants_event("st2.execution__update") and not flt.wants_event("st2.execution__create")
    assert flt.wants_action("core.local") and not flt.wants_action("core.noop")
    assert flt.wants_execution("anything")  # no execution_ids: every execution
    everything = parse_filter(events="")
    assert everything.events is None and everything.wants_event("st2.trigger_instance__create")


def test_stackstorm_event_names_st2lite_never_emits_are_accepted() -> None:
    flt = parse_filter(events="st2.announcement__chatops,st2.liveaction__create,st2.execution__delete")
    assert flt.events is not None and len(flt.events) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"events": "st2.execution__update,st2.bogus"}, "unknown event 'st2.bogus' in events; st2lite emits"),
        ({"events": "st2.announcement__"}, "unknown event 'st2.announcement__'"),
        ({"end_event": "st2.execution__update"}, "end_event and end_execution_id go together"),
        ({"end_execution_id": "x"}, "end_event and end_execution_id go together"),
        ({"end_event": "nope", "end_execution_id": "x"}, "unknown event 'nope' in end_event"),
    ],
)
def test_bad_filters_name_the_problem(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(StreamError) as caught:
        parse_filter(**kwargs)
    assert message in str(caught.value)


def test_an_update_ends_the_stream_only_once_its_execution_completed() -> None:
    flt = parse_filter(end_event="st2.execution__update", end_execution_id="e1")
    assert not flt.ends_with("st2.execution__update", "e1", "running")
    assert not flt.ends_with("st2.execution__update", "e2", "succeeded")
    assert not flt.ends_with("st2.execution.output__create", "e1", None)
    for status in ("succeeded", "failed", "timeout", "canceled", "abandoned"):
        assert flt.ends_with("st2.execution__update", "e1", status)
    created = parse_filter(end_event="st2.execution__create", end_execution_id="e1")
    assert created.ends_with("st2.execution__create", "e1", "requested")


# -- event ids ------------------------------------------------------------------------------------------


def test_event_cursor_round_trips_and_refuses_anything_else() -> None:
    cursor = EventCursor("1700000000000-0", "1700000000001-12")
    assert EventCursor.parse(cursor.text()) == cursor
    for bad in ("yesterday", "1-0", "1-0_", "_1-0", "1-0_x-1", "1-0_2-0_3-0"):
        with pytest.raises(StreamError, match="reconnect without it"):
            EventCursor.parse(bad)


# -- merging the audit and output sources ---------------------------------------------------------------


def audit(entry_id: str, at: str = "") -> SourceEntry:
    return SourceEntry(True, entry_id, {}, at)


def output(entry_id: str, at: str = "") -> SourceEntry:
    return SourceEntry(False, entry_id, {}, at)


def ids(entries: list[SourceEntry]) -> list[str]:
    return [("a" if e.audit else "o") + e.id for e in entries]


def test_merge_orders_by_millisecond_then_by_the_writers_timestamps() -> None:
    running = audit("100-0", "t1")
    lines = [output("100-0", "t2"), output("101-0", "t3")]
    succeeded = audit("101-1", "t4")
    merged, held = merge([running, succeeded], lines, count=500)
    assert ids(merged) == ["a100-0", "o100-0", "o101-0", "a101-1"]
    assert not held


def test_merge_keeps_each_sources_own_order() -> None:
    merged, _held = merge([audit("5-0", "z"), audit("5-1", "a")], [output("5-0", "m")], count=500)
    assert [e.id for e in merged if e.audit] == ["5-0", "5-1"]


def test_merge_holds_back_what_may_come_after_unread_entries_of_a_full_source() -> None:
    full_output = [output(f"{ms}-0", "t") for ms in (10, 11, 12)]
    merged, held = merge([audit("11-0", "a"), audit("13-0", "z")], full_output, count=3)
    # Output may have more entries from ms 12 on: audit entries at or after 12 wait for the next read.
    assert ids(merged) == ["o10-0", "a11-0", "o11-0", "o12-0"]
    assert held


# -- rewinding an execution to an update ---------------------------------------------------------------


def test_as_of_shows_the_execution_as_it_was_at_that_change() -> None:
    now = {
        "id": "e1",
        "status": "succeeded",
        "result": {"stdout": "x"},
        "end_timestamp": "2026-01-01T00:00:03.000000Z",
        "log": [
            {"status": "requested", "timestamp": "2026-01-01T00:00:01.000000Z"},
            {"status": "running", "timestamp": "2026-01-01T00:00:02.000000Z"},
            {"status": "succeeded", "timestamp": "2026-01-01T00:00:03.000000Z"},
        ],
    }
    running = as_of(now, "running", "2026-01-01T00:00:02.000000+00:00")
    assert running["status"] == "running"
    assert "result" not in running and "end_timestamp" not in running
    assert [e["status"] for e in running["log"]] == ["requested", "running"]
    assert as_of(now, "succeeded", "2026-01-01T00:00:03.000000+00:00") == now
    assert now["status"] == "succeeded"  # not changed in place


def test_audit_events_that_are_stream_events() -> None:
    assert audit_event_name({"kind": "execution.created"}) == "st2.execution__create"
    assert audit_event_name({"kind": "execution.status"}) == "st2.execution__update"
    assert audit_event_name({"kind": "trigger_instance.received"}) == "st2.trigger_instance__create"
    assert audit_event_name({"kind": "rule.matched"}) is None
    data = trigger_instance_data(
        {
            "trigger_instance": "t1",
            "trigger": "core.st2.webhook",
            "at": "2026-01-01T00:00:00.000000+00:00",
            "data": {"parameters": {"url": "x"}},
        }
    )
    assert data == {
        "id": "t1",
        "trigger": "core.st2.webhook",
        "occurrence_time": "2026-01-01T00:00:00.000000Z",
        "status": "pending",
        "parameters": {"url": "x"},
    }


# -- SSE ------------------------------------------------------------------------------------------------


def test_sse_frames_one_json_data_line_and_the_parser_reads_it_back() -> None:
    text = sse("st2.execution__update", {"id": "e1", "note": "two\nlines"}, "1-0_2-0").decode()
    assert text.endswith("\n\n") and text.count("\n") == 4  # id, event, data, blank line
    [event] = list(parse_events(text.split("\n")))
    assert event == SseEvent(
        "st2.execution__update", json.dumps({"id": "e1", "note": "two\nlines"}, separators=(",", ":")), "1-0_2-0"
    )


def test_parser_follows_the_format() -> None:
    lines = [": heartbeat", "", "data:first", "data: second", "", "event: EOF", "data: {}", "", "id: 7", "data: x"]
    assert list(parse_events(lines)) == [
        SseEvent("message", "first\nsecond"),
        SseEvent("EOF", "{}"),
    ]  # the last event has no blank line after it: not complete


# -- output ---------------------------------------------------------------------------------------------


def test_budget_stores_lines_until_a_limit_then_one_notice() -> None:
    budget = OutputBudget(max_bytes=1_000, max_lines=3)
    assert budget.take("stdout", "a\n") == [("stdout", "a\n")]
    assert budget.take("stderr", "b\n") == [("stderr", "b\n")]
    assert budget.take("stdout", "c\n") == [("stdout", "c\n")]
    assert budget.take("stdout", "d\n") == [("stdout", truncation_notice(1_000, 3))]
    assert budget.take("stdout", "e\n") == []


def test_budget_keeps_the_part_of_a_long_line_that_fits() -> None:
    budget = OutputBudget(max_bytes=10, max_lines=100)
    assert budget.take("stdout", "12345\n") == [("stdout", "12345\n")]
    stored = budget.take("stderr", "abcdefghij\n")
    assert stored == [("stderr", "abcd\n"), ("stderr", truncation_notice(10, 100))]
    assert "output truncated" in stored[1][1] and "result holds the complete stdout and stderr" in stored[1][1]


def test_output_text_and_types() -> None:
    lines = [OutputLine("stdout", "a\n", "t"), OutputLine("stderr", "b\n", "t"), OutputLine("stdout", "c", "t")]
    assert output_text(lines) == "a\nb\nc"
    assert output_text(lines, "stdout") == "a\nc"
    assert check_output_type(None) is None and check_output_type("stderr") == "stderr"
    with pytest.raises(StreamError, match="output_type must be one of stdout, stderr, not 'output'"):
        check_output_type("output")
