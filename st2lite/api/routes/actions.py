"""``/api/v1/actions`` and ``/api/v1/runnertypes``: registered actions and the runner types they use."""

from __future__ import annotations

import difflib
from typing import Annotated, Any

from fastapi import APIRouter, Response

from st2lite.api.content_public import runner_public
from st2lite.api.deps import RuntimeDep
from st2lite.api.docs_models import ActionOut, RunnerOut, errors
from st2lite.api.errors import ApiError
from st2lite.api.queries import DEFAULT_LIMIT, FieldsDep, Page, paging
from st2lite.api.schemas import action_public
from st2lite.api.security import Authorize, Caller
from st2lite.permissions import Permission
from st2lite.runners import RUNNERS

router = APIRouter(tags=["actions"])

ActionViewer = Annotated[Caller, Authorize(Permission.ACTION_VIEW)]
RunnerViewer = Annotated[Caller, Authorize(Permission.RUNNER_VIEW)]


def _hint(ref: str, known: list[str]) -> str:
    close = difflib.get_close_matches(ref, known, n=1)
    return f'; did you mean "{close[0]}"?' if close else ""


@router.get(
    "/api/v1/actions",
    summary="List actions",
    responses={200: {"model": list[ActionOut], "description": "Actions by ref"}, **errors(400, 401, 403)},
)
def list_actions(
    rt: RuntimeDep,
    response: Response,
    _caller: ActionViewer,
    fields: FieldsDep,
    page: Annotated[Page, paging(-1)],
    pack: str | None = None,
) -> list[dict[str, Any]]:
    """Every registered action, by ref; ``pack`` keeps one pack's. No ``limit`` returns all (as upstream)."""
    actions = rt.registry.current().content.actions
    matching = [actions[ref] for ref in sorted(actions) if pack is None or actions[ref].pack == pack]
    page.headers(response, len(matching))
    return fields.apply_all([action_public(a) for a in page.cut(matching)])


@router.get(
    "/api/v1/actions/{ref_or_id}",
    summary="Get an action",
    responses={200: {"model": ActionOut, "description": "The action"}, **errors(401, 403, 404)},
)
def get_action(ref_or_id: str, rt: RuntimeDep, _caller: ActionViewer, fields: FieldsDep) -> dict[str, Any]:
    """One action by ref (its id is its ref); 404 ``Action "x" is not found.``"""
    actions = rt.registry.current().content.actions
    action = actions.get(ref_or_id)
    if action is None:
        raise ApiError(404, f'Action "{ref_or_id}" is not found{_hint(ref_or_id, list(actions)) or "."}')
    return fields.apply(action_public(action))


@router.get(
    "/api/v1/runnertypes",
    summary="List runner types",
    responses={200: {"model": list[RunnerOut], "description": "Runner types by name"}, **errors(400, 401, 403)},
)
def list_runner_types(
    response: Response,
    _caller: RunnerViewer,
    fields: FieldsDep,
    page: Annotated[Page, paging(DEFAULT_LIMIT)],
    name: str | None = None,
) -> list[dict[str, Any]]:
    """The runner types, by name; ``name`` keeps the one of that name (``st2 run`` looks its runner up so)."""
    matching = [RUNNERS[n] for n in sorted(RUNNERS) if name is None or n == name]
    page.headers(response, len(matching))
    return fields.apply_all([runner_public(r) for r in page.cut(matching)])


@router.get(
    "/api/v1/runnertypes/{name}",
    summary="Get a runner type",
    responses={200: {"model": RunnerOut, "description": "The runner type"}, **errors(401, 403, 404)},
)
def get_runner_type(name: str, _caller: RunnerViewer, fields: FieldsDep) -> dict[str, Any]:
    """One runner type by name (its id is its name); 404 ``RunnerType "x" is not found.``"""
    runner = RUNNERS.get(name)
    if runner is None:
        raise ApiError(404, f'RunnerType "{name}" is not found{_hint(name, list(RUNNERS)) or "."}')
    return fields.apply(runner_public(runner))
