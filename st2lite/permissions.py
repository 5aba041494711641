"""Roles and what each may do: pure data and one check, no I/O (docs/auth.md).

Three roles, assigned per user (the users file) and per API key:

- ``admin``: everything;
- ``operator``: read everything, run and re-run actions, stop executions,
  answer inquiries, send webhooks, and set, delete and decrypt datastore values
  in its own user scope;
- ``viewer``: read only; datastore secrets are always masked.

Permission names follow StackStorm's RBAC permission types
(``action_execute``, ``execution_stop``, ``key_value_pair_set`` ...), so a
403 reads the way a StackStorm operator expects.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ROLE_GRANTS", "Permission", "Role", "allowed", "role_at_most"]


class Permission(StrEnum):
    """One thing a caller may be allowed to do."""

    ACTION_VIEW = "action_view"
    ACTION_EXECUTE = "action_execute"
    ACTION_ALIAS_VIEW = "action_alias_view"
    #: Match a command to an action alias (read only: running it needs ``action_execute``).
    ACTION_ALIAS_MATCH = "action_alias_match"
    EXECUTION_VIEW = "execution_view"
    EXECUTION_STOP = "execution_stop"
    EXECUTION_RERUN = "execution_rerun"
    RULE_VIEW = "rule_view"
    RULE_CREATE = "rule_create"
    RULE_MODIFY = "rule_modify"
    RULE_DELETE = "rule_delete"
    RULE_ENFORCEMENT_VIEW = "rule_enforcement_view"
    TRIGGER_VIEW = "trigger_view"
    TRIGGER_INSTANCE_RE_EMIT = "trigger_instance_re_emit"
    SENSOR_VIEW = "sensor_type_view"
    PACK_VIEW = "pack_view"
    PACK_REGISTER = "pack_register"
    RUNNER_VIEW = "runner_type_view"
    WEBHOOK_VIEW = "webhook_view"
    WEBHOOK_SEND = "webhook_send"
    KEY_VIEW = "key_value_pair_view"
    #: Set, delete and decrypt values in the caller's own user scope.
    KEY_OWN = "key_value_pair_own"
    #: Set and delete system values and other users' values.
    KEY_SET = "key_value_pair_set"
    #: Read system values and other users' values in clear.
    KEY_DECRYPT = "key_value_pair_decrypt"
    INQUIRY_VIEW = "inquiry_view"
    INQUIRY_RESPOND = "inquiry_respond"
    STREAM_VIEW = "stream_view"
    API_KEY_VIEW = "api_key_view"
    API_KEY_CREATE = "api_key_create"
    API_KEY_MODIFY = "api_key_modify"
    API_KEY_DELETE = "api_key_delete"
    AUDIT_VIEW = "audit_view"
    #: Act as another user: run an action, re-run, cancel or answer an inquiry in their name (admins only,
    #: as StackStorm lets only admins set an execution's ``user``).
    USER_IMPERSONATE = "user_impersonate"


class Role(StrEnum):
    """A set of permissions; ordered admin > operator > viewer."""

    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


_READ = frozenset(
    {
        Permission.ACTION_VIEW,
        Permission.ACTION_ALIAS_VIEW,
        Permission.ACTION_ALIAS_MATCH,
        Permission.EXECUTION_VIEW,
        Permission.RULE_VIEW,
        Permission.RULE_ENFORCEMENT_VIEW,
        Permission.TRIGGER_VIEW,
        Permission.SENSOR_VIEW,
        Permission.PACK_VIEW,
        Permission.RUNNER_VIEW,
        Permission.WEBHOOK_VIEW,
        Permission.KEY_VIEW,
        Permission.INQUIRY_VIEW,
        Permission.STREAM_VIEW,
        Permission.AUDIT_VIEW,
    }
)
_OPERATE = frozenset(
    {
        Permission.ACTION_EXECUTE,
        Permission.EXECUTION_STOP,
        Permission.EXECUTION_RERUN,
        Permission.INQUIRY_RESPOND,
        Permission.WEBHOOK_SEND,
        Permission.TRIGGER_INSTANCE_RE_EMIT,
        Permission.KEY_OWN,
    }
)

#: What each role may do.
ROLE_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: _READ | _OPERATE,
    Role.VIEWER: _READ,
}

_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


def allowed(role: Role, permission: Permission) -> bool:
    """True when ``role`` grants ``permission``."""
    return permission in ROLE_GRANTS[role]


def role_at_most(role: Role, ceiling: Role) -> bool:
    """True when ``role`` grants nothing ``ceiling`` does not (an API key cannot outrank its maker)."""
    return _RANK[role] <= _RANK[ceiling]
