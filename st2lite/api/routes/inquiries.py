"""``/api/v1/inquiries``: the questions executions wait on, and answering them (StackStorm's shapes).

``GET`` lists the ``pending`` inquiries, newest first, as
``{id, route, ttl, users, roles, schema}``; ``PUT /api/v1/inquiries/{id}``
with ``{"id", "response": {...}}`` answers one as the caller (an admin may
name another ``user``, as for ``POST /api/v1/executions``): the response is
checked against the inquiry's schema and ``users``, and the execution moves
``pending -> succeeded`` with the result ``{..., "response": {...}}``, once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from st2lite.action_triggers import action_trigger, watched
from st2lite.api.acting import acting_user
from st2lite.api.deps import RuntimeDep
from st2lite.api.docs_models import errors
from st2lite.api.errors import ApiError
from st2lite.api.queries import CLIENT_LIMIT, FieldsDep, Page, paging
from st2lite.api.security import Authorize, Caller
from st2lite.audit import AuditKind, encode_event
from st2lite.exceptions import ExecutionNotFoundError, InquiryError, InquiryNotFoundError, InvalidTransitionError
from st2lite.executions import ExecutionFilter
from st2lite.inquiries import (
    INQUIRER_RUNNER,
    answered_result,
    check_open,
    check_responder,
    inquiry_of,
    validate_response,
)
from st2lite.permissions import Permission
from st2lite.statuses import ExecutionStatus

router = APIRouter(tags=["inquiries"])

#: Most pending executions one list request looks through.
SCAN_LIMIT = 10_000
Viewer = Annotated[Caller, Authorize(Permission.INQUIRY_VIEW)]


class InquiryResponse(BaseModel):
    """``PUT /api/v1/inquiries/{id}``: what ``st2 inquiry respond`` sends, plus an optional ``user``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str | None = None
    response: dict[str, Any]
    user: str | None = None


@router.get("/api/v1/inquiries", summary="List pending inquiries", responses=errors(400, 401, 403))
def list_inquiries(
    rt: RuntimeDep,
    response: Response,
    _caller: Viewer,
    fields: FieldsDep,
    page: Annotated[Page, paging(CLIENT_LIMIT)],
) -> list[dict[str, Any]]:
    """The pending inquiries, newest first; ``X-Total-Count`` tells how many there are."""
    pending, _total = rt.executions.search(ExecutionFilter(status=ExecutionStatus.PENDING.value), limit=SCAN_LIMIT)
    found = [inquiry_of(e).public() for e in pending if e.runner == INQUIRER_RUNNER]
    page.headers(response, len(found))
    return fields.apply_all(page.cut(found))


@router.get("/api/v1/inquiries/{inquiry_id}", summary="Get an inquiry", responses=errors(401, 403, 404))
def get_inquiry(inquiry_id: str, rt: RuntimeDep, _caller: Viewer, fields: FieldsDep) -> dict[str, Any]:
    """One inquiry, pending or not (``GET /api/v1/executions/{id}`` tells its status)."""
    return fields.apply(inquiry_of(_execution(rt, inquiry_id)).public())


@router.put("/api/v1/inquiries/{inquiry_id}", summary="Answer an inquiry", responses=errors(400, 401, 403, 404))
def respond(
    inquiry_id: str,
    body: InquiryResponse,
    rt: RuntimeDep,
    caller: Annotated[Caller, Authorize(Permission.INQUIRY_RESPOND)],
) -> dict[str, Any]:
    """Answer an inquiry as the caller (an admin may give another ``user``); 400 when the response does not fit
    its schema or it was already answered; 403 when the inquiry's ``users`` do not include the responder."""
    if body.id is not None and body.id != inquiry_id:
        raise ApiError(400, f"the body's id '{body.id}' is not the inquiry in the URL, '{inquiry_id}'")
    execution = _execution(rt, inquiry_id)
    if execution.runner != INQUIRER_RUNNER:
        raise InquiryNotFoundError(inquiry_id)
    check_open(execution)  # before reading the question: a canceled inquiry's result no longer holds it
    inquiry = inquiry_of(execution)
    user = acting_user(caller, body.user, "answer inquiries as '{user}'")
    check_responder(inquiry, user)
    validate_response(inquiry, body.response)
    result = answered_result(execution, body.response)
    snapshot = rt.registry.current()
    emit = (
        action_trigger(rt.settings, execution, ExecutionStatus.SUCCEEDED, result)
        if watched(rt.settings, snapshot)
        else None
    )
    note = encode_event(
        AuditKind.INQUIRY_ANSWERED, caller.actor, execution=inquiry_id, action=execution.action, data={"user": user}
    )
    try:
        rt.waits.finish(inquiry_id, ExecutionStatus.SUCCEEDED, result, note=note, emit=emit)
    except InvalidTransitionError:  # answered (or timed out) between the check and the move
        check_open(rt.executions.get(inquiry_id))
        raise InquiryError(f"inquiry '{inquiry_id}' is no longer waiting for a response") from None
    return {"id": inquiry_id, "response": body.response}


def _execution(rt: RuntimeDep, inquiry_id: str) -> Any:
    try:
        return rt.executions.get(inquiry_id)
    except ExecutionNotFoundError as exc:
        raise InquiryNotFoundError(inquiry_id) from exc
