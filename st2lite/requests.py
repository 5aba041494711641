"""The request stream: executions waiting to be scheduled onto the worker queue."""

from __future__ import annotations

from st2lite import keys
from st2lite.redisdb import Pipeline, Redis
from st2lite.streams import StreamGroup

__all__ = ["Request", "RequestQueue"]

#: Stream entry field holding the execution id.
FIELD = "x"

#: ``(stream entry id, execution id)``
Request = tuple[str, str]


class RequestQueue:
    """Execution ids on ``st2lite:requests``, consumed by the schedulers' group."""

    def __init__(self, client: Redis, *, maxlen: int) -> None:
        self.stream = StreamGroup(client, keys.REQUEST_STREAM, keys.SCHEDULER_GROUP, maxlen=maxlen)

    def ensure_group(self) -> None:
        self.stream.ensure_group()

    def add_in(self, pipe: Pipeline | Redis, execution_id: str) -> None:
        """Queue the request to schedule ``execution_id``."""
        self.stream.add_in(pipe, {FIELD: execution_id})

    def read(self, consumer: str, *, count: int, block_ms: int | None) -> list[Request]:
        return [(eid, f.get(FIELD, "")) for eid, f in self.stream.read(consumer, count=count, block_ms=block_ms)]

    def reclaim(self, consumer: str, *, min_idle_ms: int, count: int) -> list[Request]:
        entries = self.stream.reclaim(consumer, min_idle_ms=min_idle_ms, count=count)
        return [(eid, f.get(FIELD, "")) for eid, f in entries]

    def ack_in(self, pipe: Pipeline | Redis, entry_ids: list[str]) -> None:
        self.stream.ack_in(pipe, entry_ids)
