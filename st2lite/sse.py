"""Reading Server-Sent Events: a small parser of the ``text/event-stream`` format (pure, no I/O).

The CLI follows st2lite's streams with it (``st2lite execution tail``); it
handles what the format allows (``event``, ``data`` over several lines, ``id``,
comments, fields without a space after the colon), which is more than the
st2lite server sends (one ``data`` line of JSON per event).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["SseEvent", "parse_events"]


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One event: its name (``message`` when the server gave none), its data and its id (``""`` when none)."""

    event: str
    data: str
    id: str = ""


def parse_events(lines: Iterable[str]) -> Iterator[SseEvent]:
    """The events in ``lines`` (the stream's lines without their line endings), as each one completes."""
    event, event_id = "", ""
    data: list[str] = []
    for line in lines:
        if not line:
            if data or event:
                yield SseEvent(event or "message", "\n".join(data), event_id)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue  # a comment (the server's heartbeat)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
