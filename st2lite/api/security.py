"""Authentication for every request, and the ``Authorize`` dependency routes declare their permission with.

:class:`AuthMiddleware` runs first: it finds the request's credentials,
answers 401 when there are none or they are not valid, and leaves the
:class:`~st2lite.authentication.Caller` in the request's state. Everything is
closed unless listed in :data:`PUBLIC_PATHS` (health, the OpenAPI document,
the token endpoint, which reads Basic credentials itself) or handled by its own
secret (task callbacks' tokens, a signed webhook's signature). Routes then
declare the permission they need::

    @router.get("/api/v1/actions")
    def list_actions(rt: RuntimeDep, caller: Annotated[Caller, Authorize(Permission.ACTION_VIEW)]) -> ...

and routes whose permission depends on the request (a key's scope, a user's
own key) take ``CallerDep`` and call ``caller.require(...)`` themselves.
"""

from __future__ import annotations

import logging
from http.cookies import SimpleCookie
from typing import Annotated, Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from st2lite.authentication import CREDENTIAL_HEADERS, Authenticator, Caller, find_credentials, header_credentials
from st2lite.exceptions import AuthenticationError
from st2lite.permissions import Permission, Role
from st2lite.redisdb import UNAVAILABLE

__all__ = ["ANONYMOUS_ADMIN", "PUBLIC_PATHS", "AuthMiddleware", "Authorize", "Caller", "CallerDep", "current_caller"]

log = logging.getLogger(__name__)

#: Paths served without credentials (compared without a trailing slash).
PUBLIC_PATHS = frozenset(
    {
        "/",  # the dashboard's page (docs/dashboard.md): it holds no data
        "/api/v1/health",
        "/auth/v1/tokens",
        "/auth/v1/tokens/validate",
        "/docs",
        "/docs/oauth2-redirect",
        "/openapi.json",
    }
)
#: Task callbacks carry the per-task token they were given (docs/actions.md, callback runner).
CALLBACK_PREFIX = "/api/v1/callbacks/"
WEBHOOK_PREFIX = "/api/v1/webhooks/"
#: The dashboard's scripts and styles (they hold no data: docs/dashboard.md).
DASHBOARD_PREFIX = "/ui/"

#: The only request headers the middleware reads (ASGI gives their names in lower case).
_READ_HEADERS = frozenset(name.encode() for name in (*CREDENTIAL_HEADERS, "cookie"))

#: The caller when auth is switched off: every request acts as this admin.
ANONYMOUS_ADMIN = Caller(user="st2admin", role=Role.ADMIN, method="none")


class AuthMiddleware:
    """ASGI middleware: 401 without valid credentials, else the caller in ``scope["state"]["caller"]``."""

    def __init__(self, app: ASGIApp, *, authenticator: Authenticator, signed_webhooks: Any) -> None:
        """``signed_webhooks()`` gives the urls of declared webhooks that check their own signature."""
        self.app = app
        self.authenticator = authenticator
        self.signed_webhooks = signed_webhooks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        bare = path.rstrip("/") or "/"
        if bare in PUBLIC_PATHS or path.startswith((CALLBACK_PREFIX, DASHBOARD_PREFIX)):
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}  # the last of a repeated header counts
        for name, value in scope["headers"]:
            name = name.lower()
            if name in _READ_HEADERS:
                headers[name.decode("latin-1")] = value.decode("latin-1")
        # The hot path: a credential in a header comes first, so when its answer is remembered neither the
        # query string nor the cookies can change the outcome and are not parsed (one SHA-256, one dict read).
        in_headers = header_credentials(headers)
        caller = self.authenticator.remembered(in_headers)
        try:
            if caller is None:
                query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
                credentials = find_credentials(headers, query, _cookies(headers.get("cookie", "")))
                if not in_headers:  # the first credential is in the query or a cookie: it may be remembered too
                    caller = self.authenticator.remembered(credentials)
                if caller is None:
                    caller = await run_in_threadpool(self._authenticate, credentials, scope)
        except AuthenticationError as exc:
            await _send_fault(send, 401, str(exc), {"www-authenticate": 'Bearer realm="st2lite"'})
            return
        except UNAVAILABLE as exc:
            await _send_fault(send, 503, f"cannot reach Redis ({exc}); try again when it is back")
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)

    def _authenticate(self, credentials: Any, scope: Scope) -> Caller:
        try:
            return self.authenticator.authenticate(credentials)
        except AuthenticationError:
            path: str = scope["path"]
            if scope["method"] == "POST" and path.startswith(WEBHOOK_PREFIX) and not credentials:
                url = path[len(WEBHOOK_PREFIX) :].strip("/")
                if url in self.signed_webhooks():
                    # The webhook route checks the signature before anything is dispatched.
                    return Caller(user=f"webhook:{url}", role=Role.VIEWER, method="webhook_signature")
            raise


def _cookies(header: str) -> dict[str, str]:
    if not header:
        return {}
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed cookie header is no credential, not an error
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


async def _send_fault(send: Send, status: int, message: str, extra: dict[str, str] | None = None) -> None:
    body = orjson.dumps({"faultstring": message})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def caller_of(scope: Scope) -> Caller:
    """The caller the middleware left in ``scope`` (an admin when auth is off)."""
    caller: Caller | None = scope.get("state", {}).get("caller")
    return caller if caller is not None else ANONYMOUS_ADMIN


async def current_caller(request: Request) -> Caller:
    """The request's caller, set by :class:`AuthMiddleware` (an admin when auth is off)."""
    return caller_of(request.scope)


CallerDep = Annotated[Caller, Depends(current_caller)]


def Authorize(permission: Permission) -> Any:
    """A dependency giving the caller after checking it has ``permission`` (403 otherwise)."""

    async def _authorized(request: Request) -> Caller:
        caller = caller_of(request.scope)
        caller.require(permission)
        return caller

    _authorized.__name__ = f"authorize_{permission.value}"
    return Depends(_authorized)
