"""Pure: timer schedules from timer triggers, their parameter checks, and when they fire next.

Three trigger types of pack ``core`` are timers (see docs/timers.md):

* ``core.st2.IntervalTimer``: every ``delta`` ``unit`` (weeks, days, hours,
  minutes, seconds), counted from when the timer was first scheduled.
* ``core.st2.CronTimer``: StackStorm's field-style parameters (``year``,
  ``month``, ``day``, ``week``, ``day_of_week``, ``hour``, ``minute``,
  ``second``) with APScheduler's cron semantics, or st2lite's ``cron``
  parameter holding a plain 5- or 6-field cron expression.
* ``core.st2.DateTimer``: once, at ``date``.

Cron schedules are evaluated on the wall clock of the timer's ``timezone``
(IANA name, default ``UTC``). Around daylight-saving changes: a wall time
that does not exist (spring forward) fires at the same wall time read with
the offset before the jump (02:30 -> 03:30 summer time), once; a wall time that
occurs twice (autumn) fires once, at its first occurrence, unless the schedule
runs every hour, in which case the repeated hour fires again (an
"every 5 minutes" timer keeps firing every 5 minutes of real time).

Nothing here does I/O: the timer engine (:mod:`st2lite.sensors.timer_engine`)
keeps the state in Redis and asks :func:`next_fire` for each next tick.
"""

from __future__ import annotations

import bisect
import calendar
import difflib
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from croniter import croniter  # type: ignore[import-untyped]
from croniter.croniter import CroniterError  # type: ignore[import-untyped]

from st2lite.exceptions import TimerSpecError
from st2lite.triggers import CRON_TIMER, DATE_TIMER, INTERVAL_TIMER

__all__ = [
    "CRON_EXPRESSION",
    "CRON_FIELDS",
    "DEFAULT_TIMEZONE",
    "TIMER_TYPES",
    "CronSchedule",
    "DateSchedule",
    "DayRule",
    "IntervalSchedule",
    "Schedule",
    "TimerSpec",
    "executed_at",
    "next_fire",
    "parse_schedule",
    "schedule_problems",
    "timer_payload",
    "timer_spec",
]

#: The timer trigger types, all served by the timer engine.
TIMER_TYPES: tuple[str, ...] = (INTERVAL_TIMER, CRON_TIMER, DATE_TIMER)
#: APScheduler's cron fields, most significant first (the order matters for their defaults).
CRON_FIELDS: tuple[str, ...] = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
#: st2lite's CronTimer parameter holding a plain cron expression (instead of the fields).
CRON_EXPRESSION = "cron"
#: The time zone of a timer without ``timezone`` (StackStorm's default is America/Los_Angeles).
DEFAULT_TIMEZONE = "UTC"
#: IntervalTimer units, in seconds.
UNITS: dict[str, int] = {"weeks": 604_800, "days": 86_400, "hours": 3_600, "minutes": 60, "seconds": 1}
#: Bumped when the meaning of a timer's parameters changes, so stored schedules restart.
_SEMANTICS_VERSION = "1"

