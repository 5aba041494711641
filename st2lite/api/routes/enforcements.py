"""``/api/v1/ruleenforcements``: which rule fired for which trigger instance, and the execution it started."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response

from st2lite.api.content_public import enforcement_public
from st2lite.api.deps import RuntimeDep
from st2lite.api.docs_models import EnforcementOut, errors
from st2lite.api.errors import ApiError
from st2lite.api.queries import CLIENT_LIMIT, FieldsDep, Page, TimeQuery, paging, parse_time
from st2lite.api.security import Authorize, Caller
from st2lite.enforcements import RuleEnforcement
from st2lite.exceptions import ExecutionNotFoundError
from st2lite.permissions import Permission

router = APIRouter(tags=["rules"])

Viewer = Annotated[Caller, Authorize(Permission.RULE_ENFORCEMENT_VIEW)]


@router.get(
    "/api/v1/ruleenforcements",
    summary="List rule enforcements",
    responses={
        200: {"model": list[EnforcementOut], "description": "Enforcements, newest first"},
        **errors(400, 401, 403),
    },
)
def list_enforcements(
    rt: RuntimeDep,
    response: Response,
    _caller: Viewer,
    fields: FieldsDep,
    page: Annotated[Page, paging(CLIENT_LIMIT)],
    rule_ref: str | None = None,
    execution: str | None = None,
    trigger_instance: str | None = None,
    enforced_at_gt: TimeQuery = None,
    enforced_at_lt: TimeQuery = None,
) -> list[dict[str, Any]]:
    """Newest first; filtered by ``rule_ref``, ``execution`` (id), ``trigger_instance`` (id) and
    ``enforced_at_gt``/``enforced_at_lt`` (ISO 8601, exclusive); ``X-Total-Count`` tells how many match.
    Kept as long as executions (``execution_ttl``)."""
    since = parse_time(enforced_at_gt, "enforced_at_gt")
    until = parse_time(enforced_at_lt, "enforced_at_lt")
    if execution is None and trigger_instance is None:
        items, total = rt.enforcements.query(
            rule=rule_ref, since=since, until=until, limit=page.size, offset=page.offset
        )
    else:
        found = _by_ids(rt, execution, trigger_instance)
        matching = [
            e
            for e in found
            if (rule_ref is None or e.rule == rule_ref)
            and (execution is None or e.execution == execution)
            and (since is None or datetime.fromisoformat(e.enforced_at) > since)
            and (until is None or datetime.fromisoformat(e.enforced_at) < until)
        ]
        matching.sort(key=lambda e: e.enforced_at, reverse=True)
        total = len(matching)
        items = Page(limit=page.size, offset=page.offset).cut(matching)
    page.headers(response, total)
    return fields.apply_all([enforcement_public(e) for e in items])


def _by_ids(rt: RuntimeDep, execution: str | None, trigger_instance: str | None) -> list[RuleEnforcement]:
    if trigger_instance is not None:
        return rt.enforcements.for_trigger_instance(trigger_instance)
    assert execution is not None
    try:
        eid = rt.executions.get(execution).enforcement
    except ExecutionNotFoundError:
        return []
    found = rt.enforcements.get(eid) if eid else None
    return [found] if found is not None else []


@router.get(
    "/api/v1/ruleenforcements/{enforcement_id}",
    summary="Get a rule enforcement",
    responses={200: {"model": EnforcementOut, "description": "The enforcement"}, **errors(401, 403, 404)},
)
def get_enforcement(enforcement_id: str, rt: RuntimeDep, _caller: Viewer, fields: FieldsDep) -> dict[str, Any]:
    """One enforcement by id (``<trigger instance id>:<rule ref>``)."""
    found = rt.enforcements.get(enforcement_id) if ":" in enforcement_id else None
    if found is None:
        raise ApiError(
            404,
            f'RuleEnforcement "{enforcement_id}" is not found; ids look like <trigger instance id>:<rule ref>, '
            "list them with GET /api/v1/ruleenforcements",
        )
    return fields.apply(enforcement_public(found))
