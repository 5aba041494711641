"""``/api/v1/executions``: list, get and run executions (StackStorm's shapes and query conventions)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from st2lite.api.acting import acting_user
from st2lite.api.deps import RuntimeDep
from st2lite.api.docs_models import ExecutionOut, errors
from st2lite.api.errors import ApiError, fault
from st2lite.api.queries import CLIENT_LIMIT, BoolQuery, FieldsDep, Page, TimeQuery, paging, parse_bool, parse_time
from st2lite.api.schemas import ExecutionCreate, ExecutionReRun, ExecutionUpdate, execution_public
from st2lite.api.security import Authorize, Caller
from st2lite.cancel import cancel, pause, resume
from st2lite.datastore import kv_lookup
from st2lite.exceptions import ExecutionNotFoundError, NotCancelableError, TriggerInstanceNotFoundError, UnknownRefError
from st2lite.executions import Execution, ExecutionFilter
from st2lite.launch import prepare_execution, request_in
from st2lite.parameters import MASK
from st2lite.permissions import Permission
from st2lite.runners.chain import CHAIN_RUNNER

router = APIRouter(tags=["executions"])

#: Most descendants one ``/children`` answer reads (a chain's tasks, nested chains' and with-items' included).
MAX_CHILDREN = 5_000
#: The id ``GET /api/v1/executions/{id}`` takes for the newest execution (``st2 execution get last``).
LAST = "last"

Viewer = Annotated[Caller, Authorize(Permission.EXECUTION_VIEW)]


@router.get(
    "/api/v1/executions",
    summary="List executions",
    responses={200: {"model": list[ExecutionOut], "description": "Executions, newest first"}, **errors(400, 401, 403)},
)
def list_executions(
    rt: RuntimeDep,
    response: Response,
    _caller: Viewer,
    fields: FieldsDep,
    page: Annotated[Page, paging(CLIENT_LIMIT)],
    action: str | None = None,
    status: str | None = None,
    rule: str | None = None,
    rule_ref: str | None = None,
    parent: str | None = None,
    timestamp_gt: TimeQuery = None,
    timestamp_lt: TimeQuery = None,
    sort_asc: BoolQuery = None,
    sort_desc: BoolQuery = None,
    trigger_instance: str | None = None,
    user: str | None = None,
) -> list[dict[str, Any]]:
    """Newest first (``sort_asc=True``: oldest first); ``parent=null`` gives top-level executions only;
    ``trigger_instance`` those a trigger instance's rules started; ``X-Total-Count`` tells how many match.
    At most 1000 per request (also for ``limit=-1``). ``user`` (``st2 execution list --user``) is refused: there
    is no index by user, and ignoring it would list executions that do not match."""
    if user is not None:
        raise ApiError(
            400,
            "executions cannot be filtered by user (st2 execution list --user) yet; "
            "filter by action, status, rule, parent, trigger_instance, timestamp_gt or timestamp_lt",
        )
    size = page.size
    ascending = bool(parse_bool(sort_asc, "sort_asc")) or parse_bool(sort_desc, "sort_desc") is False
    flt = ExecutionFilter(
        action=action,
        status=status,
        rule=rule or rule_ref,
        parent=parent,
        since=parse_time(timestamp_gt, "timestamp_gt"),
        until=parse_time(timestamp_lt, "timestamp_lt"),
    )
    if trigger_instance is not None:
        items, total = _of_trigger_instance(rt, trigger_instance, flt, size, page.offset, ascending)
    else:
        items, total = rt.executions.search(flt, limit=size, offset=page.offset, ascending=ascending)
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Limit"] = str(size)
    snapshot = rt.registry.current()
    return fields.apply_all([execution_public(e, snapshot) for e in items])


def _of_trigger_instance(
    rt: RuntimeDep, instance_id: str, flt: ExecutionFilter, size: int, offset: int, ascending: bool
) -> tuple[list[Execution], int]:
    """The executions the rules started for one trigger instance (read from its record), matching ``flt``."""
    try:
        record = rt.trigger_instances.get(instance_id)
    except TriggerInstanceNotFoundError:
        return [], 0
    started = [str(e["execution"]) for e in record.get("enforcements", []) if e.get("execution")]
    matching = [e for e in rt.executions.get_many(started) if _matches(e, flt)]
    matching.sort(key=lambda e: e.created_at, reverse=not ascending)
    return matching[offset : offset + size], len(matching)


def _matches(execution: Execution, flt: ExecutionFilter) -> bool:
    created = datetime.fromisoformat(execution.created_at)
    parent = None if flt.parent == "null" else flt.parent
    return (
        (flt.action is None or execution.action == flt.action)
        and (flt.status is None or execution.status.value == flt.status)
        and (flt.rule is None or execution.rule == flt.rule)
        and (flt.parent is None or execution.parent == parent)
        and (flt.since is None or created > flt.since)
        and (flt.until is None or created < flt.until)
    )


@router.get(
    "/api/v1/executions/{execution_id}",
    summary="Get an execution",
    responses={200: {"model": ExecutionOut, "description": "The execution"}, **errors(401, 403, 404)},
)
def get_execution(execution_id: str, rt: RuntimeDep, _caller: Viewer, fields: FieldsDep) -> dict[str, Any]:
    """One execution, with its action, status, parameters, result and status log; ``last``: the newest one."""
    if execution_id == LAST:
        newest, _total = rt.executions.search(ExecutionFilter(), limit=1)
        if not newest:
            raise ApiError(404, "there is no execution yet (or they all expired), so none is the last")
        return fields.apply(execution_public(newest[0], rt.registry.current()))
    return fields.apply(execution_public(rt.executions.get(execution_id), rt.registry.current()))


@router.get(
    "/api/v1/executions/{execution_id}/children",
    summary="An execution's children (a chain's tasks), depth first",
    responses={200: {"model": list[ExecutionOut], "description": "The descendants"}, **errors(400, 401, 403, 404)},
)
def list_children(
    execution_id: str, rt: RuntimeDep, _caller: Viewer, fields: FieldsDep, depth: int = -1
) -> list[dict[str, Any]]:
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
    return fields.apply_all([execution_public(e, snapshot) for e in tree[1:]])


@router.post(
    "/api/v1/executions",
    status_code=201,
    summary="Run an action",
    responses={201: {"model": ExecutionOut, "description": "The execution, requested"}, **errors(400, 401, 403, 404)},
)
def run_action(
    body: ExecutionCreate, rt: RuntimeDep, caller: Annotated[Caller, Authorize(Permission.ACTION_EXECUTE)]
) -> Any:
    """Request a run of ``body.action``; 201 with the execution (``requested``). Its ``context.user`` is the
    caller's; a different ``user`` is for admins only (403 otherwise)."""
    snapshot = rt.registry.current()
    try:
        action = snapshot.content.action(body.action)
    except UnknownRefError as exc:
        raise ApiError(
            404, f"Action {body.action} not found; list the registered actions or register its pack"
        ) from exc
    if not action.enabled:
        raise ApiError(400, f"Action {body.action} is disabled; enable it in its metadata file and re-register")
    user = acting_user(caller, body.user, "run actions as '{user}'")
    context = {**body.context, "user": user, "pack": action.pack}
    prepared = prepare_execution(snapshot, action, body.parameters, context=context, kv_lookup=kv_lookup(rt.client))
    with rt.client.pipeline(transaction=True) as pipe:
        request_in(pipe, prepared, executions=rt.executions, requests=rt.requests, actor=caller.actor)
        pipe.execute()
    return JSONResponse(status_code=201, content=execution_public(prepared.execution, snapshot))


