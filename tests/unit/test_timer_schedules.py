"""Timer schedules: parameters, APScheduler cron semantics, plain cron, time zones and DST, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from st2lite.exceptions import TimerSpecError
from st2lite.matcher import RuleSet
from st2lite.rules import Rule
from st2lite.sensors.timers import (
    TimerSpec,
    executed_at,
    next_fire,
    parse_schedule,
    schedule_problems,
    timer_payload,
    timer_spec,
)
from st2lite.sensors.triggers import concrete_triggers
from st2lite.triggers import CRON_TIMER, DATE_TIMER, INTERVAL_TIMER, TriggerInstance

NOW = datetime(2026, 11, 22, 22, 0, 0, tzinfo=UTC)  # a Sunday


def spec(trigger_type: str, parameters: dict[str, Any]) -> TimerSpec:
    return timer_spec({"id": "t1", "type": trigger_type, "name": "st2.X.t1", "parameters": parameters})


def ticks(trigger_type: str, parameters: dict[str, Any], start: datetime = NOW, count: int = 4) -> list[str]:
    """The next ``count`` ticks, as ISO times in the timer's own zone."""
    timer = spec(trigger_type, parameters)
    zone = ZoneInfo(timer.timezone)
    out, current = [], start
    for _ in range(count):
        found = next_fire(timer, current)
        if found is None:
            break
        out.append(found.astimezone(zone).isoformat())
        current = found
    return out


# --- IntervalTimer ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "delta", "step"),
    [("seconds", 5, 5), ("minutes", 2, 120), ("hours", 1, 3600), ("days", 1, 86400), ("weeks", 2, 1_209_600)],
)
def test_interval_units(unit: str, delta: int, step: int) -> None:
    timer = spec(INTERVAL_TIMER, {"unit": unit, "delta": delta})
    assert next_fire(timer, NOW) == NOW + timedelta(seconds=step)


def test_interval_stays_on_its_grid_and_coalesces_missed_ticks() -> None:
    timer = spec(INTERVAL_TIMER, {"unit": "seconds", "delta": 10})
    previous = NOW
    assert next_fire(timer, NOW + timedelta(seconds=1), previous=previous) == NOW + timedelta(seconds=10)
    # Three ticks missed: the next is the first on the grid after now, not a burst of catch-up ticks.
    assert next_fire(timer, NOW + timedelta(seconds=35), previous=previous) == NOW + timedelta(seconds=40)
    assert next_fire(timer, NOW + timedelta(seconds=40), previous=previous) == NOW + timedelta(seconds=50)


# --- CronTimer, APScheduler fields ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        # Less significant fields than the least significant given take their minimum.
        ({"hour": 9}, ["2026-11-23T09:00:00+00:00", "2026-11-24T09:00:00+00:00"]),
        ({"minute": "*/15"}, ["2026-11-22T22:15:00+00:00", "2026-11-22T22:30:00+00:00"]),
        ({"second": "*/20"}, ["2026-11-22T22:00:20+00:00", "2026-11-22T22:00:40+00:00"]),
        ({"hour": 9, "second": 30}, ["2026-11-23T09:00:30+00:00", "2026-11-23T09:01:30+00:00"]),
        # day_of_week: 0 = Monday (APScheduler), names and ranges.
        ({"day_of_week": 0}, ["2026-11-23T00:00:00+00:00", "2026-11-30T00:00:00+00:00"]),
        ({"day_of_week": "sun"}, ["2026-11-29T00:00:00+00:00", "2026-12-06T00:00:00+00:00"]),
        (
            {"day_of_week": "mon-fri", "hour": "9-10", "minute": "0,30"},
            ["2026-11-23T09:00:00+00:00", "2026-11-23T09:30:00+00:00", "2026-11-23T10:00:00+00:00"],
        ),
        ({"day_of_week": "5-6", "hour": 12}, ["2026-11-28T12:00:00+00:00", "2026-11-29T12:00:00+00:00"]),
        ({"month": "jan-feb", "day": 1}, ["2027-01-01T00:00:00+00:00", "2027-02-01T00:00:00+00:00"]),
        ({"day": "last"}, ["2026-11-30T00:00:00+00:00", "2026-12-31T00:00:00+00:00"]),
        ({"day": "1st mon"}, ["2026-12-07T00:00:00+00:00", "2027-01-04T00:00:00+00:00"]),
        ({"day": "last fri"}, ["2026-11-27T00:00:00+00:00", "2026-12-25T00:00:00+00:00"]),
        ({"day": "10/10"}, ["2026-11-30T00:00:00+00:00", "2026-12-10T00:00:00+00:00"]),
        # week is the ISO week; 2027's week 1 starts on Monday 4 January.
        ({"week": 1}, ["2027-01-04T00:00:00+00:00", "2027-01-05T00:00:00+00:00"]),
        ({"year": 2028, "month": 2, "day": 29}, ["2028-02-29T00:00:00+00:00"]),
        # Fields are ANDed (APScheduler), unlike standard cron's day-or-weekday.
        ({"day": 13, "day_of_week": "fri"}, ["2027-08-13T00:00:00+00:00", "2028-10-13T00:00:00+00:00"]),
    ],
    ids=lambda value: str(value),
)
def test_cron_fields(parameters: dict[str, Any], expected: list[str]) -> None:
    assert ticks(CRON_TIMER, parameters, count=len(expected)) == expected


