"""Who is calling: credentials found in a request, checked against tokens, API keys and the users file.

Pure parts first (:func:`find_credentials`, :class:`Caller`), then the
:class:`Authenticator`, which does the lookups and remembers a good answer for
``auth_cache_seconds`` so a busy webhook pays one hash and one dict read per
request. A revoked key or token, or a changed role, is therefore seen by every
API process within that many seconds (docs/auth.md).
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from st2lite.apikeys import ApiKeyStore
from st2lite.exceptions import AuthenticationError, PermissionDeniedError
from st2lite.permissions import Permission, Role, allowed, role_at_most
from st2lite.tokens import TokenStore, secret_hash
from st2lite.users import User, UsersFile

__all__ = [
    "CREDENTIAL_HEADERS",
    "Authenticator",
    "Caller",
    "Credential",
    "basic_credentials",
    "find_credentials",
    "header_credentials",
]

#: How the caller proved who it is: an auth token, an API key, a webhook's own signature, or nothing
#: because auth is switched off (``auth_enabled: false``).
Method = Literal["token", "api_key", "webhook_signature", "none"]
#: The most good answers an API process remembers (then it starts over).
_CACHE_MAX = 10_000


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


@dataclass(frozen=True, slots=True)
class Credential:
    """One credential found in a request.

    A plain frozen dataclass, not a pydantic model: it is built by this module
    from strings, never parsed from input, once per request on the hot path
    (validation cost ~1.3 µs, a third of the whole check).
    """

    #: ``token``, ``api_key``, or ``bearer`` (either: tried as a token, then as a key).
    kind: Literal["token", "api_key", "bearer"]
    secret: str
    location: Literal["header", "query", "cookie"]


#: The request headers (lower case) that may hold a credential; the ``cookie`` header may too.
CREDENTIAL_HEADERS = ("x-auth-token", "st2-api-key", "authorization")


def _add(
    found: list[Credential],
    kind: Literal["token", "api_key", "bearer"],
    value: str | None,
    where: Literal["header", "query", "cookie"],
) -> None:
    if value and value.strip():
        found.append(Credential(kind=kind, secret=value.strip(), location=where))


def header_credentials(headers: Mapping[str, str]) -> list[Credential]:
    """The credentials in the request's headers (lower-case names): the first part of :func:`find_credentials`.

    When there is one, it comes before anything in the query or a cookie, so it alone
    decides whether the request's answer is remembered (:meth:`Authenticator.remembered`).
    """
    found: list[Credential] = []
    _add(found, "token", headers.get("x-auth-token"), "header")
    _add(found, "api_key", headers.get("st2-api-key"), "header")
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        _add(found, "bearer", value, "header")
    return found


def find_credentials(
    headers: Mapping[str, str], query: Mapping[str, str], cookies: Mapping[str, str]
) -> list[Credential]:
    """Every credential in the request, in StackStorm's order of precedence.

    ``headers`` have lower-case names. Token header, API key header, ``Authorization:
    Bearer``, token query parameter, API key query parameter, ``auth-token`` cookie.
    ``Authorization: Basic`` is not a credential here (the ``st2`` CLI's
    ``--basic-auth`` sends it for a proxy in front); only ``POST /auth/v1/tokens`` reads it.
    """
    found = header_credentials(headers)
    _add(found, "token", query.get("x-auth-token"), "query")
    _add(found, "api_key", query.get("st2-api-key"), "query")
    _add(found, "token", cookies.get("auth-token"), "cookie")
    return found


def basic_credentials(authorization: str) -> tuple[str, str] | None:
    """``(user, password)`` from an ``Authorization: Basic ...`` header, else None."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


class Authenticator:
    """Turns a request's credentials into a :class:`Caller`, or raises :class:`AuthenticationError` (401)."""

    def __init__(
        self, users: UsersFile, tokens: TokenStore, api_keys: ApiKeyStore, *, cache_seconds: float = 2.0
    ) -> None:
        self.users = users
        self.tokens = tokens
        self.api_keys = api_keys
        self._cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str], tuple[Caller, float]] = {}
        self._lock = threading.Lock()

    def authenticate(self, credentials: list[Credential]) -> Caller:
        """The caller of the first valid credential. The message never says why one was refused."""
        if not credentials:
            raise AuthenticationError(
                "authentication required: send an API key (header St2-Api-Key) or a token (header "
                "X-Auth-Token, from POST /auth/v1/tokens); see docs/auth.md"
            )
        for credential in credentials:
            caller = self._check(credential)
            if caller is not None:
                return caller
        raise AuthenticationError("invalid or expired credentials; log in again or use a valid API key")

    def remembered(self, credentials: list[Credential]) -> Caller | None:
        """The caller when the first credential's answer is remembered and fresh, else None (no I/O)."""
        if not credentials:
            return None
        credential = credentials[0]
        hit = self._cache.get((credential.kind, secret_hash(credential.secret)))
        if hit is None or hit[1] <= time.monotonic():
            return None
        caller = hit[0]
        if caller.location == credential.location:
            return caller
        return caller.model_copy(update={"location": credential.location})

    def forget(self) -> None:
        """Drop every remembered answer (after this process revokes a token or changes a key)."""
        with self._lock:
            self._cache.clear()

    def _check(self, credential: Credential) -> Caller | None:
        hit = self.remembered([credential])
        if hit is not None:
            return hit
        caller = None
        if credential.kind in ("token", "bearer"):
            caller = self._token_caller(credential)
        if caller is None and credential.kind in ("api_key", "bearer"):
            caller = self._key_caller(credential)
        if caller is not None:
            with self._lock:
                if len(self._cache) >= _CACHE_MAX:
                    self._cache.clear()
                key = (credential.kind, secret_hash(credential.secret))
                self._cache[key] = (caller, time.monotonic() + self._cache_seconds)
        return caller

    def _token_caller(self, credential: Credential) -> Caller | None:
        token = self.tokens.lookup(credential.secret)
        user = self.users.get(token.user) if token else None
        if token is None or user is None:  # a user removed from the file loses its tokens
            return None
        return Caller(
            user=user.name, role=user.role, method="token", location=credential.location, token_expiry=token.expiry
        )

    def _key_caller(self, credential: Credential) -> Caller | None:
        key = self.api_keys.lookup(credential.secret)
        if key is None or not key.enabled:
            return None
        owner: User | None = self.users.get(key.user)
        role = key.role if owner is None or role_at_most(key.role, owner.role) else owner.role
        return Caller(user=key.user, role=role, method="api_key", location=credential.location, api_key_id=key.id)
