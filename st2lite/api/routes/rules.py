"""``/api/v1/rules``: list, get, create, change, delete and test rules (StackStorm's shapes and status codes).

Rules created or changed here live in the registry next to the packs' rules
(:mod:`st2lite.rule_changes` says how the two are merged and what wins), so
running rules engines pick a change up within their refresh interval.
A body is validated exactly as a rule file is (:func:`st2lite.packs.check_rule`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from st2lite.api.content_public import rule_public
from st2lite.api.deps import RuntimeDep
from st2lite.api.docs_models import Conflict, RuleOut, RuleTestOut, errors
from st2lite.api.errors import ApiError
from st2lite.api.queries import BoolQuery, FieldsDep, Page, paging, parse_bool
from st2lite.api.security import Authorize, Caller
from st2lite.datastore import MASK, masked_kv_lookup
from st2lite.exceptions import RuleNotFoundError
from st2lite.operators import describe
from st2lite.pack_configs import masked_config_context
from st2lite.permissions import Permission
from st2lite.registry import Snapshot
from st2lite.rule_changes import READ_ONLY, RuleChangeStore
from st2lite.rule_verdicts import evaluate_rule
from st2lite.rules import Rule

if TYPE_CHECKING:
    from st2lite.packs import Problem

router = APIRouter(tags=["rules"])

RuleBody = Annotated[
    dict[str, Any],
    Body(
        description="A rule as in a rule file; PUT also takes the whole rule GET returns (read-only fields ignored).",
        openapi_examples={
            "webhook": {
                "summary": "Echo a webhook's body",
                "value": {
                    "name": "sample_rule",
                    "pack": "examples",
                    "enabled": True,
                    "trigger": {"type": "core.st2.webhook", "parameters": {"url": "sample"}},
                    "criteria": {"trigger.body.name": {"type": "equals", "pattern": "st2"}},
                    "action": {"ref": "core.local", "parameters": {"cmd": "echo {{ trigger.body.name }}"}},
                },
            }
        },
    ),
]


def _rule(snapshot: Snapshot, ref_or_id: str) -> Rule:
    rule = snapshot.content.rules.get(ref_or_id)
    if rule is None:
        raise RuleNotFoundError(ref_or_id)
    return rule


def _problems(problems: list[Problem]) -> str:
    """One line naming every field with a problem."""
    return "invalid rule: " + " | ".join(f"field '{p.field}': {p.message}" if p.field else p.message for p in problems)


def _checked(data: dict[str, Any], snapshot: Snapshot) -> Rule:
    """``data`` without the read-only fields, validated as a rule file is; 400 naming each field otherwise."""
    clean = {k: v for k, v in data.items() if k not in READ_ONLY}
    trigger = clean.get("trigger")
    if isinstance(trigger, dict) and "ref" in trigger:
        clean["trigger"] = {k: v for k, v in trigger.items() if k != "ref"}
    from st2lite.packs import check_rule  # here: the pack loader's imports (croniter...) stay out of API start-up

    rule, problems = check_rule(clean, snapshot.content)
    if rule is None:
        raise ApiError(400, _problems(problems))
    return rule


@router.get(
    "/api/v1/rules",
    summary="List rules",
    responses={200: {"model": list[RuleOut], "description": "Rules by ref"}, **errors(400, 401, 403)},
)
def list_rules(
    rt: RuntimeDep,
    response: Response,
    _caller: Annotated[Caller, Authorize(Permission.RULE_VIEW)],
    fields: FieldsDep,
    page: Annotated[Page, paging(-1)],
    pack: str | None = None,
    action: str | None = None,
    trigger: str | None = None,
    enabled: BoolQuery = None,
) -> list[dict[str, Any]]:
    """Rules by ref, filtered by ``pack``, ``action`` (ref), ``trigger`` (trigger type ref) and ``enabled``
    (``True``/``False``, any case); ``X-Total-Count`` tells how many match. No ``limit`` returns all."""
    want_enabled = parse_bool(enabled, "enabled")
    snapshot = rt.registry.current()
    rules = snapshot.content.rules
    matching = [
        rules[ref]
        for ref in sorted(rules)
        if (pack is None or rules[ref].pack == pack)
        and (action is None or rules[ref].action.ref == action)
        and (trigger is None or rules[ref].trigger.type == trigger)
        and (want_enabled is None or rules[ref].enabled == want_enabled)
    ]
    page.headers(response, len(matching))
    shown = page.cut(matching)
    fired = rt.enforcements.last_fired([r.full_ref for r in shown])
    return fields.apply_all([rule_public(r, fired[r.full_ref]) for r in shown])


@router.get(
    "/api/v1/rules/{ref_or_id}",
    summary="Get a rule",
    responses={200: {"model": RuleOut, "description": "The rule"}, **errors(401, 403, 404)},
)
def get_rule(
    ref_or_id: str, rt: RuntimeDep, _caller: Annotated[Caller, Authorize(Permission.RULE_VIEW)], fields: FieldsDep
) -> dict[str, Any]:
    """One rule by ref (its id is its ref)."""
    snapshot = rt.registry.current()
    return fields.apply(_with_last_fired(rt, _rule(snapshot, ref_or_id)))


def _with_last_fired(rt: RuntimeDep, rule: Rule) -> dict[str, Any]:
    return rule_public(rule, rt.enforcements.last_fired([rule.full_ref])[rule.full_ref])


@router.post(
    "/api/v1/rules",
    status_code=201,
    summary="Create a rule",
    responses={
        201: {"model": RuleOut, "description": "The stored rule"},
        **errors(400, 401, 403),
        409: {"model": Conflict, "description": "A rule with this ref exists"},
    },
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/RuleIn"}}}}
    },
)
def create_rule(
    body: RuleBody, rt: RuntimeDep, caller: Annotated[Caller, Authorize(Permission.RULE_CREATE)]
) -> JSONResponse:
    """Create a rule (a rule file's content as JSON): 201 with it; 400 naming each invalid field; 409 with
    ``conflict-id`` when a rule with its ref exists."""
    snapshot = rt.registry.current()
    rule = _checked(body, snapshot)
    rule = rule.model_copy(update={"context": {**rule.context, "user": caller.user}, "metadata_file": ""})
    RuleChangeStore(rt.client, rt.audit).create(rule, actor=caller.actor)
    rt.registry.invalidate()  # this process reads its own write at once; the others within their refresh
    return JSONResponse(status_code=201, content=rule_public(rule))


@router.put(
    "/api/v1/rules/{ref_or_id}",
    summary="Change a rule",
    responses={200: {"model": RuleOut, "description": "The rule as stored"}, **errors(400, 401, 403, 404, 409)},
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/RuleUpdate"}}}}
    },
)
def update_rule(
    ref_or_id: str, body: RuleBody, rt: RuntimeDep, caller: Annotated[Caller, Authorize(Permission.RULE_MODIFY)]
) -> dict[str, Any]:
    """Replace a rule with the body (the whole rule, as GET returns it: ``id``, ``uid``, ``ref``, ``context``,
    ``metadata_file`` and ``trigger.ref`` are ignored). A rule a pack file defines can only be enabled or
    disabled here (409 otherwise)."""
    snapshot = rt.registry.current()
    current = _rule(snapshot, ref_or_id)
    data = {**body, "pack": body.get("pack", current.pack), "name": body.get("name", current.name)}
    if f"{data['pack']}.{data['name']}" != current.full_ref:
        raise ApiError(
            400,
            f"the body names rule '{data['pack']}.{data['name']}' but the URL names '{current.full_ref}'; "
            "a rule cannot be renamed: create the new one and delete the old one",
        )
    rule = _checked(data, snapshot)
    stored = RuleChangeStore(rt.client, rt.audit).update(current.full_ref, rule, actor=caller.actor)
    rt.registry.invalidate()
    return _with_last_fired(rt, stored)


@router.delete(
    "/api/v1/rules/{ref_or_id}",
    status_code=204,
    summary="Delete a rule",
    responses={204: {"description": "Deleted"}, **errors(401, 403, 404, 409)},
)
def delete_rule(
    ref_or_id: str, rt: RuntimeDep, caller: Annotated[Caller, Authorize(Permission.RULE_DELETE)]
) -> Response:
    """Delete a rule created through the API: 204. A rule a pack file defines is deleted by deleting its file
    (409 here)."""
    RuleChangeStore(rt.client, rt.audit).delete(ref_or_id, actor=caller.actor)
    rt.registry.invalidate()
    return Response(status_code=204)


class RuleTestBody(BaseModel):
    """``POST /api/v1/rules/{ref}/test``: a payload (of the rule's trigger type unless ``trigger`` says another),
    or a stored trigger instance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Checked by the route, whose message says what it must be.
    payload: Any = Field(default=None, description="The trigger payload (a JSON object)")
    trigger: Any = Field(default=None, description="The trigger type's ref; default the rule's own")
    trigger_instance: Any = Field(default=None, description="Test a stored trigger instance (its id) instead")


def _test_input(body: RuleTestBody, rule: Rule, rt: RuntimeDep) -> tuple[str, Any]:
    """The trigger type and payload ``body`` asks to test ``rule`` against; 400 saying what to send otherwise."""
    if body.trigger_instance is not None:
        if body.payload is not None or body.trigger is not None:
            raise ApiError(
                400, "give either trigger_instance (a stored instance's id) or payload (and trigger), not both"
            )
        if not isinstance(body.trigger_instance, str):
            raise ApiError(
                400, f"trigger_instance must be a trigger instance id, got {describe(body.trigger_instance)}"
            )
        record = rt.trigger_instances.get(body.trigger_instance)
        return str(record["trigger"]), record.get("payload") or {}
    if body.payload is None:
        raise ApiError(
            400,
            'give the payload to test the rule against: {"payload": {...}}, '
            'or a stored trigger instance: {"trigger_instance": "<id>"}',
        )
    if not isinstance(body.payload, dict):
        raise ApiError(400, f"payload must be a JSON object (the trigger payload), got {describe(body.payload)}")
    if body.trigger is not None and (not isinstance(body.trigger, str) or not body.trigger):
        raise ApiError(
            400, f"trigger must be a trigger type ref such as core.st2.webhook, got {describe(body.trigger)}"
        )
    return body.trigger or rule.trigger.type, body.payload


@router.post(
    "/api/v1/rules/{ref_or_id}/test",
    summary="Test a rule against a payload",
    responses={200: {"model": RuleTestOut, "description": "The verdict"}, **errors(400, 401, 403, 404)},
)
def rule_test(
    ref_or_id: str,
    body: RuleTestBody,
    rt: RuntimeDep,
    _caller: Annotated[Caller, Authorize(Permission.RULE_VIEW)],
) -> dict[str, Any]:
    """Whether the rule matches a payload (or a stored trigger instance), every criterion with why it passed or
    failed, and, when it matches, the action parameters it would render. Nothing runs and nothing is stored.
    ``st2kv`` reads the datastore; secrets (datastore, secret parameters, pack config) show as ``********``."""
    snapshot = rt.registry.current()
    rule = _rule(snapshot, ref_or_id)
    trigger, payload = _test_input(body, rule, rt)
    lookup = masked_kv_lookup(rt.client)
    action = snapshot.content.actions.get(rule.action.ref)
    specs = snapshot.parameter_specs(action) if action is not None else None
    config = masked_config_context(
        snapshot.content.packs.get(action.pack) if action is not None else None, lookup=lookup, mask=MASK
    )
    verdict = evaluate_rule(rule, trigger, payload, kv=lookup, specs=specs, config_context=config)
    return verdict.public()
