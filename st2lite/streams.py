"""A Redis stream read through a consumer group: at-least-once delivery until acknowledged.

Both the trigger bus and the execution request queue are one of these. A
consumer reads new entries, does its writes and acknowledges in the same
transaction (:meth:`StreamGroup.ack_in`); entries another consumer left
unacknowledged for longer than ``min_idle_ms`` are taken over with
:meth:`StreamGroup.reclaim`.
"""

from __future__ import annotations

from typing import Any

from st2lite.redisdb import Pipeline, Redis, ResponseError

__all__ = ["StreamGroup"]

Entry = tuple[str, dict[str, Any]]


class StreamGroup:
    """One stream and one consumer group on it."""

    def __init__(self, client: Redis, stream: str, group: str, *, maxlen: int) -> None:
        self._client = client
        self.stream = stream
        self.group = group
        self._maxlen = maxlen

    def ensure_group(self) -> None:
        """Create the stream and the group if they do not exist yet."""
        try:
            self._client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def add_in(self, pipe: Pipeline | Redis, fields: dict[str, Any]) -> None:
        """Queue an XADD of ``fields`` (trimmed to about ``maxlen`` entries)."""
        pipe.xadd(self.stream, fields, maxlen=self._maxlen, approximate=True)

    def read(self, consumer: str, *, count: int, block_ms: int | None) -> list[Entry]:
        """New entries for ``consumer``; waits up to ``block_ms`` (None: do not wait)."""
        reply = self._client.xreadgroup(self.group, consumer, {self.stream: ">"}, count=count, block=block_ms)
        out: list[Entry] = []
        for _stream, entries in reply or []:
            out.extend(entries)
        return out

    def reclaim(self, consumer: str, *, min_idle_ms: int, count: int) -> list[Entry]:
        """Entries pending longer than ``min_idle_ms`` at any consumer, now owned by ``consumer``."""
        reply = self._client.xautoclaim(
            self.stream, self.group, consumer, min_idle_time=min_idle_ms, start_id="0-0", count=count
        )
        entries = reply[1] if reply else []
        # Entries trimmed from the stream while pending come back empty: nothing to process.
        return [(eid, fields) for eid, fields in entries if fields]

    def ack_in(self, pipe: Pipeline | Redis, entry_ids: list[str]) -> None:
        """Queue the acknowledgement of ``entry_ids``."""
        if entry_ids:
            pipe.xack(self.stream, self.group, *entry_ids)

    def pending(self) -> int:
        """Entries delivered and not yet acknowledged."""
        info: Any = self._client.xpending(self.stream, self.group)
        return int(info["pending"])
