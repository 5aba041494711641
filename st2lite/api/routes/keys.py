"""``/api/v1/keys``: the datastore, with StackStorm's paths, query parameters, bodies and shapes.

Who may do what (docs/auth.md): reading names and masked values needs
``key_value_pair_view``; a user scope without ``user`` is the caller's own.
The caller's own user values may be set, deleted and decrypted with
``key_value_pair_own`` (operators); system values and other users' need
``key_value_pair_set`` to change and ``key_value_pair_decrypt`` to read in
clear or to list (admins). Secrets are masked unless decrypted.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict

from st2lite.api.deps import RuntimeDep
from st2lite.api.errors import ApiError
from st2lite.api.security import Authorize, Caller, CallerDep
from st2lite.datastore import USER, parse_scope
from st2lite.permissions import Permission

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


def _own(caller: Caller, scope: str | None, user: str | None, *, allow_all: bool = False) -> tuple[bool, str]:
    """Whether the request touches only the caller's own user values, and the user it names (default: the caller)."""
    long_scope = parse_scope(scope, allow_all=allow_all)
    owner = user or caller.user
    return long_scope == USER and owner == caller.user, owner


def _may_read(caller: Caller, scope: str | None, user: str | None, decrypt: bool, *, listing: bool) -> str:
    """Check the caller may read these values (in clear when ``decrypt``); the user whose values they are."""
    own, owner = _own(caller, scope, user, allow_all=listing)
    if owner != caller.user:
        caller.require(Permission.KEY_DECRYPT, f"read the values of user '{owner}'")
    if decrypt:
        caller.require(Permission.KEY_OWN if own else Permission.KEY_DECRYPT, "read secrets in clear")
    return owner


def _may_change(caller: Caller, scope: str | None, user: str | None) -> str:
    own, owner = _own(caller, scope, user)
    caller.require(Permission.KEY_OWN if own else Permission.KEY_SET, "change this datastore value")
    return owner


@router.get("/api/v1/keys", summary="List datastore values")
def list_keys(
    rt: RuntimeDep,
    response: Response,
    caller: Annotated[Caller, Authorize(Permission.KEY_VIEW)],
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
    clear = _decrypt(decrypt)
    owner = _may_read(caller, scope, user, clear, listing=True)
    items, total = rt.keys.query(
        scope=scope,
        user=owner,
        prefix=prefix or "",
        decrypt=clear,
        limit=None if limit == -1 else limit,
        offset=offset,
    )
    response.headers["X-Total-Count"] = str(total)
    response.headers["X-Limit"] = str(limit)
    return [item.public() for item in items]


@router.get("/api/v1/keys/{name:path}", summary="One datastore value")
def get_key(
    name: str,
    rt: RuntimeDep,
    caller: Annotated[Caller, Authorize(Permission.KEY_VIEW)],
    scope: str | None = None,
    user: str | None = None,
    decrypt: str | None = None,
) -> dict[str, Any]:
    clear = _decrypt(decrypt)
    owner = _may_read(caller, scope, user, clear, listing=False)
    return rt.keys.get(name, scope=scope, user=owner, decrypt=clear).public()


@router.put("/api/v1/keys/{name:path}", summary="Create or replace a datastore value")
def set_key(name: str, body: KeyValueBody, rt: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    """Create or replace ``name``: 200 with the stored value (masked when secret)."""
    if body.name is not None and body.name != name:
        raise ApiError(400, f"the body names '{body.name}' but the URL names '{name}'; send the same name in both")
    owner = _may_change(caller, body.scope, body.user)
    fields = body.model_dump(exclude={"name", "user"})
    return rt.keys.set(name, user=owner, actor=caller.actor, **fields).public()


@router.delete("/api/v1/keys/{name:path}", status_code=204, summary="Delete a datastore value")
def delete_key(
    name: str, rt: RuntimeDep, caller: CallerDep, scope: str | None = None, user: str | None = None
) -> Response:
    owner = _may_change(caller, scope, user)
    rt.keys.delete(name, scope=scope, user=owner, actor=caller.actor)
    return Response(status_code=204)
