"""Who is calling and what they may do: the ``Caller`` of a request and the ``Authorize`` dependency.

Routes declare the permission they need::

    @router.get("/api/v1/actions")
    def list_actions(rt: RuntimeDep, caller: Annotated[Caller, Authorize(Permission.ACTION_VIEW)]) -> ...

and routes whose permission depends on the request (a key's scope, a user's
own key) take ``CallerDep`` and call ``caller.require(...)`` themselves.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict

from st2lite.exceptions import PermissionDeniedError
from st2lite.permissions import Permission, Role, allowed

__all__ = ["Authorize", "Caller", "CallerDep", "current_caller"]

#: How the caller proved who it is: an auth token, an API key, a webhook's own signature, or nothing
#: because auth is switched off (``auth_enabled: false``).
Method = Literal["token", "api_key", "webhook_signature", "none"]


class Caller(BaseModel):
    """The authenticated caller of one request."""

    model_config = ConfigDict(frozen=True)

    user: str
    role: Role
    method: Method
    #: Where the credential was found: ``header``, ``query`` or ``cookie``.
    location: str = "header"
    #: When the token expires (ISO 8601 UTC); for ``method == "token"``.
    token_expiry: str | None = None
    #: The API key's id; for ``method == "api_key"``.
    api_key_id: str | None = None

    @property
    def actor(self) -> str:
        """How audit events name this caller: ``api:alice``, or ``api:ci (api key 6b03...)``."""
        if self.api_key_id:
            return f"api:{self.user} (api key {self.api_key_id})"
        return f"api:{self.user}"

    def can(self, permission: Permission) -> bool:
        return allowed(self.role, permission)

    def require(self, permission: Permission, what: str = "") -> None:
        """Raise :class:`PermissionDeniedError` (HTTP 403 naming the permission) unless the role grants it."""
        if not allowed(self.role, permission):
            raise PermissionDeniedError(self.user, self.role.value, permission.value, what)


#: The caller when auth is switched off: every request acts as this admin.
ANONYMOUS_ADMIN = Caller(user="st2admin", role=Role.ADMIN, method="none")


async def current_caller(request: Request) -> Caller:
    """The request's caller, set by the authentication middleware (an admin when auth is off)."""
    caller: Caller | None = request.scope.get("state", {}).get("caller")
    return caller if caller is not None else ANONYMOUS_ADMIN


CallerDep = Annotated[Caller, Depends(current_caller)]


def Authorize(permission: Permission) -> Any:
    """A dependency giving the caller after checking it has ``permission`` (403 otherwise)."""

    async def _authorized(request: Request) -> Caller:
        caller = await current_caller(request)
        caller.require(permission)
        return caller

    _authorized.__name__ = f"authorize_{permission.value}"
    return Depends(_authorized)
