"""Server-Sent Event streams: the response that runs them, their bookkeeping, and what they read from Redis.

One open stream costs one coroutine and one Redis connection, which spends
its time blocked in ``XREAD BLOCK`` on the Redis side; no thread is held, so
idle stream clients take nothing from the thread pool the other routes run
in. When the client goes away, :class:`EventStreamResponse` cancels the
stream at once (even while it waits in Redis) and closes its connection.
:class:`StreamHub` counts the open streams (``stream_max_clients``) and
cancels them all when the server shuts down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import orjson
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from st2lite import keys
from st2lite.api.schemas import execution_public
from st2lite.exceptions import StreamBusyError
from st2lite.executions import ExecutionStore
from st2lite.output import OutputLine
from st2lite.redisdb import UNAVAILABLE
from st2lite.registry import RegistryCache
from st2lite.statuses import COMPLETED
from st2lite.stream_events import (
    EXECUTION_CREATE,
    EXECUTION_UPDATE,
    OUTPUT_CREATE,
    TRIGGER_INSTANCE_CREATE,
    EventCursor,
    SourceEntry,
    StreamFilter,
    as_of,
    audit_event_name,
    heartbeat,
    merge,
    sse,
    trigger_instance_data,
)

__all__ = [
    "EventStreamResponse",
    "StreamHub",
    "current_cursor",
    "execution_output_stream",
    "global_stream",
    "last_entry_id",
]

log = logging.getLogger(__name__)

#: Entries read per source and ``XREAD``.
READ_COUNT = 500
#: The end of an execution's output stream.
EOF_EVENT = b"event: EOF\ndata: {}\n\n"
_COMPLETED = frozenset(s.value for s in COMPLETED)


class StreamHub:
    """The open streams of one API process: at most ``max_clients``, all cancelled by :meth:`close_all`."""

    def __init__(self, max_clients: int) -> None:
        self._max = max_clients
        self._admitted = 0
        self._scopes: set[anyio.CancelScope] = set()
        self._closing = False

    @property
    def open(self) -> int:
        return self._admitted

    def admit(self) -> None:
        """Count one more stream (call :meth:`release` when it ends).

        Raises:
            StreamBusyError: ``max_clients`` streams are open already, or the server is shutting down.
        """
        if self._closing:
            raise StreamBusyError("the API is shutting down; reconnect to another API process or retry shortly")
        if self._admitted >= self._max:
            raise StreamBusyError(
                f"this API process already serves {self._max} streams (stream_max_clients); "
                "retry later, close idle streams or run more API processes"
            )
        self._admitted += 1

    def release(self) -> None:
        self._admitted -= 1

    def track(self, scope: anyio.CancelScope) -> None:
        self._scopes.add(scope)

    def untrack(self, scope: anyio.CancelScope) -> None:
        self._scopes.discard(scope)

    def close_all(self) -> None:
        """End every open stream and refuse new ones (the server is stopping; clients reconnect elsewhere)."""
        self._closing = True
        for scope in list(self._scopes):
            scope.cancel()


class EventStreamResponse(StreamingResponse):
    """A ``text/event-stream`` response that stops its stream as soon as the client disconnects.

    Unlike Starlette's own, it always listens for the disconnect (also on ASGI
    servers that would only notice it on the next write), and it always runs
    ``on_close`` (which closes the stream's Redis connection) however the stream ends.
    """

    def __init__(
        self, content: AsyncIterator[bytes], *, hub: StreamHub, on_close: Callable[[], Awaitable[None]]
    ) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._content = content
        self._hub = hub
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        complete = False
        try:
            async with anyio.create_task_group() as group:
                self._hub.track(group.cancel_scope)

                async def stream() -> None:
                    nonlocal complete
                    await self.stream_response(send)
                    complete = True
                    group.cancel_scope.cancel()

                async def disconnect() -> None:
                    await self.listen_for_disconnect(receive)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                group.start_soon(disconnect)
        finally:
            self._hub.untrack(group.cancel_scope)
            with anyio.CancelScope(shield=True):
                try:
                    await _close_iterator(self._content)
                    await self._on_close()
                finally:
                    self._hub.release()
        if not complete:
            # Ended by the server (shutdown): finish the response; after a client disconnect this is a no-op.
            try:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except Exception:  # the connection is gone already
                log.debug("stream: could not finish the response", exc_info=True)


async def _close_iterator(iterator: AsyncIterator[bytes]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


async def last_entry_id(client: Any, key: str) -> str:
    """The id of the newest entry of the stream ``key``, ``0-0`` when it is empty or missing."""
    newest = await client.xrevrange(key, "+", "-", count=1)
    return str(newest[0][0]) if newest else "0-0"


async def current_cursor(client: Any) -> EventCursor:
    """The position of both event sources now: a new stream sends what happens from here on."""
    return EventCursor(
        audit=await last_entry_id(client, keys.AUDIT_STREAM), output=await last_entry_id(client, keys.OUTPUT_EVENTS)
    )


def _audit_entry(entry_id: str, fields: dict[str, str]) -> tuple[SourceEntry, dict[str, Any] | None]:
    raw = fields.get("e", "")
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        event = None
    at = str(event.get("at", "")) if isinstance(event, dict) else ""
    return SourceEntry(audit=True, id=entry_id, fields=fields, at=at), event if isinstance(event, dict) else None


async def _executions(client: Any, ids: list[str]) -> dict[str, Any]:
    """The stored executions among ``ids`` (with their children), by id."""
    if not ids:
        return {}
    async with client.pipeline(transaction=False) as pipe:
        for eid in ids:
            pipe.hgetall(keys.execution(eid))
            pipe.zrange(keys.execution_index("parent", eid), 0, -1)
        replies = await pipe.execute()
    found = {}
    for eid, fields, children in zip(ids, replies[0::2], replies[1::2], strict=True):
        if fields:
            found[eid] = ExecutionStore.decode(fields, children=[str(c) for c in children])
    return found


async def global_stream(
    client: Any,
    *,
    registry: RegistryCache,
    flt: StreamFilter,
    cursor: EventCursor,
    heartbeat_seconds: float,
) -> AsyncIterator[bytes]:
    """``GET /stream/v1/stream``: execution, output and trigger instance events from ``cursor`` on, for ever
    (or until ``flt``'s end event), with a heartbeat comment whenever ``heartbeat_seconds`` passed in silence."""
    audit_cursor, output_cursor = cursor.audit, cursor.output
    want_audit = any(flt.wants_event(name) for name in (EXECUTION_CREATE, EXECUTION_UPDATE, TRIGGER_INSTANCE_CREATE))
    want_output = flt.wants_event(OUTPUT_CREATE)
    last_sent = time.monotonic()
    try:
        while True:
            block_ms = max(1, int((heartbeat_seconds - (time.monotonic() - last_sent)) * 1000))
            sources = {}
            if want_audit:
                sources[keys.AUDIT_STREAM] = audit_cursor
            if want_output:
                sources[keys.OUTPUT_EVENTS] = output_cursor
            reply = await client.xread(sources, block=block_ms, count=READ_COUNT) if sources else None
            if not sources:
                await anyio.sleep(block_ms / 1000)
            audit_entries: list[SourceEntry] = []
            audit_events: dict[str, dict[str, Any] | None] = {}
            output_entries: list[SourceEntry] = []
            for stream_key, entries in reply or []:
                for entry_id, fields in entries:
                    if stream_key == keys.AUDIT_STREAM:
                        entry, event = _audit_entry(entry_id, fields)
                        audit_entries.append(entry)
                        audit_events[entry_id] = event
                    else:
                        output_entries.append(SourceEntry(False, entry_id, fields, fields.get("ts", "")))
            batch, _held = merge(audit_entries, output_entries, count=READ_COUNT)
            chunks, ended, audit_cursor, output_cursor = await _render(
                client, registry, flt, batch, audit_events, audit_cursor, output_cursor
            )
            for chunk in chunks:
                yield chunk
            if chunks:
                last_sent = time.monotonic()
            if ended:
                return
            if time.monotonic() - last_sent >= heartbeat_seconds:
                yield heartbeat()
                last_sent = time.monotonic()
    except UNAVAILABLE as exc:  # the client reconnects (with Last-Event-ID) when Redis is back
        log.warning("stream: Redis lost (%s); closing the stream", exc)


async def _render(
    client: Any,
    registry: RegistryCache,
    flt: StreamFilter,
    batch: list[SourceEntry],
    audit_events: dict[str, dict[str, Any] | None],
    audit_cursor: str,
    output_cursor: str,
) -> tuple[list[bytes], bool, str, str]:
    """The SSE messages of ``batch`` that ``flt`` wants, whether the stream ends, and the cursors after it."""
    wanted: list[tuple[SourceEntry, str, dict[str, Any] | None]] = []
    execution_ids: list[str] = []
    for entry in batch:
        if entry.audit:
            event = audit_events.get(entry.id)
            name = audit_event_name(event) if event else None
            if name is None or not flt.wants_event(name):
                wanted.append((entry, "", None))
                continue
            if name != TRIGGER_INSTANCE_CREATE:
                eid = str(event.get("execution")) if event else ""
                if not flt.wants_execution(eid):
                    wanted.append((entry, "", None))
                    continue
                execution_ids.append(eid)
            wanted.append((entry, name, event))
        else:
            wanted.append((entry, OUTPUT_CREATE, None))
    executions = await _executions(client, list(dict.fromkeys(execution_ids)))
    snapshot = await anyio.to_thread.run_sync(registry.current) if executions else None
    publics: dict[str, dict[str, Any]] = {
        eid: execution_public(execution, snapshot) for eid, execution in executions.items()
    }
    chunks: list[bytes] = []
    for entry, name, event in wanted:
        if entry.audit:
            audit_cursor = entry.id
        else:
            output_cursor = entry.id
        if not name:
            continue
        event_id = EventCursor(audit_cursor, output_cursor).text()
        execution_id: str | None = None
        status: str | None = None
        if name == OUTPUT_CREATE:
            fields = entry.fields
            execution_id = fields.get("x")
            if not (flt.wants_execution(execution_id) and flt.wants_action(fields.get("a"))):
                continue
            line = OutputLine.from_entry(entry.id, fields)
            data: dict[str, Any] = line.public(str(execution_id), fields.get("a"))
        elif name == TRIGGER_INSTANCE_CREATE:
            assert event is not None
            if flt.execution_ids is not None or flt.action_refs is not None:
                continue  # filtered by execution or action: trigger instances have neither
            data = trigger_instance_data(event)
        else:
            assert event is not None
            execution_id = str(event.get("execution"))
            public = publics.get(execution_id)
            if public is None or not flt.wants_action(public.get("action", {}).get("ref")):
                continue  # expired since, or another action's
            status = str(event.get("status") or public.get("status"))
            data = as_of(public, status, event.get("at"))
        chunks.append(sse(name, data, event_id))
        if flt.ends_with(name, execution_id, status):
            return chunks, True, audit_cursor, output_cursor
    return chunks, False, audit_cursor, output_cursor


async def execution_output_stream(
    client: Any,
    *,
    execution_id: str,
    output_type: str | None,
    after: str,
    audit_cursor: str,
    completed: bool,
    heartbeat_seconds: float,
) -> AsyncIterator[bytes]:
    """``GET /stream/v1/executions/{id}/output``: its stored lines after ``after``, then new ones as they come,
    then ``event: EOF`` once the execution completed (at once when ``completed``)."""
    key = keys.execution_output(execution_id)
    marker = f'"execution":"{execution_id}"'
    cursor = after
    last_sent = time.monotonic()

    def render(entries: list[tuple[str, dict[str, str]]]) -> list[bytes]:
        nonlocal cursor
        out = []
        for entry_id, fields in entries:
            cursor = entry_id
            line = OutputLine.from_entry(entry_id, fields)
            if output_type is None or line.output_type == output_type:
                out.append(sse(OUTPUT_CREATE, line.public(execution_id), entry_id))
        return out

    async def drain() -> AsyncIterator[bytes]:
        while True:
            entries = await client.xrange(key, f"({cursor}", "+", count=READ_COUNT)
            for chunk in render(entries):
                yield chunk
            if len(entries) < READ_COUNT:
                return

    try:
        if completed:
            async for chunk in drain():
                yield chunk
            yield EOF_EVENT
            return
        while True:
            block_ms = max(1, int((heartbeat_seconds - (time.monotonic() - last_sent)) * 1000))
            reply = await client.xread({key: cursor, keys.AUDIT_STREAM: audit_cursor}, block=block_ms, count=READ_COUNT)
            ended = False
            sent = False
            for stream_key, entries in reply or []:
                if stream_key == key:
                    for chunk in render(entries):
                        sent = True
                        yield chunk
                    continue
                for entry_id, fields in entries:
                    audit_cursor = entry_id
                    raw = fields.get("e", "")
                    if marker in raw:
                        event = orjson.loads(raw)
                        if event.get("execution") == execution_id and event.get("status") in _COMPLETED:
                            ended = True
            if ended:
                async for chunk in drain():  # lines written before the end, not read yet
                    yield chunk
                yield EOF_EVENT
                return
            if sent:
                last_sent = time.monotonic()
            elif time.monotonic() - last_sent >= heartbeat_seconds:
                yield heartbeat()
                last_sent = time.monotonic()
    except UNAVAILABLE as exc:
        log.warning("stream: Redis lost (%s); closing the output stream of %s", exc, execution_id)
