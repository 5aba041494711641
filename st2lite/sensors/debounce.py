"""Pure: turn a burst of file system events into one event per file.

Writing one file produces several raw events (``created``, then a
``modified`` per flush, sometimes a ``closed``); an editor's save may be
``deleted`` + ``created``. :class:`Debouncer` collects the events per path
and releases one settled event once the path has been quiet for
``quiet`` seconds (or after ``max_delay`` seconds of continuous activity,
so a file written for ever is still reported). The merge rules, for a
path with an event pending:

=============  ===========  ==========================================
pending        new          result
=============  ===========  ==========================================
created        modified     created (a new file being written)
created        deleted      nothing (a file that came and went)
modified       deleted      deleted
deleted        created      modified (the file was replaced)
deleted        modified     modified
any            moved        moved (the file left this path)
moved          any          the move is released, the new event waits
same           same         same
=============  ===========  ==========================================

Time is passed in by the caller (``now``), so the rules are tested without
clocks or threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["EVENT_KINDS", "Debouncer", "EventKind", "Settled", "merge"]

EventKind = Literal["created", "modified", "moved", "deleted"]

#: The file events st2lite reports, in the order the docs list them.
EVENT_KINDS: Final[tuple[EventKind, ...]] = ("created", "modified", "moved", "deleted")


@dataclass(frozen=True)
class Settled:
    """One debounced event: what happened to ``path`` (moved to ``dest_path``)."""

    kind: EventKind
    path: str
    dest_path: str | None = None
    is_directory: bool = False


@dataclass
class _Pending:
    kind: EventKind
    dest_path: str | None
    is_directory: bool
    first: float
    last: float


_SPLIT: Final = "split"

_MERGED: Final[dict[tuple[EventKind, EventKind], EventKind | None]] = {
    ("created", "modified"): "created",
    ("created", "deleted"): None,
    ("modified", "created"): "modified",
    ("modified", "deleted"): "deleted",
    ("deleted", "created"): "modified",
    ("deleted", "modified"): "modified",
}


def merge(pending: EventKind, new: EventKind) -> EventKind | None | Literal["split"]:
    """The event that ``pending`` followed by ``new`` on one path amounts to.

    ``None`` means nothing happened (created then deleted); ``"split"`` means
    ``pending`` (a move) must be released on its own before ``new`` is kept.
    """
    if pending == "moved":
        return _SPLIT
    if new == "moved" or pending == new:
        return new
    return _MERGED[(pending, new)]


class Debouncer:
    """Collects raw events per path and releases them settled (see the module doc).

    Args:
        quiet: Seconds without a new event on a path before its event is released.
        max_delay: Release a path's event at the latest this many seconds after its first raw
            event, even while it keeps changing (default: 20 quiet periods, at least 5 seconds).
    """

    def __init__(self, quiet: float, max_delay: float | None = None) -> None:
        if quiet < 0:
            raise ValueError(f"quiet period must be 0 or more seconds, got {quiet}")
        self.quiet = quiet
        self.max_delay = max_delay if max_delay is not None else max(quiet * 20, 5.0)
        self._pending: dict[str, _Pending] = {}
        self._ready: list[Settled] = []

    def __len__(self) -> int:
        """Events waiting to be released."""
        return len(self._pending) + len(self._ready)

    def add(
        self, kind: EventKind, path: str, now: float, *, dest_path: str | None = None, is_directory: bool = False
    ) -> None:
        """Record one raw event on ``path`` at time ``now`` (``dest_path`` for a move)."""
        pending = self._pending.get(path)
        if pending is None:
            self._pending[path] = _Pending(kind, dest_path, is_directory, now, now)
            return
        merged = merge(pending.kind, kind)
        if merged == _SPLIT:
            self._ready.append(Settled(pending.kind, path, pending.dest_path, pending.is_directory))
            self._pending[path] = _Pending(kind, dest_path, is_directory, now, now)
        elif merged is None:
            del self._pending[path]
        else:
            pending.kind = merged
            pending.dest_path = dest_path if merged == "moved" else None
            pending.is_directory = is_directory
            pending.last = now

    def due(self, now: float) -> list[Settled]:
        """Remove and return the events settled at ``now``, oldest first."""
        released, self._ready = self._ready, []
        settled = [
            path for path, p in self._pending.items() if now - p.last >= self.quiet or now - p.first >= self.max_delay
        ]
        settled.sort(key=lambda path: self._pending[path].first)
        for path in settled:
            p = self._pending.pop(path)
            released.append(Settled(p.kind, path, p.dest_path, p.is_directory))
        return released
