"""Whom a request acts for: the caller, or (admins only) the user a body names (StackStorm's impersonation)."""

from __future__ import annotations

from st2lite.api.security import Caller
from st2lite.permissions import Permission

__all__ = ["acting_user"]


def acting_user(caller: Caller, requested: str | None, what: str) -> str:
    """``requested`` when given and allowed, else the caller's user.

    A ``user`` different from the caller's needs :attr:`Permission.USER_IMPERSONATE`
    (admins): anyone else gets 403 naming the permission. ``what`` says what
    the user would be for, for that message ("run actions as 'alice'").
    """
    if requested is None or requested == "" or requested == caller.user:
        return caller.user
    caller.require(Permission.USER_IMPERSONATE, what.format(user=requested))
    return requested
