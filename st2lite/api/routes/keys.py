"""``/api/v1/keys``: the datastore, with StackStorm's paths, query parameters, bodies and shapes.

There is no authentication yet: every caller may read decrypted secrets and
the user scope defaults to :data:`~st2lite.datastore.DEFAULT_USER`
(docs/datastore.md, "Known gaps").
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict

from st2lite.api.deps import RuntimeDep
from st2lite.api.errors import ApiError

router = APIRouter(tags=["keys"])

#: ``limit`` when the request gives none (StackStorm's default page size).
DEFAULT_LIMIT = 100
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})


class KeyValueBody(BaseModel):
    """``PUT /api/v1/keys/{name}``: what ``st2 key set`` sends (``user`` and ``scope`` may be null)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str | None = None
    #: Checked by the store, whose message says what a value must be.
    value: Any
    scope: str | None = None
    user: str | None = None
    secret: bool = False
    encrypted: bool = False
    ttl: Any = None


def _decrypt(value: str | None) -> bool:
    """``decrypt`` strictly: a misspelt value must not silently show (or hide) secrets."""
    text = (value or "").lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ApiError(400, f"decrypt must be true or false, got {value!r}")


@router.get("/api/v1/keys")
def list_keys(
    rt: RuntimeDep,
    response: Response,
    prefix: str | None = None,
    scope: str | None = None,
    user: str | None = None,
    decrypt: str | None = None,
    limit: Annotated[int, Query()] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """Ordered by name (system values first for ``scope=all``); ``X-Total-Count`` tells how many match."""
    if limit == 0 or limit < -1:
        raise ApiError(400, "limit must be a positive number, or -1 for all")
    items, total = rt.keys.query(
        scope=scope,
        user=user,
        prefix=prefix or "",
        decrypt=_decrypt(decrypt),
        limit=None if limit == -1 else limit,
        offset=offset,
    )
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Limit"] = str(limit)
    return [item.public() for item in items]


@router.get("/api/v1/keys/{name:path}")
def get_key(
    name: str, rt: RuntimeDep, scope: str | None = None, user: str | None = None, decrypt: str | None = None
) -> dict[str, Any]:
    return rt.keys.get(name, scope=scope, user=user, decrypt=_decrypt(decrypt)).public()


@router.put("/api/v1/keys/{name:path}")
def set_key(name: str, body: KeyValueBody, rt: RuntimeDep) -> dict[str, Any]:
    """Create or replace ``name``: 200 with the stored value (masked when secret)."""
    if body.name is not None and body.name != name:
        raise ApiError(400, f"the body names '{body.name}' but the URL names '{name}'; send the same name in both")
    return rt.keys.set(name, **body.model_dump(exclude={"name"})).public()


@router.delete("/api/v1/keys/{name:path}", status_code=204)
def delete_key(name: str, rt: RuntimeDep, scope: str | None = None, user: str | None = None) -> Response:
    rt.keys.delete(name, scope=scope, user=user)
    return Response(status_code=204)