@router.post(
    "/api/v1/executions/{execution_id}/re_run",
    status_code=201,
    summary="Re-run an execution",
    responses={201: {"model": ExecutionOut, "description": "The new execution"}, **errors(400, 401, 403, 404)},
)
def re_run(
    execution_id: str,
    body: ExecutionReRun,
    rt: RuntimeDep,
    caller: Annotated[Caller, Authorize(Permission.EXECUTION_RERUN)],
) -> Any:
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
    user = acting_user(caller, body.user, "re-run executions as '{user}'")
    context = {
        "user": user,
        "pack": action.pack,
        "re-run": {"ref": execution_id, "tasks": body.tasks, "reset": body.reset},
    }
    prepared = prepare_execution(snapshot, action, supplied, context=context, kv_lookup=kv_lookup(rt.client))
    with rt.client.pipeline(transaction=True) as pipe:
        request_in(pipe, prepared, executions=rt.executions, requests=rt.requests, actor=caller.actor)
        pipe.execute()
    return JSONResponse(status_code=201, content=execution_public(prepared.execution, snapshot))


@router.delete(
    "/api/v1/executions/{execution_id}",
    summary="Cancel an execution",
    responses={
        200: {"model": ExecutionOut, "description": "The execution, canceling or canceled"},
        **errors(401, 403, 404),
    },
)
def cancel_execution(
    execution_id: str,
    rt: RuntimeDep,
    caller: Annotated[Caller, Authorize(Permission.EXECUTION_STOP)],
    user: str | None = None,
) -> Any:
    """Cancel: 200 with the execution (``canceled``, or ``canceling`` while its action is stopped).

    An execution that ended already gets StackStorm's answer: 200 with a faultstring. The canceling user
    is the caller (``user``, someone else, is for admins only).
    """
    who = acting_user(caller, user, "cancel executions as '{user}'")
    try:
        execution = cancel(rt.executions, rt.client, execution_id, user=who, actor=caller.actor)
    except NotCancelableError as exc:
        return fault(200, str(exc))
    return execution_public(execution, rt.registry.current())


@router.put(
    "/api/v1/executions/{execution_id}",
    summary="Pause or resume an execution",
    responses={200: {"model": ExecutionOut, "description": "The execution"}, **errors(400, 401, 403, 404, 409)},
)
def update_execution(
    execution_id: str,
    body: ExecutionUpdate,
    rt: RuntimeDep,
    caller: Annotated[Caller, Authorize(Permission.EXECUTION_STOP)],
) -> Any:
    """Pause (``{"status": "pausing"}``) or resume (``{"status": "resuming"}``) a chain."""
    if body.status == "pausing":
        execution = pause(rt.executions, rt.client, execution_id, actor=caller.actor)
    elif body.status == "resuming":
        execution = resume(rt.executions, rt.client, execution_id, actor=caller.actor)
    else:
        raise ApiError(400, f"status must be 'pausing' or 'resuming', not {body.status!r}; cancel with DELETE")
    return execution_public(execution, rt.registry.current())