_RANGES: dict[str, tuple[int, int]] = {
    "year": (1970, 9999),
    "month": (1, 12),
    "day": (1, 31),
    "week": (1, 53),
    "day_of_week": (0, 6),
    "hour": (0, 23),
    "minute": (0, 59),
    "second": (0, 59),
}
#: APScheduler's value for a field less significant than the least significant one given.
_DEFAULTS: dict[str, str] = {
    "year": "*",
    "month": "1",
    "day": "1",
    "week": "*",
    "day_of_week": "*",
    "hour": "0",
    "minute": "0",
    "second": "0",
}
_MONTHS = {name: i for i, name in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                             "nov", "dec"), start=1)}  # fmt: skip
_WEEKDAYS = {name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))}
_NAMES: dict[str, dict[str, int]] = {"month": _MONTHS, "day_of_week": _WEEKDAYS}
_ORDINALS = {"1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5}
_TOKEN = re.compile(r"^(?P<first>\*|[a-z0-9]+)(?:-(?P<last>[a-z0-9]+))?(?:/(?P<step>[^/]*))?$")
_POSITION = re.compile(r"^(?P<nth>1st|2nd|3rd|4th|5th|last)\s+(?P<weekday>[a-z]+)$")
#: How many matching-year days :func:`_next_date` examines before deciding a schedule never fires again.
_SEARCH_DAYS = 366 * 30
#: Wider than any daylight-saving shift: how far around a transition candidates are compared.
_DST_WINDOW = timedelta(hours=3)


# --- schedules ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntervalSchedule:
    """Every ``seconds`` seconds of real time."""

    seconds: int


@dataclass(frozen=True)
class DateSchedule:
    """Once, at ``at`` (aware, UTC)."""

    at: datetime


@dataclass(frozen=True)
class DayRule:
    """Which days one day field (day of month, or day of week) allows; ``any``: ``*``."""

    any: bool = True
    days: frozenset[int] = frozenset()
    #: Monday = 0 .. Sunday = 6 (Python's and APScheduler's numbering).
    weekdays: frozenset[int] = frozenset()
    last_day: bool = False
    #: (n, weekday): the n-th such weekday of the month (1..5).
    nth: frozenset[tuple[int, int]] = frozenset()
    #: Weekdays allowed only as the last of their kind in the month.
    last_weekdays: frozenset[int] = frozenset()

    def matches(self, day: date) -> bool:
        if self.any:
            return True
        length = calendar.monthrange(day.year, day.month)[1]
        weekday = day.weekday()
        return (
            day.day in self.days
            or (self.last_day and day.day == length)
            or weekday in self.weekdays
            or ((day.day - 1) // 7 + 1, weekday) in self.nth
            or (weekday in self.last_weekdays and day.day + 7 > length)
        )


@dataclass(frozen=True)
class CronSchedule:
    """The allowed values of each cron field; ``None``: any."""

    years: tuple[int, ...] | None
    months: frozenset[int] | None
    weeks: frozenset[int] | None
    day: DayRule
    weekday: DayRule
    #: Standard cron: when both day fields are restricted a day matching *either* fires (APScheduler: both).
    either_day: bool
    hours: tuple[int, ...]
    minutes: tuple[int, ...]
    seconds: tuple[int, ...]

    def date_matches(self, day: date) -> bool:
        if self.months is not None and day.month not in self.months:
            return False
        if self.weeks is not None and day.isocalendar().week not in self.weeks:
            return False
        if self.either_day:
            return self.day.matches(day) or self.weekday.matches(day)
        return self.day.matches(day) and self.weekday.matches(day)


Schedule = IntervalSchedule | CronSchedule | DateSchedule


@dataclass(frozen=True)
class TimerSpec:
    """One timer: the concrete trigger (id, type, name, parameters) and its parsed schedule."""

    id: str
    type: str
    name: str
    parameters: dict[str, Any]
    timezone: str
    schedule: Schedule

    @property
    def fingerprint(self) -> str:
        """Changes whenever the schedule would: stored state with another fingerprint restarts."""
        canonical = orjson.dumps(self.parameters, option=orjson.OPT_SORT_KEYS, default=str)
        raw = f"{_SEMANTICS_VERSION}|{self.type}|".encode() + canonical
        return hashlib.sha256(raw).hexdigest()[:16]

    @property
    def trace_tag(self) -> str:
        """StackStorm's trace tag of a timer's instances: ``<TimerTypeName>-<trigger name>``."""
        return f"{self.type.partition('.')[2]}-{self.name}"


def timer_spec(trigger: Mapping[str, Any]) -> TimerSpec:
    """The spec of a trigger dict from :func:`st2lite.sensors.triggers.concrete_triggers`.

    Raises:
        TimerSpecError: the parameters are invalid (the first problem).
    """
    parameters = dict(trigger.get("parameters") or {})
    schedule, zone = parse_schedule(trigger["type"], parameters)
    return TimerSpec(
        id=trigger["id"],
        type=trigger["type"],
        name=trigger["name"],
        parameters=parameters,
        timezone=zone,
        schedule=schedule,
    )


def parse_schedule(trigger_type: str, parameters: Mapping[str, Any]) -> tuple[Schedule, str]:
    """The schedule and time zone name of a timer trigger; raises the first :class:`TimerSpecError`."""
    problems = schedule_problems(trigger_type, parameters)
    if problems:
        raise problems[0]
    return _build(trigger_type, parameters)


def schedule_problems(trigger_type: str, parameters: Mapping[str, Any]) -> list[TimerSpecError]:
    """Every problem with a timer trigger's parameters (empty: valid), one per parameter."""
    if trigger_type not in TIMER_TYPES:
        return [TimerSpecError(f"'{trigger_type}' is not a timer; use one of {', '.join(TIMER_TYPES)}")]
    problems = _unknown_parameters(trigger_type, parameters)
    checks = {INTERVAL_TIMER: _interval_problems, CRON_TIMER: _cron_problems, DATE_TIMER: _date_problems}
    problems += checks[trigger_type](parameters)
    if "timezone" in parameters:
        try:
            _zone(parameters["timezone"])
        except TimerSpecError as exc:
            problems.append(exc)
    if not problems:
        try:
            _build(trigger_type, parameters)
        except TimerSpecError as exc:
            problems.append(exc)
    return problems


def _allowed(trigger_type: str) -> tuple[str, ...]:
    if trigger_type == INTERVAL_TIMER:
        return ("unit", "delta", "timezone")
    if trigger_type == DATE_TIMER:
        return ("date", "timezone")
    return (*CRON_FIELDS, CRON_EXPRESSION, "timezone")


def _unknown_parameters(trigger_type: str, parameters: Mapping[str, Any]) -> list[TimerSpecError]:
    allowed = _allowed(trigger_type)
    problems = []
    for name in parameters:
        if name not in allowed:
            close = difflib.get_close_matches(str(name), allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"use some of: {', '.join(allowed)}"
            problems.append(TimerSpecError(f"unknown parameter of {trigger_type}; {hint}", parameter=str(name)))
    return problems


def _interval_problems(parameters: Mapping[str, Any]) -> list[TimerSpecError]:
    problems = []
    unit = parameters.get("unit")
    if unit is None:
        problems.append(TimerSpecError(f"is required; one of {', '.join(UNITS)}", parameter="unit"))
    elif unit not in UNITS:
        problems.append(TimerSpecError(f"{unit!r} is not a unit; use one of {', '.join(UNITS)}", parameter="unit"))
    delta = parameters.get("delta")
    if delta is None:
        problems.append(TimerSpecError("is required: how many units between two fires", parameter="delta"))
    elif isinstance(delta, bool) or not isinstance(delta, int) or delta <= 0:
        problems.append(TimerSpecError(f"must be a whole number above 0, got {delta!r}", parameter="delta"))
    return problems


def _date_problems(parameters: Mapping[str, Any]) -> list[TimerSpecError]:
    if "date" not in parameters:
        return [TimerSpecError("is required: when to fire, e.g. '2026-12-24 18:00:00'", parameter="date")]
    try:
        _parse_date(parameters["date"], ZoneInfo(DEFAULT_TIMEZONE))
    except TimerSpecError as exc:
        return [exc]
    return []


def _cron_problems(parameters: Mapping[str, Any]) -> list[TimerSpecError]:
    fields = [name for name in CRON_FIELDS if name in parameters]
    if CRON_EXPRESSION in parameters:
        if fields:
            message = f"cannot be combined with the field parameters ({', '.join(fields)}); use one or the other"
            return [TimerSpecError(message, parameter=CRON_EXPRESSION)]
        try:
            _plain_cron(parameters[CRON_EXPRESSION])
        except TimerSpecError as exc:
            return [exc]
        return []
    if not fields:
        return [
            TimerSpecError(
                f"give at least one of {', '.join(CRON_FIELDS)}, or '{CRON_EXPRESSION}' with a cron expression "
                "(with none, APScheduler would fire every second)"
            )
        ]
    problems = []
    for name in fields:
        try:
            _field_rule(name, parameters[name])
        except TimerSpecError as exc:
            problems.append(exc)
    return problems


def _build(trigger_type: str, parameters: Mapping[str, Any]) -> tuple[Schedule, str]:
    zone_name = parameters.get("timezone") or DEFAULT_TIMEZONE
    zone = _zone(zone_name)
    schedule: Schedule
    if trigger_type == INTERVAL_TIMER:
        schedule = IntervalSchedule(seconds=UNITS[parameters["unit"]] * int(parameters["delta"]))
    elif trigger_type == DATE_TIMER:
        schedule = DateSchedule(at=_parse_date(parameters["date"], zone))
    elif CRON_EXPRESSION in parameters:
        schedule = _plain_cron(parameters[CRON_EXPRESSION])
    else:
        schedule = _field_schedule(parameters)
    if isinstance(schedule, CronSchedule) and _next_wall(schedule, datetime(1970, 1, 1)) is None:
        raise TimerSpecError("matches no date at all (e.g. day 31 in a 30-day month); check the day and month fields")
    return schedule, str(zone_name)


# --- parameters --------------------------------------------------------------------------------------


def _zone(name: Any) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise TimerSpecError(f"must be a time zone name such as 'UTC' or 'Europe/Paris', got {name!r}", "timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TimerSpecError(
            f"unknown time zone {name!r}; use an IANA name such as 'UTC', 'Europe/Paris' or 'America/New_York'",
            parameter="timezone",
        ) from exc


def _parse_date(value: Any, zone: ZoneInfo) -> datetime:
    """An ISO 8601 date and time (a naive one is read in ``zone``), as aware UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError as exc:
            raise TimerSpecError(
                f"{value!r} is not an ISO 8601 date and time; write e.g. '2026-12-24 18:00:00' "
                "(read in 'timezone') or '2026-12-24T18:00:00+01:00'",
                parameter="date",
            ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _text(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TimerSpecError(f"must be a string or an integer, got {value!r}", parameter=name)
    text = str(value).strip().lower()
    if not text:
        raise TimerSpecError("is empty; leave it out, or give a value such as '*' or '0'", parameter=name)
    return text


def _field_value(name: str, token: str, original: Any) -> int:
    names = _NAMES.get(name, {})
    if token in names:
        return names[token]
    if not token.isdigit():
        known = f" or a name ({', '.join(names)})" if names else ""
        raise TimerSpecError(f"{original!r}: {token!r} is not a number{known}", parameter=name)
    low, high = _RANGES[name]
    number = int(token)
    if not low <= number <= high:
        raise TimerSpecError(f"{original!r}: {number} is out of range {low}-{high}", parameter=name)
    return number


def _field_values(name: str, expression: str, original: Any) -> set[int] | None:
    """The values one APScheduler field expression allows (``None``: ``*``)."""
    low, high = _RANGES[name]
    values: set[int] = set()
    for part in expression.split(","):
        token = part.strip()
        match = _TOKEN.match(token)
        if match is None:
            raise TimerSpecError(f"{original!r}: cannot read {token!r}; write e.g. '*', '*/5', '1-5' or '1,15'", name)
        first, last, step_text = match["first"], match["last"], match["step"]
        step = 1
        if step_text is not None:
            if not step_text.isdigit() or int(step_text) < 1:
                raise TimerSpecError(f"{original!r}: the step after '/' must be a whole number of 1 or more", name)
            step = int(step_text)
        if first == "*":
            if last is not None:
                raise TimerSpecError(f"{original!r}: '*' cannot start a range", name)
            if step == 1 and len(expression.split(",")) == 1:
                return None
            start, end = low, high
        else:
            start = _field_value(name, first, original)
            # APScheduler: 'a/n' runs from a to the field's maximum.
            end = high if step_text is not None else start
            if last is not None:
                end = _field_value(name, last, original)
            if start > end:
                raise TimerSpecError(f"{original!r}: the range {token!r} starts after it ends", name)
        values.update(range(start, end + 1, step))
    return values


def _field_rule(name: str, value: Any) -> set[int] | DayRule | None:
    """Parse one field parameter; ``day`` and ``day_of_week`` give a :class:`DayRule`."""
    text = _text(name, value)
    if name != "day":
        values = _field_values(name, text, value)
        if name == "day_of_week":
            return DayRule() if values is None else DayRule(any=False, weekdays=frozenset(values))
        return values
    days: set[int] = set()
    nth: set[tuple[int, int]] = set()
    last_weekdays: set[int] = set()
    last_day = False
    plain = []
    for part in text.split(","):
        token = " ".join(part.split())
        position = _POSITION.match(token)
        if token == "last":
            last_day = True
        elif position is not None:
            weekday = _WEEKDAYS.get(position["weekday"])
            if weekday is None:
                raise TimerSpecError(f"{value!r}: {position['weekday']!r} is not a weekday (mon..sun)", name)
            if position["nth"] == "last":
                last_weekdays.add(weekday)
            else:
                nth.add((_ORDINALS[position["nth"]], weekday))
        else:
            plain.append(token)
    if plain:
        values = _field_values(name, ",".join(plain), value)
        if values is None:
            if not (last_day or nth or last_weekdays):
                return DayRule()
            values = set(range(1, 32))
        days = values
    return DayRule(
        any=False,
        days=frozenset(days),
        last_day=last_day,
        nth=frozenset(nth),
        last_weekdays=frozenset(last_weekdays),
    )


def _field_schedule(parameters: Mapping[str, Any]) -> CronSchedule:
    """APScheduler's CronTrigger: fields less significant than the least significant given one take
    their minimum (``{hour: 9}`` is 09:00:00 only), more significant ones ``*``; ``week`` and
    ``day_of_week`` default to ``*``."""
    last_given = max(i for i, name in enumerate(CRON_FIELDS) if name in parameters)
    rules: dict[str, Any] = {}
    for index, name in enumerate(CRON_FIELDS):
        if name in parameters:
            rules[name] = _field_rule(name, parameters[name])
        else:
            rules[name] = _field_rule(name, _DEFAULTS[name] if index > last_given else "*")
    years = rules["year"]
    return CronSchedule(
        years=None if years is None else tuple(sorted(years)),
        months=None if rules["month"] is None else frozenset(rules["month"]),
        weeks=None if rules["week"] is None else frozenset(rules["week"]),
        day=rules["day"],
        weekday=rules["day_of_week"],
        either_day=False,
        hours=_all_or(rules["hour"], 0, 23),
        minutes=_all_or(rules["minute"], 0, 59),
        seconds=_all_or(rules["second"], 0, 59),
    )


def _all_or(values: set[int] | None, low: int, high: int) -> tuple[int, ...]:
    return tuple(range(low, high + 1)) if values is None else tuple(sorted(values))


def _plain_cron(value: Any) -> CronSchedule:
    """A plain cron expression: ``minute hour day month day_of_week`` with standard cron meanings
    (day of week 0 or 7 = Sunday; a day matching either restricted day field fires), optionally
    preceded by a ``second`` field (6 fields), or an alias such as ``@hourly``; parsed by croniter."""
    if not isinstance(value, str) or not value.strip():
        raise TimerSpecError(f"must be a cron expression such as '*/5 * * * *', got {value!r}", CRON_EXPRESSION)
    expression = " ".join(value.split())
    count = len(expression.split(" "))
    if not expression.startswith("@") and count not in (5, 6):
        raise TimerSpecError(
            f"{value!r} has {count} fields; write 5 (minute hour day month day_of_week) "
            "or 6 (second first), e.g. '*/5 * * * *'",
            CRON_EXPRESSION,
        )
    try:
        fields, nth = croniter.expand(expression, second_at_beginning=count == 6)
    except (CroniterError, ValueError, KeyError, IndexError) as exc:
        raise TimerSpecError(f"{value!r} is not a valid cron expression: {exc}", CRON_EXPRESSION) from exc
    minutes, hours, days, months, weekdays = fields[:5]
    seconds = fields[5] if len(fields) > 5 else [0]
    day_rule, weekday_rule = DayRule(), DayRule()
    if days != ["*"]:
        if any(d != "l" and not isinstance(d, int) for d in days):
            raise TimerSpecError(f"{value!r}: unsupported day of month {days!r}", CRON_EXPRESSION)
        day_rule = DayRule(any=False, days=frozenset(d for d in days if isinstance(d, int)), last_day="l" in days)
    if weekdays != ["*"]:
        plain: set[int] = set()
        positions: set[tuple[int, int]] = set()
        last: set[int] = set()
        for number in weekdays:
            if not isinstance(number, int):
                raise TimerSpecError(f"{value!r}: unsupported day of week {number!r}", CRON_EXPRESSION)
            weekday = (number + 6) % 7  # cron: 0 = Sunday; here: 0 = Monday
            for n in nth.get(number, ()) or ("plain",):
                if n == "plain":
                    plain.add(weekday)
                elif n == "l":
                    last.add(weekday)
                else:
                    positions.add((int(n), weekday))
        weekday_rule = DayRule(
            any=False, weekdays=frozenset(plain), nth=frozenset(positions), last_weekdays=frozenset(last)
        )
    return CronSchedule(
        years=None,
        months=None if months == ["*"] else frozenset(int(m) for m in months),
        weeks=None,
        day=day_rule,
        weekday=weekday_rule,
        either_day=not day_rule.any and not weekday_rule.any,
        hours=_expanded(hours, 0, 23),
        minutes=_expanded(minutes, 0, 59),
        seconds=_expanded(seconds, 0, 59),
    )


def _expanded(values: list[Any], low: int, high: int) -> tuple[int, ...]:
    if values == ["*"]:
        return tuple(range(low, high + 1))
    return tuple(sorted({int(v) for v in values}))


# --- when next ---------------------------------------------------------------------------------------


def next_fire(spec: TimerSpec, after: datetime, *, previous: datetime | None = None) -> datetime | None:
    """The first tick of ``spec`` strictly after ``after`` (aware), as aware UTC; ``None``: never again.

    ``previous`` is the last tick scheduled for the timer, if any: an interval
    timer stays on its grid (``previous + n * interval``; ticks missed while no
    engine ran are skipped, so a late engine fires the due tick once and then
    the next one on the grid), and a date timer that already had its tick is done.
    Without ``previous`` an interval timer first fires one interval after ``after``
    (StackStorm starts the interval when the timer is created).
    """
    after = after.astimezone(UTC)
    schedule = spec.schedule
    if isinstance(schedule, IntervalSchedule):
        step = timedelta(seconds=schedule.seconds)
        if previous is None:
            return after + step
        previous = previous.astimezone(UTC)
        count = 1 if after < previous else (after - previous) // step + 1
        return previous + count * step
    if isinstance(schedule, DateSchedule):
        return schedule.at if previous is None and schedule.at > after else None
    return _cron_next(schedule, ZoneInfo(spec.timezone), after)


def _cron_next(schedule: CronSchedule, zone: ZoneInfo, after: datetime) -> datetime | None:
    every_hour = len(schedule.hours) == 24
    wall = after.astimezone(zone).replace(tzinfo=None)
    # Near a daylight-saving change, a later wall time can be an earlier instant (the repeated hour):
    # look a little further back and forward, and keep the earliest instant after ``after``.
    near_change = (
        every_hour
        and (after - _DST_WINDOW).astimezone(zone).utcoffset() != (after + _DST_WINDOW).astimezone(zone).utcoffset()
    )
    if near_change:
        wall -= _DST_WINDOW
    best: datetime | None = None
    while True:
        found = _next_wall(schedule, wall)
        if found is None:
            return best
        wall = found
        for fold in (0, 1) if every_hour else (0,):
            instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
            if instant > after and (best is None or instant < best):
                best = instant
        if best is not None and (not near_change or wall > best.astimezone(zone).replace(tzinfo=None) + _DST_WINDOW):
            return best


def _next_wall(schedule: CronSchedule, wall: datetime) -> datetime | None:
    """The first wall-clock time (naive) matching ``schedule`` strictly after ``wall``."""
    today = wall.date()
    moment = _time_after(schedule, wall.time())
    if moment is not None and _year_ok(schedule, today) and schedule.date_matches(today):
        return datetime.combine(today, moment)
    if today == date.max:
        return None
    day = _next_date(schedule, today + timedelta(days=1))
    if day is None:
        return None
    return datetime.combine(day, time(schedule.hours[0], schedule.minutes[0], schedule.seconds[0]))


def _year_ok(schedule: CronSchedule, day: date) -> bool:
    return schedule.years is None or day.year in schedule.years


def _time_after(schedule: CronSchedule, moment: time) -> time | None:
    """The first allowed time of day strictly after ``moment`` (same day), if any."""
    hours, minutes, seconds = schedule.hours, schedule.minutes, schedule.seconds
    for hour in hours[bisect.bisect_left(hours, moment.hour) :]:
        if hour > moment.hour:
            return time(hour, minutes[0], seconds[0])
        for minute in minutes[bisect.bisect_left(minutes, moment.minute) :]:
            if minute > moment.minute:
                return time(hour, minute, seconds[0])
            index = bisect.bisect_right(seconds, moment.second)
            if index < len(seconds):
                return time(hour, minute, seconds[index])
    return None


def _next_date(schedule: CronSchedule, start: date) -> date | None:
    """The first date from ``start`` on that the schedule allows (``None`` within the search horizon)."""
    day = start
    examined = 0
    while examined < _SEARCH_DAYS:
        if schedule.years is not None and day.year not in schedule.years:
            later = [y for y in schedule.years if y > day.year]
            if not later:
                return None
            day = date(later[0], 1, 1)
            continue
        if schedule.months is not None and day.month not in schedule.months:
            if day.year == date.max.year and day.month == 12:
                return None
            day = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
            continue
        if schedule.date_matches(day):
            return day
        if day == date.max:
            return None
        day += timedelta(days=1)
        examined += 1
    return None


# --- payload -----------------------------------------------------------------------------------------


def executed_at(tick: datetime) -> str:
    """StackStorm's ``executed_at``: the UTC time as ``str()`` of a naive datetime (``2026-11-22 22:00:05``)."""
    return str(tick.astimezone(UTC).replace(tzinfo=None))


def timer_payload(tick: datetime) -> dict[str, Any]:
    """The payload of a timer's instance for ``tick``; ``schedule`` is always null, as in StackStorm."""
    return {"executed_at": executed_at(tick), "schedule": None}


def specs_of(triggers: Iterable[Mapping[str, Any]]) -> tuple[dict[str, TimerSpec], dict[str, TimerSpecError]]:
    """Specs of many trigger dicts by id, and the errors of those that are invalid."""
    specs: dict[str, TimerSpec] = {}
    errors: dict[str, TimerSpecError] = {}
    for trigger in triggers:
        try:
            specs[trigger["id"]] = timer_spec(trigger)
        except TimerSpecError as exc:
            errors[trigger["id"]] = exc
    return specs, errors
