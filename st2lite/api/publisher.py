"""Publishing the trigger instances of concurrent webhook requests together, one script call per loop turn.

Each webhook request used to make its own Redis round trip, blocking the event
loop while it lasted: the API accepted one request per round trip. Here a
request queues its checked instances and awaits them; the first to queue
schedules a flush at the end of the current event-loop turn, which publishes
everything queued by then in one call of ``lua/publish_trigger.lua`` (each
instance with its audit event, atomically, in arrival order). A request is
answered only once its instances are on the stream, as before; if the call
fails, every request of the batch gets the error (503 when Redis is away).
"""

from __future__ import annotations

import asyncio

from st2lite.bus.redis import RedisBus
from st2lite.triggers import TriggerInstance

__all__ = ["BatchPublisher"]


class BatchPublisher:
    """Publishes on ``bus`` the instances queued during one event-loop turn in one script call."""

    def __init__(self, bus: RedisBus, *, max_batch: int = 256) -> None:
        self._bus = bus
        self._max_batch = max_batch
        self._queued: list[tuple[TriggerInstance, str]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._scheduled = False
        #: Script calls made and instances published so far (their ratio is the mean batch size).
        self.calls = 0
        self.published = 0

    async def publish(self, instances: list[TriggerInstance], *, actor: str) -> None:
        """Return once ``instances`` are on the trigger stream (raises what publishing raised)."""
        if not instances:
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queued += ((instance, actor) for instance in instances)
        self._waiters.append(done)
        if len(self._queued) >= self._max_batch:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)  # after the callbacks already due: the other requests of this turn
        await done

    def _flush(self) -> None:
        self._scheduled = False
        items, waiters = self._queued, self._waiters
        if not waiters:
            return
        self._queued, self._waiters = [], []
        try:
            self._bus.publish_many(items)
        except Exception as exc:  # every request of the batch answers with the error
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        self.calls += 1
        self.published += len(items)
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
