"""``/api/v1/packs`` (registered packs) and ``/api/v1`` (the API's version)."""

from __future__ import annotations

import difflib
from typing import Annotated, Any

from fastapi import APIRouter, Response

from st2lite.api.content_public import pack_public
from st2lite.api.deps import RuntimeDep
from st2lite.api.docs_models import ApiRoot, PackOut, errors
from st2lite.api.errors import ApiError
from st2lite.api.queries import DEFAULT_LIMIT, FieldsDep, Page, paging
from st2lite.api.security import Authorize, Caller
from st2lite.permissions import Permission
from st2lite.version import __version__

router = APIRouter(tags=["packs"])

Viewer = Annotated[Caller, Authorize(Permission.PACK_VIEW)]

#: Where the API's own description is served.
DOCS_URL = "/docs"


@router.get("/api/v1", summary="API version", responses={200: {"model": ApiRoot, "description": "Version"}})
async def api_root() -> dict[str, Any]:
    """``{"version", "docs_url"}``, as StackStorm's ``GET /api/v1/`` (no credentials needed)."""
    return {"version": __version__, "docs_url": DOCS_URL}


@router.get(
    "/api/v1/packs",
    summary="List packs",
    responses={200: {"model": list[PackOut], "description": "Packs by ref"}, **errors(400, 401, 403)},
)
def list_packs(
    rt: RuntimeDep,
    response: Response,
    _caller: Viewer,
    fields: FieldsDep,
    page: Annotated[Page, paging(DEFAULT_LIMIT)],
) -> list[dict[str, Any]]:
    """Every registered pack (pack.yaml's fields, not its config), by ref."""
    packs = rt.registry.current().content.packs
    matching = [packs[ref] for ref in sorted(packs)]
    page.headers(response, len(matching))
    return fields.apply_all([pack_public(p) for p in page.cut(matching)])


@router.get(
    "/api/v1/packs/{ref_or_id}",
    summary="Get a pack",
    responses={200: {"model": PackOut, "description": "The pack"}, **errors(401, 403, 404)},
)
def get_pack(ref_or_id: str, rt: RuntimeDep, _caller: Viewer, fields: FieldsDep) -> dict[str, Any]:
    """One pack by ref (its id is its ref)."""
    packs = rt.registry.current().content.packs
    pack = packs.get(ref_or_id)
    if pack is None:
        close = difflib.get_close_matches(ref_or_id, list(packs), n=1)
        hint = f'; did you mean "{close[0]}"?' if close else "; register it with 'st2lite pack register'"
        raise ApiError(404, f'Pack "{ref_or_id}" is not found{hint}')
    return fields.apply(pack_public(pack))