def test_cron_fields_as_strings_or_integers_are_the_same_schedule() -> None:
    assert ticks(CRON_TIMER, {"hour": "9", "minute": "5"}) == ticks(CRON_TIMER, {"hour": 9, "minute": 5})


# --- CronTimer, plain cron --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("*/5 * * * *", ["2026-11-22T22:05:00+00:00", "2026-11-22T22:10:00+00:00"]),
        # Standard cron: day of week 0 or 7 = Sunday, 1 = Monday.
        ("0 9 * * 1", ["2026-11-23T09:00:00+00:00", "2026-11-30T09:00:00+00:00"]),
        ("0 9 * * 7", ["2026-11-29T09:00:00+00:00", "2026-12-06T09:00:00+00:00"]),
        ("0 9 * * mon-fri", ["2026-11-23T09:00:00+00:00", "2026-11-24T09:00:00+00:00"]),
        # Six fields: the second comes first.
        ("30 */10 * * * *", ["2026-11-22T22:00:30+00:00", "2026-11-22T22:10:30+00:00"]),
        # Both day fields restricted: either matches (standard cron).
        ("0 0 1 * 1", ["2026-11-23T00:00:00+00:00", "2026-11-30T00:00:00+00:00", "2026-12-01T00:00:00+00:00"]),
        ("0 0 L * *", ["2026-11-30T00:00:00+00:00", "2026-12-31T00:00:00+00:00"]),
        ("0 0 * * 1#2", ["2026-12-14T00:00:00+00:00", "2027-01-11T00:00:00+00:00"]),
        ("0 0 * * L5", ["2026-11-27T00:00:00+00:00", "2026-12-25T00:00:00+00:00"]),
        ("@daily", ["2026-11-23T00:00:00+00:00", "2026-11-24T00:00:00+00:00"]),
    ],
)
def test_plain_cron(expression: str, expected: list[str]) -> None:
    assert ticks(CRON_TIMER, {"cron": expression}, count=len(expected)) == expected


# --- time zones and daylight saving -----------------------------------------------------------------


def test_timezone_is_the_wall_clock_of_the_schedule() -> None:
    assert ticks(CRON_TIMER, {"hour": 9, "timezone": "Europe/Paris"}, count=1) == ["2026-11-23T09:00:00+01:00"]
    timer = spec(CRON_TIMER, {"hour": 9, "timezone": "Europe/Paris"})
    assert next_fire(timer, NOW) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("parameters", [{"hour": 2, "minute": 30}, {"cron": "30 2 * * *"}])
def test_spring_forward_a_missing_wall_time_fires_once_shifted(parameters: dict[str, Any]) -> None:
    # 2026-03-08 02:00 EST -> 03:00 EDT in New York: 02:30 does not exist that day.
    start = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    assert ticks(CRON_TIMER, {**parameters, "timezone": "America/New_York"}, start, 3) == [
        "2026-03-08T03:30:00-04:00",
        "2026-03-09T02:30:00-04:00",
        "2026-03-10T02:30:00-04:00",
    ]


def test_fall_back_a_daily_time_fires_once() -> None:
    # 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 happens twice; a daily schedule fires at the first.
    start = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
    assert ticks(CRON_TIMER, {"hour": 1, "minute": 30, "timezone": "America/New_York"}, start, 2) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]


