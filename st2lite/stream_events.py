"""The event stream's pure logic: event names, filters, event ids, merging its two sources, SSE framing.

``GET /stream/v1/stream`` follows two Redis streams: the audit stream (every
execution created and every status change, every trigger instance received)
and the output events stream (every output line, :mod:`st2lite.output`).
Nothing here does I/O; :mod:`st2lite.api.streaming` reads Redis and uses these.

Event names are StackStorm's (``<exchange>__<routing key>``):

- ``st2.execution__create``, ``st2.execution__update``: data is the execution
  in the shape of ``GET /api/v1/executions/{id}``, as of that change;
- ``st2.execution.output__create``: one output line;
- ``st2.trigger_instance__create``: a trigger instance received (st2lite's own; StackStorm streams none).

``st2.execution__delete``, ``st2.liveaction__*`` and ``st2.announcement__*``
are accepted in filters (StackStorm emits them) but st2lite never emits them:
executions expire rather than being deleted, there is no separate live action,
and nothing in st2lite makes announcements.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from st2lite.exceptions import StreamError
from st2lite.statuses import COMPLETED

__all__ = [
    "ACCEPTED_EVENTS",
    "EMITTED_EVENTS",
    "EXECUTION_CREATE",
    "EXECUTION_UPDATE",
    "OUTPUT_CREATE",
    "TRIGGER_INSTANCE_CREATE",
    "EventCursor",
    "SourceEntry",
    "StreamFilter",
    "as_of",
    "audit_event_name",
    "heartbeat",
    "is_entry_id",
    "merge",
    "parse_filter",
    "sse",
    "trigger_instance_data",
]

EXECUTION_CREATE = "st2.execution__create"
EXECUTION_UPDATE = "st2.execution__update"
EXECUTION_DELETE = "st2.execution__delete"
OUTPUT_CREATE = "st2.execution.output__create"
TRIGGER_INSTANCE_CREATE = "st2.trigger_instance__create"
ANNOUNCEMENT_PREFIX = "st2.announcement__"
#: The events st2lite emits.
EMITTED_EVENTS = frozenset({EXECUTION_CREATE, EXECUTION_UPDATE, OUTPUT_CREATE, TRIGGER_INSTANCE_CREATE})
#: Names a filter may use: the emitted ones and StackStorm's others (never emitted here).
ACCEPTED_EVENTS = EMITTED_EVENTS | {
    EXECUTION_DELETE,
    "st2.liveaction__create",
    "st2.liveaction__update",
    "st2.liveaction__delete",
}
_COMPLETED = frozenset(s.value for s in COMPLETED)
_ENTRY_ID = re.compile(r"^\d+-\d+$")
#: Audit event kind -> stream event name.
_AUDIT_EVENTS = {
    "execution.created": EXECUTION_CREATE,
    "execution.status": EXECUTION_UPDATE,
    "trigger_instance.received": TRIGGER_INSTANCE_CREATE,
}


def _names(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    names = frozenset(part.strip() for part in value.split(",") if part.strip())
    return names or None


def _check_event(name: str, what: str) -> None:
    if name in ACCEPTED_EVENTS or (name.startswith(ANNOUNCEMENT_PREFIX) and len(name) > len(ANNOUNCEMENT_PREFIX)):
        return
    known = ", ".join(sorted(EMITTED_EVENTS))
    raise StreamError(f"unknown event {name!r} in {what}; st2lite emits {known}")


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """Which events a stream client wants, and after which one its stream ends (``None``: no restriction)."""

    events: frozenset[str] | None = None
    action_refs: frozenset[str] | None = None
    execution_ids: frozenset[str] | None = None
    end_event: str | None = None
    end_execution_id: str | None = None

    def wants_event(self, name: str) -> bool:
        return self.events is None or name in self.events

    def wants_execution(self, execution_id: str | None) -> bool:
        return self.execution_ids is None or execution_id in self.execution_ids

    def wants_action(self, action_ref: str | None) -> bool:
        return self.action_refs is None or action_ref in self.action_refs

    def ends_with(self, name: str, execution_id: str | None, status: str | None) -> bool:
        """True when the event just sent closes the stream (an ``st2.execution__update`` only once completed)."""
        if self.end_event is None or name != self.end_event or execution_id != self.end_execution_id:
            return False
        return name != EXECUTION_UPDATE or status in _COMPLETED


def parse_filter(
    *,
    events: str | None = None,
    action_refs: str | None = None,
    execution_ids: str | None = None,
    end_event: str | None = None,
    end_execution_id: str | None = None,
) -> StreamFilter:
    """The filter of the query parameters (comma-separated lists).

    Raises:
        StreamError: An unknown event name, or ``end_event`` without ``end_execution_id`` (or the reverse).
    """
    wanted = _names(events)
    for name in sorted(wanted or ()):
        _check_event(name, "events")
    if bool(end_event) != bool(end_execution_id):
        raise StreamError(
            "end_event and end_execution_id go together: the stream ends after that event for that execution"
        )
    if end_event:
        _check_event(end_event, "end_event")
    return StreamFilter(
        events=wanted,
        action_refs=_names(action_refs),
        execution_ids=_names(execution_ids),
        end_event=end_event or None,
        end_execution_id=end_execution_id or None,
    )


@dataclass(frozen=True, slots=True)
class EventCursor:
    """Where a stream client is in both sources: the last audit and output entry ids it was sent.

    Its text (``<audit id>_<output id>``) is each event's SSE ``id``, so a
    client that reconnects with ``Last-Event-ID`` resumes after that event.
    """

    audit: str
    output: str

    def text(self) -> str:
        return f"{self.audit}_{self.output}"

    @classmethod
    def parse(cls, text: str) -> EventCursor:
        """Raises :class:`StreamError` for anything :meth:`text` cannot have written."""
        audit, sep, output = text.strip().partition("_")
        if not sep or not _ENTRY_ID.match(audit) or not _ENTRY_ID.match(output):
            raise StreamError(
                f"Last-Event-ID {text!r} is not an id this stream sent (<audit id>_<output id>); "
                "reconnect without it to start from now"
            )
        return cls(audit, output)


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """One entry read from either source: ``audit`` True for the audit stream, else the output events stream."""

    audit: bool
    id: str
    fields: dict[str, str]
    #: When the event happened by its writer's clock (orders entries written in the same millisecond).
    at: str

    @property
    def ms(self) -> int:
        return int(self.id.partition("-")[0])


def merge(audit: Sequence[SourceEntry], output: Sequence[SourceEntry], *, count: int) -> tuple[list[SourceEntry], bool]:
    """Both sources' new entries in one order: by entry time (ms), then by the writers' own timestamps.

    Each source's own order is kept. A source that returned ``count`` entries
    may have more not read yet, so the other source's entries from its last
    millisecond on are held back for the next read (they may come after those).
    Returns the entries to send now and whether some were held back.
    """
    merged: list[SourceEntry] = []
    i = j = 0
    while i < len(audit) and j < len(output):
        a, o = audit[i], output[j]
        if (a.ms, a.at) <= (o.ms, o.at):
            merged.append(a)
            i += 1
        else:
            merged.append(o)
            j += 1
    merged.extend(audit[i:])
    merged.extend(output[j:])
    limits: list[tuple[bool, int]] = []
    if len(audit) >= count and audit:
        limits.append((True, audit[-1].ms))  # output entries at or after this ms wait
    if len(output) >= count and output:
        limits.append((False, output[-1].ms))
    if not limits:
        return merged, False
    for pos, entry in enumerate(merged):
        if any(entry.audit != full and entry.ms >= last for full, last in limits):
            if pos == 0:
                return merged, False  # cannot happen with distinct ms; never stall
            return merged[:pos], True
    return merged, False


def audit_event_name(fields: dict[str, Any]) -> str | None:
    """The stream event an audit event is, or ``None`` when it is none."""
    return _AUDIT_EVENTS.get(str(fields.get("kind")))


def _utc_z(timestamp: str | None) -> str | None:
    if not timestamp:
        return None
    return timestamp[:-6] + "Z" if timestamp.endswith("+00:00") else timestamp


def as_of(public: dict[str, Any], status: str, at: str | None) -> dict[str, Any]:
    """The public execution ``public`` (read now) as it was when it reached ``status`` at ``at``.

    Its log is cut after ``at`` and, while ``status`` is not a completed one,
    its result and end are left out: a client reading an update for
    ``running`` must not see it finished already.
    """
    out = dict(public)
    out["status"] = status
    when = _utc_z(at)
    if when and isinstance(out.get("log"), list):
        out["log"] = [entry for entry in out["log"] if str(entry.get("timestamp", "")) <= when]
    if status not in _COMPLETED:
        out.pop("result", None)
        out.pop("end_timestamp", None)
    return out


def trigger_instance_data(event: dict[str, Any]) -> dict[str, Any]:
    """``st2.trigger_instance__create`` data from its audit event (the payload is not in it: read it from
    ``GET /api/v1/triggerinstances/{id}`` once processed)."""
    data = event.get("data") or {}
    out: dict[str, Any] = {
        "id": event.get("trigger_instance"),
        "trigger": event.get("trigger"),
        "occurrence_time": _utc_z(event.get("at")),
        "status": "pending",
    }
    if isinstance(data, dict) and data.get("parameters"):
        out["parameters"] = data["parameters"]
    return out


def sse(event: str, data: Any, event_id: str | None = None) -> bytes:
    """One Server-Sent Event: ``id`` (when given), ``event`` and one ``data`` line of JSON."""
    head = f"id: {event_id}\nevent: {event}\n" if event_id else f"event: {event}\n"
    return head.encode() + b"data: " + orjson.dumps(data) + b"\n\n"


def heartbeat() -> bytes:
    """An SSE comment: clients ignore it, proxies and clients see the connection is alive."""
    return b": heartbeat\n\n"


def is_entry_id(text: str) -> bool:
    """True when ``text`` has the form of a Redis stream entry id (``<ms>-<seq>``)."""
    return bool(_ENTRY_ID.match(text))
