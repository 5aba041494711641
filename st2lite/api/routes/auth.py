"""``/auth/v1/tokens`` (log in), ``/api/v1/user`` (who am I) and ``/api/v1/apikeys`` (API keys).

Shapes follow StackStorm's, so ``st2 auth``, ``st2 login``, ``st2 whoami`` and
``st2 apikey ...`` work against st2lite (docs/auth.md, docs/api.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from st2lite.api.deps import RuntimeDep
from st2lite.api.errors import ApiError
from st2lite.api.security import Authorize, CallerDep
from st2lite.authentication import Caller, basic_credentials
from st2lite.exceptions import AuthenticationError, PermissionDeniedError
from st2lite.permissions import Permission, Role, role_at_most

router = APIRouter(tags=["auth"])


class TokenRequest(BaseModel):
    """``POST /auth/v1/tokens``: ``{}`` or ``{"ttl": seconds}`` (what ``st2 auth`` sends)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    ttl: int | None = Field(default=None, ge=1)


class TokenValidation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    token: str


class ApiKeyCreate(BaseModel):
    """``POST /api/v1/apikeys``: what ``st2 apikey create`` sends; ``role`` is st2lite's own."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    user: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    role: Role | None = None


class ApiKeyUpdate(BaseModel):
    """``PUT /api/v1/apikeys/{id}``: the whole object (``st2 apikey enable|disable``); only these are changed."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    enabled: bool | None = None
    metadata: dict[str, Any] | None = None


@router.post("/auth/v1/tokens", status_code=201, summary="Log in: a token for HTTP Basic credentials")
def create_token(
    rt: RuntimeDep,
    body: TokenRequest | None = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Any:
    """HTTP Basic user and password from the users file give a token valid ``ttl`` seconds (201).

    Wrong or missing credentials give 401 without saying which part was wrong.
    """
    settings = rt.settings
    pair = basic_credentials(authorization or "")
    if pair is None:
        raise AuthenticationError("send the user and password with HTTP Basic authentication")
    user = rt.authenticator.users.verify(*pair)
    if user is None:
        raise AuthenticationError("Invalid or missing credentials")
    ttl = (body.ttl if body else None) or settings.token_ttl
    if ttl > settings.token_ttl_max:
        raise ApiError(400, f"ttl {ttl} is over the longest allowed, {settings.token_ttl_max} seconds (token_ttl_max)")
    token, secret = rt.authenticator.tokens.issue(user.name, ttl, actor=f"api:{user.name}")
    return JSONResponse(status_code=201, content=token.public(secret))


@router.post("/auth/v1/tokens/validate", summary="Tell whether a token is valid")
def validate_token(body: TokenValidation, rt: RuntimeDep) -> dict[str, Any]:
    token = rt.authenticator.tokens.lookup(body.token)
    valid = token is not None and rt.authenticator.users.get(token.user) is not None
    return {"valid": valid}


@router.get("/api/v1/user", summary="Who the caller is (st2 whoami)")
def whoami(caller: CallerDep) -> dict[str, Any]:
    method = {"token": "authentication token", "api_key": "API key"}.get(caller.method, caller.method)
    authentication: dict[str, Any] = {"method": method, "location": caller.location}
    if caller.token_expiry:
        authentication["token_expire"] = caller.token_expiry
    return {
        "username": caller.user,
        "authentication": authentication,
        "rbac": {"enabled": True, "roles": [caller.role.value], "is_admin": caller.role is Role.ADMIN},
    }


@router.get("/api/v1/apikeys", summary="List API keys (hashes, never the keys)")
def list_api_keys(
    rt: RuntimeDep, response: Response, caller: Annotated[Caller, Authorize(Permission.API_KEY_VIEW)]
) -> list[dict[str, Any]]:
    items = [k.public() for k in rt.authenticator.api_keys.list()]
    response.headers["X-Total-Count"] = str(len(items))
    return items


@router.get("/api/v1/apikeys/{ref}", summary="One API key, by id")
def get_api_key(
    ref: str, rt: RuntimeDep, caller: Annotated[Caller, Authorize(Permission.API_KEY_VIEW)]
) -> dict[str, Any]:
    return rt.authenticator.api_keys.get(ref).public()


@router.post("/api/v1/apikeys", status_code=201, summary="Create an API key; the key is in this answer only")
def create_api_key(
    body: ApiKeyCreate, rt: RuntimeDep, caller: Annotated[Caller, Authorize(Permission.API_KEY_CREATE)]
) -> Any:
    """A key for ``user`` (default: the caller) with ``role`` (default: that user's role, else ``viewer``)."""
    owner_name = body.user or caller.user
    owner = rt.authenticator.users.get(owner_name)
    role = body.role or (owner.role if owner else (caller.role if owner_name == caller.user else Role.VIEWER))
    if not role_at_most(role, caller.role):
        raise PermissionDeniedError(caller.user, caller.role.value, f"role {role.value}", "give a key that role")
    key, secret = rt.authenticator.api_keys.create(owner_name, role, actor=caller.actor, metadata=body.metadata)
    return JSONResponse(status_code=201, content={**key.public(), "key": secret})


@router.put("/api/v1/apikeys/{ref}", summary="Enable or disable an API key, or change its metadata")
def update_api_key(
    ref: str, body: ApiKeyUpdate, rt: RuntimeDep, caller: Annotated[Caller, Authorize(Permission.API_KEY_MODIFY)]
) -> dict[str, Any]:
    key = rt.authenticator.api_keys.update(ref, actor=caller.actor, enabled=body.enabled, metadata=body.metadata)
    rt.authenticator.forget()
    return key.public()


@router.delete("/api/v1/apikeys/{ref}", status_code=204, summary="Delete an API key")
def delete_api_key(
    ref: str, rt: RuntimeDep, caller: Annotated[Caller, Authorize(Permission.API_KEY_DELETE)]
) -> Response:
    rt.authenticator.api_keys.delete(ref, actor=caller.actor)
    rt.authenticator.forget()
    return Response(status_code=204)