def test_fall_back_an_hourly_schedule_keeps_firing_through_the_repeated_hour() -> None:
    start = datetime(2026, 11, 1, 4, 10, tzinfo=UTC)  # 00:10 EDT
    got = ticks(CRON_TIMER, {"cron": "*/30 * * * *", "timezone": "America/New_York"}, start, 6)
    assert got == [
        "2026-11-01T00:30:00-04:00",
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]
    instants = [datetime.fromisoformat(t) for t in got]
    assert all(b - a == timedelta(minutes=30) for a, b in zip(instants, instants[1:], strict=False))


# --- DateTimer ------------------------------------------------------------------------------------


def test_date_fires_once_and_naive_dates_are_read_in_the_timezone() -> None:
    timer = spec(DATE_TIMER, {"date": "2026-12-24 18:00:00", "timezone": "Europe/Paris"})
    assert next_fire(timer, NOW) == datetime(2026, 12, 24, 17, 0, tzinfo=UTC)
    assert next_fire(timer, NOW, previous=datetime(2026, 12, 24, 17, 0, tzinfo=UTC)) is None
    aware = spec(DATE_TIMER, {"date": "2026-12-24T18:00:00+01:00", "timezone": "America/New_York"})
    assert next_fire(aware, NOW) == datetime(2026, 12, 24, 17, 0, tzinfo=UTC)


def test_date_in_the_past_is_valid_but_never_fires() -> None:
    timer = spec(DATE_TIMER, {"date": "2020-01-01T00:00:00"})
    assert next_fire(timer, NOW) is None


# --- payload and matching -------------------------------------------------------------------------


def test_payload_trace_tag_and_parameters_match_the_rule() -> None:
    parameters = {"unit": "seconds", "delta": 5}
    rule = Rule.model_validate(
        {
            "name": "r",
            "pack": "p",
            "enabled": True,
            "trigger": {"type": INTERVAL_TIMER, "parameters": parameters},
            "action": {"ref": "core.noop"},
        }
    )
    (trigger,) = concrete_triggers([rule], [INTERVAL_TIMER, CRON_TIMER, DATE_TIMER]).values()
    timer = timer_spec(trigger)
    tick = datetime(2026, 11, 22, 22, 0, 5, tzinfo=UTC)
    assert timer_payload(tick) == {"executed_at": "2026-11-22 22:00:05", "schedule": None}
    assert executed_at(tick.astimezone(ZoneInfo("Asia/Tokyo"))) == "2026-11-22 22:00:05"
    assert timer.trace_tag == f"st2.IntervalTimer-{trigger['name']}"
    instance = TriggerInstance(trigger=timer.type, parameters=timer.parameters, payload=timer_payload(tick))
    assert [o.rule.full_ref for o in RuleSet([rule]).match(instance)] == ["p.r"]


def test_fingerprint_follows_the_parameters() -> None:
    one = spec(CRON_TIMER, {"minute": "*/5"})
    assert one.fingerprint == spec(CRON_TIMER, {"minute": "*/5"}).fingerprint
    assert one.fingerprint != spec(CRON_TIMER, {"minute": "*/10"}).fingerprint


# --- bad parameters -------------------------------------------------------------------------------

