"""Execution output and the event stream: ``/api/v1/executions/{id}/output`` and ``/stream/v1/...`` (SSE).

See docs/api.md, "Execution output" and "Event stream".
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import PlainTextResponse

from st2lite import keys
from st2lite.api.deps import RuntimeDep
from st2lite.api.security import Authorize, Caller
from st2lite.api.streaming import (
    EventStreamResponse,
    StreamHub,
    current_cursor,
    execution_output_stream,
    global_stream,
    last_entry_id,
)
from st2lite.exceptions import ExecutionNotFoundError, StreamError
from st2lite.output import OutputStore, check_output_type, output_text
from st2lite.permissions import Permission
from st2lite.redisdb import connect_async
from st2lite.statuses import COMPLETED
from st2lite.stream_events import EventCursor, is_entry_id, parse_filter

__all__ = ["hub_of", "router"]

router = APIRouter(tags=["stream"])

_COMPLETED = frozenset(s.value for s in COMPLETED)


def hub_of(request: Request) -> StreamHub:
    """The app's :class:`StreamHub` (``create_app`` makes it)."""
    hub: StreamHub = request.app.state.streams
    return hub


@router.get("/api/v1/executions/{execution_id}/output", response_class=PlainTextResponse)
def execution_output(
    execution_id: str,
    rt: RuntimeDep,
    caller: Annotated[Caller, Authorize(Permission.EXECUTION_VIEW)],
    output_type: str | None = None,
) -> PlainTextResponse:
    """The output stored so far (stdout and stderr in the order they were written), as text."""
    wanted = check_output_type(output_type)
    rt.executions.status(execution_id)  # 404 when unknown
    text = output_text(list(OutputStore(rt.client).lines(execution_id)), wanted)
    return PlainTextResponse(text)


async def _open(request: Request, setup: Any) -> Any:
    """Admit a stream, give ``setup`` its own Redis connection and build its response; undo both on errors."""
    rt = request.app.state.runtime
    hub = hub_of(request)
    hub.admit()
    # Reads block at most one heartbeat interval; a Redis silent for longer than this is gone.
    client = connect_async(
        rt.redis_url, client_name=keys.STREAM_CLIENT_NAME, read_timeout=rt.settings.stream_heartbeat + 10.0
    )
    try:
        content = await setup(client)
    except BaseException:
        await client.aclose()
        hub.release()
        raise
    return EventStreamResponse(content, hub=hub, on_close=client.aclose)


@router.get("/stream/v1/stream")
async def event_stream(
    request: Request,
    caller: Annotated[Caller, Authorize(Permission.STREAM_VIEW)],
    events: str | None = None,
    action_refs: str | None = None,
    execution_ids: str | None = None,
    end_event: str | None = None,
    end_execution_id: str | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Any:
    """Server-Sent Events of executions (create, update), their output and trigger instances, from now on
    (or after ``Last-Event-ID``), until the client leaves or ``end_event`` came for ``end_execution_id``."""
    flt = parse_filter(
        events=events,
        action_refs=action_refs,
        execution_ids=execution_ids,
        end_event=end_event,
        end_execution_id=end_execution_id,
    )
    resume = EventCursor.parse(last_event_id) if last_event_id else None
    rt = request.app.state.runtime

    async def setup(client: Any) -> Any:
        cursor = resume or await current_cursor(client)
        return global_stream(
            client,
            registry=rt.registry,
            flt=flt,
            cursor=cursor,
            heartbeat_seconds=rt.settings.stream_heartbeat,
        )

    return await _open(request, setup)


@router.get("/stream/v1/executions/{execution_id}/output")
async def execution_output_events(
    execution_id: str,
    request: Request,
    caller: Annotated[Caller, Authorize(Permission.STREAM_VIEW)],
    output_type: str | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Any:
    """Server-Sent Events of one execution's output: what is stored, then new lines, then ``event: EOF``."""
    wanted = check_output_type(output_type)
    after = "0-0"
    if last_event_id:
        after = last_event_id.strip()
        if not is_entry_id(after):
            raise StreamError(
                f"Last-Event-ID {last_event_id!r} is not an output entry id; reconnect without it to start over"
            )
    rt = request.app.state.runtime

    async def setup(client: Any) -> Any:
        audit_cursor = await last_entry_id(client, keys.AUDIT_STREAM)  # before the status: no end is missed
        status = await client.hget(keys.execution(execution_id), "status")
        if status is None:
            raise ExecutionNotFoundError(execution_id)
        return execution_output_stream(
            client,
            execution_id=execution_id,
            output_type=wanted,
            after=after,
            audit_cursor=audit_cursor,
            completed=status in _COMPLETED,
            heartbeat_seconds=rt.settings.stream_heartbeat,
        )

    return await _open(request, setup)
