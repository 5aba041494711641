"""``/api/v1/actionalias`` and ``/api/v1/aliasexecution``: action aliases (ChatOps), StackStorm's shapes.

Matching is read-only (``action_alias_match``, viewers have it); running an alias needs ``action_execute``.
The execution runs as the caller; the chat ``user`` of the body is recorded (``context.api_user``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from st2lite.alias_execution import AliasLaunch, AliasRequest, alias_public, find_alias, launch_alias, match_request
from st2lite.aliases import AliasMatchError
from st2lite.api.deps import RuntimeDep
from st2lite.api.docs_models import errors
from st2lite.api.errors import ApiError
from st2lite.api.queries import FieldsDep, Page, paging
from st2lite.api.schemas import execution_public
from st2lite.api.security import Authorize, Caller
from st2lite.datastore import kv_lookup
from st2lite.exceptions import UnknownRefError
from st2lite.permissions import Permission
from st2lite.registry import Snapshot

router = APIRouter(tags=["action aliases"])

AliasViewer = Annotated[Caller, Authorize(Permission.ACTION_ALIAS_VIEW)]
AliasMatcher = Annotated[Caller, Authorize(Permission.ACTION_ALIAS_MATCH)]
AliasRunner = Annotated[Caller, Authorize(Permission.ACTION_EXECUTE)]


class MatchBody(BaseModel):
    """``POST /api/v1/actionalias/match``: the text to match."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    command: str = Field(min_length=1, max_length=10_000)


class HelpBody(BaseModel):
    """``POST /api/v1/actionalias/help``: which aliases to describe."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    filter: str = ""
    pack: str = ""
    limit: int = Field(default=0, ge=0)
    offset: int = Field(default=0, ge=0)


@router.get(
    "/api/v1/actionalias",
    summary="List action aliases",
    responses={200: {"description": "Action aliases by ref"}, **errors(400, 401, 403)},
)
def list_aliases(
    rt: RuntimeDep,
    response: Response,
    _caller: AliasViewer,
    fields: FieldsDep,
    page: Annotated[Page, paging(-1)],
    pack: str | None = None,
    name: str | None = None,
) -> list[dict[str, Any]]:
    """Every registered alias, by ref; ``pack`` and ``name`` keep the matching ones. No ``limit``: all."""
    aliases = rt.registry.current().content.aliases
    matching = [
        aliases[ref]
        for ref in sorted(aliases)
        if (pack is None or aliases[ref].pack == pack) and (name is None or aliases[ref].name == name)
    ]
    page.headers(response, len(matching))
    return fields.apply_all([alias_public(a) for a in page.cut(matching)])


@router.get(
    "/api/v1/actionalias/{ref_or_id}",
    summary="Get an action alias",
    responses={200: {"description": "The action alias"}, **errors(401, 403, 404)},
)
def get_alias(ref_or_id: str, rt: RuntimeDep, _caller: AliasViewer, fields: FieldsDep) -> dict[str, Any]:
    """One alias by ref (its id is its ref), or by name when one pack has it."""
    return fields.apply(alias_public(_find(rt.registry.current(), ref_or_id)))


@router.post(
    "/api/v1/actionalias/match",
    summary="Match a command to an action alias",
    responses={200: {"description": "The alias and the format that matched"}, **errors(400, 401, 403, 422)},
)
def match(body: MatchBody, rt: RuntimeDep, _caller: AliasMatcher) -> dict[str, Any]:
    """``{"actionalias", "display", "representation"}`` (and the parameters read); 400 when nothing or several
    aliases match, with the reason."""
    found = _match(rt.registry.current(), AliasRequest(command=body.command))
    return {
        "actionalias": alias_public(found.alias),
        "display": found.display,
        "representation": found.representation,
        "parameters": found.action_parameters,
    }


@router.post(
    "/api/v1/actionalias/help",
    summary="Describe the action aliases",
    responses={200: {"description": "Help strings"}, **errors(401, 403, 422)},
)
def help_strings(body: HelpBody, rt: RuntimeDep, _caller: AliasViewer) -> dict[str, Any]:
    """``{"available": n, "helpstrings": [{pack, display, description}]}``: one per format of each enabled alias
    (``filter``: a case-insensitive text the display or description holds; ``pack``; ``offset``/``limit``)."""
    aliases = rt.registry.current().content.aliases
    needle = body.filter.lower()
    strings = [
        {"pack": alias.pack, "display": display, "description": alias.description}
        for ref in sorted(aliases)
        if (alias := aliases[ref]).enabled and (not body.pack or alias.pack == body.pack)
        for display in dict.fromkeys(alias.display_of(text) for text in alias.representations())
        if not needle or needle in display.lower() or needle in alias.description.lower()
    ]
    end = body.offset + body.limit if body.limit else None
    return {"available": len(strings), "helpstrings": strings[body.offset : end]}


@router.post(
    "/api/v1/aliasexecution",
    status_code=201,
    summary="Run an action alias",
    responses={201: {"description": "The execution requested"}, **errors(400, 401, 403, 404, 422)},
)
def execute(body: AliasRequest, rt: RuntimeDep, caller: AliasRunner) -> Any:
    """Match ``command`` (within ``name`` and ``format`` when given) and run the aliased action as the caller;
    201 ``{"results": [{"actionalias", "execution", "message"}]}``."""
    if body.name is not None:
        _find(rt.registry.current(), body.name)  # 404 for an unknown alias
    return JSONResponse(status_code=201, content=_run(rt, caller, body))


@router.post(
    "/api/v1/aliasexecution/match_and_execute",
    summary="Match a command and run its action alias",
    responses={200: {"description": "The execution requested"}, **errors(400, 401, 403, 422)},
)
def match_and_execute(body: AliasRequest, rt: RuntimeDep, caller: AliasRunner) -> dict[str, Any]:
    """As ``POST /api/v1/aliasexecution`` without ``name``/``format``; 200, as ``st2 action-alias execute``
    expects."""
    return _run(rt, caller, body.model_copy(update={"name": None, "format": None}))


def _run(rt: RuntimeDep, caller: Caller, body: AliasRequest) -> dict[str, Any]:
    snapshot = rt.registry.current()
    try:
        launched = launch_alias(
            rt.client,
            snapshot,
            body,
            run_as=caller.user,
            actor=caller.actor,
            executions=rt.executions,
            requests=rt.requests,
            kv_lookup=kv_lookup(rt.client),
            api_url=rt.settings.resolved_api_url,
        )
    except AliasMatchError as exc:
        raise ApiError(400, str(exc)) from exc
    return {"results": [_result(launched, snapshot)]}


def _result(launched: AliasLaunch, snapshot: Snapshot) -> dict[str, Any]:
    return {
        "actionalias": alias_public(launched.match.alias),
        "execution": execution_public(launched.execution, snapshot),
        "message": launched.message,
    }


def _match(snapshot: Snapshot, request: AliasRequest) -> Any:
    try:
        return match_request(snapshot, request)
    except AliasMatchError as exc:
        raise ApiError(400, str(exc)) from exc


def _find(snapshot: Snapshot, ref: str) -> Any:
    try:
        return find_alias(snapshot, ref)
    except UnknownRefError as exc:
        raise ApiError(404, f'ActionAlias "{ref}" is not found: {exc}') from exc