BAD = [
    (INTERVAL_TIMER, {"delta": 5}, ["parameter 'unit': is required; one of weeks, days, hours, minutes, seconds"]),
    (INTERVAL_TIMER, {"unit": "seconds"}, ["parameter 'delta': is required: how many units between two fires"]),
    (
        INTERVAL_TIMER,
        {"unit": "secs", "delta": 5},
        ["parameter 'unit': 'secs' is not a unit; use one of weeks, days, hours, minutes, seconds"],
    ),
    (INTERVAL_TIMER, {"unit": "seconds", "delta": 0}, ["parameter 'delta': must be a whole number above 0, got 0"]),
    (INTERVAL_TIMER, {"unit": "seconds", "delta": -3}, ["parameter 'delta': must be a whole number above 0, got -3"]),
    (
        INTERVAL_TIMER,
        {"unit": "seconds", "delta": "5"},
        ["parameter 'delta': must be a whole number above 0, got '5'"],
    ),
    (
        INTERVAL_TIMER,
        {"unit": "seconds", "delta": 5, "every": 1},
        ["parameter 'every': unknown parameter of core.st2.IntervalTimer; use some of: unit, delta, timezone"],
    ),
    (
        INTERVAL_TIMER,
        {"unit": "seconds", "delta": 5, "timezone": "Mars/Olympus"},
        [
            "parameter 'timezone': unknown time zone 'Mars/Olympus'; use an IANA name such as 'UTC', "
            "'Europe/Paris' or 'America/New_York'"
        ],
    ),
    (
        INTERVAL_TIMER,
        {"unit": "seconds", "delta": 5, "timezone": 3},
        ["parameter 'timezone': must be a time zone name such as 'UTC' or 'Europe/Paris', got 3"],
    ),
    (DATE_TIMER, {}, ["parameter 'date': is required: when to fire, e.g. '2026-12-24 18:00:00'"]),
    (
        DATE_TIMER,
        {"date": "next friday"},
        [
            "parameter 'date': 'next friday' is not an ISO 8601 date and time; write e.g. '2026-12-24 18:00:00' "
            "(read in 'timezone') or '2026-12-24T18:00:00+01:00'"
        ],
    ),
    (
        DATE_TIMER,
        {"date": "2026-13-01 00:00:00"},
        [
            "parameter 'date': '2026-13-01 00:00:00' is not an ISO 8601 date and time; write e.g. "
            "'2026-12-24 18:00:00' (read in 'timezone') or '2026-12-24T18:00:00+01:00'"
        ],
    ),
    (
        CRON_TIMER,
        {},
        [
            "give at least one of year, month, day, week, day_of_week, hour, minute, second, or 'cron' with a "
            "cron expression (with none, APScheduler would fire every second)"
        ],
    ),
    (
        CRON_TIMER,
        {"hours": 9, "minute": 0},
        ["parameter 'hours': unknown parameter of core.st2.CronTimer; did you mean 'hour'?"],
    ),
    (
        CRON_TIMER,
        {"minute": "*/0"},
        ["parameter 'minute': '*/0': the step after '/' must be a whole number of 1 or more"],
    ),
    (CRON_TIMER, {"minute": 60}, ["parameter 'minute': 60: 60 is out of range 0-59"]),
    (CRON_TIMER, {"hour": "25"}, ["parameter 'hour': '25': 25 is out of range 0-23"]),
    (CRON_TIMER, {"day_of_week": 7}, ["parameter 'day_of_week': 7: 7 is out of range 0-6"]),
    (
        CRON_TIMER,
        {"day_of_week": "fri-mon"},
        ["parameter 'day_of_week': 'fri-mon': the range 'fri-mon' starts after it ends"],
    ),
    (
        CRON_TIMER,
        {"month": "foo"},
        [
            "parameter 'month': 'foo': 'foo' is not a number or a name "
            "(jan, feb, mar, apr, may, jun, jul, aug, sep, oct, nov, dec)"
        ],
    ),
    (CRON_TIMER, {"day": "2nd xyz"}, ["parameter 'day': '2nd xyz': 'xyz' is not a weekday (mon..sun)"]),
    (
        CRON_TIMER,
        {"second": "1;2"},
        ["parameter 'second': '1;2': cannot read '1;2'; write e.g. '*', '*/5', '1-5' or '1,15'"],
    ),
    (CRON_TIMER, {"minute": True}, ["parameter 'minute': must be a string or an integer, got True"]),
    (CRON_TIMER, {"minute": " "}, ["parameter 'minute': is empty; leave it out, or give a value such as '*' or '0'"]),
    (
        CRON_TIMER,
        {"day": 31, "month": "feb"},
        ["matches no date at all (e.g. day 31 in a 30-day month); check the day and month fields"],
    ),
    (
        CRON_TIMER,
        {"cron": "*/5 * * * *", "minute": 1},
        ["parameter 'cron': cannot be combined with the field parameters (minute); use one or the other"],
    ),
    (
        CRON_TIMER,
        {"cron": "* * *"},
        [
            "parameter 'cron': '* * *' has 3 fields; write 5 (minute hour day month day_of_week) "
            "or 6 (second first), e.g. '*/5 * * * *'"
        ],
    ),
    (
        CRON_TIMER,
        {"cron": "61 * * * *"},
        ["parameter 'cron': '61 * * * *' is not a valid cron expression: [61 * * * *] is not acceptable, out of range"],
    ),
    (CRON_TIMER, {"cron": 5}, ["parameter 'cron': must be a cron expression such as '*/5 * * * *', got 5"]),
]


@pytest.mark.parametrize(("trigger_type", "parameters", "expected"), BAD, ids=[str(p) for _, p, _ in BAD])
def test_bad_parameters(trigger_type: str, parameters: dict[str, Any], expected: list[str]) -> None:
    assert [str(problem) for problem in schedule_problems(trigger_type, parameters)] == expected
    with pytest.raises(TimerSpecError) as caught:
        parse_schedule(trigger_type, parameters)
    assert str(caught.value) == expected[0]
