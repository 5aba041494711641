"""``/api/v1/executions``: list, get and run executions (StackStorm's shapes and query conventions)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from st2lite.api.deps import RuntimeDep
from st2lite.api.errors import ApiError, fault
from st2lite.api.queries import page_size, parse_time
from st2lite.api.schemas import ExecutionCreate, ExecutionReRun, ExecutionUpdate, execution_public
from st2lite.cancel import cancel, pause, resume
from st2lite.datastore import kv_lookup
from st2lite.exceptions import ExecutionNotFoundError, NotCancelableError, UnknownRefError
from st2lite.executions import ExecutionFilter
from st2lite.launch import prepare_execution, request_in
from st2lite.parameters import MASK
from st2lite.runners.chain import CHAIN_RUNNER

router = APIRouter(tags=["executions"])


#: Most descendants one ``/children`` answer reads (a chain's tasks, nested chains' and with-items' included).
MAX_CHILDREN = 5_000
#: Filters ``st2 execution list`` offers that st2lite cannot answer (no index): refused, never ignored.
UNSUPPORTED_FILTERS = {"user": "--user", "trigger_instance": "--trigger_instance"}


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


def _refuse_unsupported(given: dict[str, str | None]) -> None:
    """A filter st2lite cannot apply is a 400: ignoring it would list executions that do not match."""
    for name, value in given.items():
        if value is not None:
            raise ApiError(
                400,
                f"executions cannot be filtered by {name} (st2 execution list {UNSUPPORTED_FILTERS[name]}) yet; "
                "filter by action, status, rule, parent, timestamp_gt or timestamp_lt",
            )


@router.get("/api/v1/executions")
def list_executions(
    rt: RuntimeDep,
    response: Response,
    action: str | None = None,
    status: str | None = None,
    rule: str | None = None,
    rule_ref: str | None = None,
    parent: str | None = None,
    timestamp_gt: str | None = None,
    timestamp_lt: str | None = None,
    sort_asc: str | None = None,
    user: str | None = None,
    trigger_instance: str | None = None,
    limit: Annotated[int, Query()] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """Newest first; ``parent=null`` gives top-level executions only; ``X-Total-Count`` tells how many match."""
    _refuse_unsupported({"user": user, "trigger_instance": trigger_instance})
    size = page_size(limit)
    flt = ExecutionFilter(
        action=action,
        status=status,
        rule=rule or rule_ref,
        parent=parent,
        since=parse_time(timestamp_gt, "timestamp_gt"),
        until=parse_time(timestamp_lt, "timestamp_lt"),
    )
    items, total = rt.executions.search(flt, limit=size, offset=offset, ascending=_bool(sort_asc))
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Limit"] = str(size)
    snapshot = rt.registry.current()
    return [execution_public(e, snapshot) for e in items]


#: The id ``GET /api/v1/executions/{id}`` takes for the newest execution (``st2 execution get last``).
LAST = "last"


@router.get("/api/v1/executions/{execution_id}")
def get_execution(execution_id: str, rt: RuntimeDep) -> dict[str, Any]:
    """One execution by id, or the newest one (children included) for ``last``, as StackStorm allows."""
    if execution_id == LAST:
        newest, _total = rt.executions.search(ExecutionFilter(), limit=1)
        if not newest:
            raise ApiError(404, "there is no execution yet (or they all expired), so none is the last")
        return execution_public(newest[0], rt.registry.current())
    return execution_public(rt.executions.get(execution_id), rt.registry.current())


@router.get("/api/v1/executions/{execution_id}/children")
def list_children(execution_id: str, rt: RuntimeDep, depth: int = -1) -> list[dict[str, Any]]:
    """A chain's tasks (nested chains' too), depth first, each followed by its own; ``depth`` levels (-1: all).

    What ``st2 execution get`` and ``st2 run`` read to show an action chain's tasks.
    """
    if depth == 0 or depth < -1:
        raise ApiError(400, f"depth must be -1 (every level) or a number of levels from 1, not {depth}")
    root = rt.executions.get_many([execution_id], with_children=True)
    if not root:
        raise ExecutionNotFoundError(execution_id)
    tree = rt.executions.with_descendants(root, depth=depth, limit=MAX_CHILDREN + 1)
    snapshot = rt.registry.current()
    return [execution_public(e, snapshot) for e in tree[1:]]


@router.post("/api/v1/executions", status_code=201)
def run_action(body: ExecutionCreate, rt: RuntimeDep) -> Any:
    """Request a run of ``body.action``; 201 with the execution (``requested``)."""
    snapshot = rt.registry.current()
    try:
        action = snapshot.content.action(body.action)
    except UnknownRefError as exc:
        raise ApiError(
            404, f"Action {body.action} not found; list the registered actions or register its pack"
        ) from exc
    if not action.enabled:
        raise ApiError(400, f"Action {body.action} is disabled; enable it in its metadata file and re-register")
    user = body.user or "st2lite"
    context = {**body.context, "user": user, "pack": action.pack}
    prepared = prepare_execution(snapshot, action, body.parameters, context=context, kv_lookup=kv_lookup(rt.client))
    with rt.client.pipeline(transaction=True) as pipe:
        request_in(pipe, prepared, executions=rt.executions, requests=rt.requests)
        pipe.execute()
    return JSONResponse(status_code=201, content=execution_public(prepared.execution, snapshot))


@router.post("/api/v1/executions/{execution_id}/re_run", status_code=201)
def re_run(execution_id: str, body: ExecutionReRun, rt: RuntimeDep) -> Any:
    """Run the execution's action again: a new execution, its parameters overridden by ``body.parameters``.

    For a chain, ``tasks`` names where to start: the new chain keeps the tasks
    that ran before the first of them (results and published variables) and
    starts there. Secret parameters are stored masked, so they must be given again.
    """
    original = rt.executions.get(execution_id)
    snapshot = rt.registry.current()
    try:
        action = snapshot.content.action(original.action)
    except UnknownRefError as exc:
        raise ApiError(404, f"Action {original.action} is no longer registered; register its pack again") from exc
    if body.tasks and action.runner_type != CHAIN_RUNNER:
        raise ApiError(400, f"tasks can only be given to re-run an action chain; {original.action} is not one")
    if body.tasks:
        names = {t.get("name") for t in (original.result or {}).get("tasks", []) if isinstance(t, dict)}
        unknown = [t for t in body.tasks if t not in names]
        if unknown:
            ran = ", ".join(sorted(n for n in names if n)) or "none"
            raise ApiError(400, f"task {unknown[0]!r} did not run in execution {execution_id}; tasks that ran: {ran}")
    parameters = {**original.parameters, **body.parameters}
    masked = sorted(name for name, value in parameters.items() if value == MASK)
    if masked:
        raise ApiError(400, f"parameter {masked[0]!r} is secret and not kept after a run; give it again to re-run")
    # The stored parameters include defaults filled in: give back only the action's own, mutable ones.
    specs = snapshot.parameter_specs(action)
    supplied = {
        k: v
        for k, v in parameters.items()
        if k in body.parameters or (k in action.parameters and k in specs and not specs[k].immutable)
    }
    user = body.user or str(original.context.get("user") or "st2lite")
    context = {
        "user": user,
        "pack": action.pack,
        "re-run": {"ref": execution_id, "tasks": body.tasks, "reset": body.reset},
    }
    prepared = prepare_execution(snapshot, action, supplied, context=context, kv_lookup=kv_lookup(rt.client))
    with rt.client.pipeline(transaction=True) as pipe:
        request_in(pipe, prepared, executions=rt.executions, requests=rt.requests)
        pipe.execute()
    return JSONResponse(status_code=201, content=execution_public(prepared.execution, snapshot))


@router.delete("/api/v1/executions/{execution_id}")
def cancel_execution(execution_id: str, rt: RuntimeDep, user: str | None = None) -> Any:
    """Cancel: 200 with the execution (``canceled``, or ``canceling`` while its action is stopped).

    An execution that ended already gets StackStorm's answer: 200 with a faultstring.
    """
    try:
        execution = cancel(rt.executions, rt.client, execution_id, user=user or "st2lite")
    except NotCancelableError as exc:
        return fault(200, str(exc))
    return execution_public(execution, rt.registry.current())


@router.put("/api/v1/executions/{execution_id}")
def update_execution(execution_id: str, body: ExecutionUpdate, rt: RuntimeDep) -> Any:
    """Pause (``{"status": "pausing"}``) or resume (``{"status": "resuming"}``) a chain."""
    if body.status == "pausing":
        execution = pause(rt.executions, rt.client, execution_id)
    elif body.status == "resuming":
        execution = resume(rt.executions, rt.client, execution_id)
    else:
        raise ApiError(400, f"status must be 'pausing' or 'resuming', not {body.status!r}; cancel with DELETE")
    return execution_public(execution, rt.registry.current())
