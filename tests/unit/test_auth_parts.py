"""The pure parts of auth: roles and permissions, finding credentials in a request, Basic credentials."""

from __future__ import annotations

import base64

import pytest

from st2lite.authentication import Caller, basic_credentials, find_credentials, header_credentials
from st2lite.credentials import new_password
from st2lite.exceptions import PermissionDeniedError
from st2lite.permissions import ROLE_GRANTS, Permission, Role, allowed, role_at_most


def test_admin_has_every_permission_operator_operates_viewer_only_reads() -> None:
    assert ROLE_GRANTS[Role.ADMIN] == frozenset(Permission)
    assert allowed(Role.OPERATOR, Permission.ACTION_EXECUTE) and allowed(Role.OPERATOR, Permission.INQUIRY_RESPOND)
    assert allowed(Role.OPERATOR, Permission.KEY_OWN) and not allowed(Role.OPERATOR, Permission.KEY_SET)
    assert not allowed(Role.OPERATOR, Permission.KEY_DECRYPT) and not allowed(Role.OPERATOR, Permission.RULE_CREATE)
    assert not allowed(Role.OPERATOR, Permission.API_KEY_CREATE)
    viewer = ROLE_GRANTS[Role.VIEWER]
    assert viewer < ROLE_GRANTS[Role.OPERATOR] < ROLE_GRANTS[Role.ADMIN]
    # Matching a command to an action alias reads only (running it needs action_execute).
    assert all(p.value.endswith("_view") or p is Permission.ACTION_ALIAS_MATCH for p in viewer), sorted(viewer)


def test_role_order() -> None:
    assert role_at_most(Role.VIEWER, Role.OPERATOR) and role_at_most(Role.OPERATOR, Role.OPERATOR)
    assert not role_at_most(Role.ADMIN, Role.OPERATOR)


def test_a_denied_permission_names_the_permission_and_the_role() -> None:
    viewer = Caller(user="vic", role=Role.VIEWER, method="api_key", api_key_id="k1")
    viewer.require(Permission.EXECUTION_VIEW)
    with pytest.raises(PermissionDeniedError) as caught:
        viewer.require(Permission.ACTION_EXECUTE, "run actions")
    assert str(caught.value) == (
        "vic (role viewer) lacks the permission 'action_execute' to run actions; "
        "ask an admin for a role that grants it (docs/auth.md)"
    )
    assert viewer.actor == "api:vic (api key k1)"
    assert Caller(user="ann", role=Role.ADMIN, method="token").actor == "api:ann"


def test_credentials_in_stackstorm_order_of_precedence() -> None:
    found = find_credentials(
        {"st2-api-key": "K", "x-auth-token": "T", "authorization": "Bearer B"},
        {"st2-api-key": "QK", "x-auth-token": "QT"},
        {"auth-token": "C"},
    )
    assert [(c.kind, c.secret, c.location) for c in found] == [
        ("token", "T", "header"),
        ("api_key", "K", "header"),
        ("bearer", "B", "header"),
        ("token", "QT", "query"),
        ("api_key", "QK", "query"),
        ("token", "C", "cookie"),
    ]


def test_header_credentials_are_the_first_part_of_the_request_credentials() -> None:
    headers = {"authorization": "Bearer B", "st2-api-key": " K ", "x-auth-token": "T"}
    found = header_credentials(headers)
    assert [(c.kind, c.secret, c.location) for c in found] == [
        ("token", "T", "header"),
        ("api_key", "K", "header"),
        ("bearer", "B", "header"),
    ]
    assert find_credentials(headers, {"st2-api-key": "QK"}, {})[:3] == found
    assert header_credentials({"cookie": "auth-token=C"}) == []


def test_basic_auth_and_blank_values_are_not_credentials() -> None:
    basic = "Basic " + base64.b64encode(b"u:p").decode()
    assert find_credentials({"authorization": basic, "x-auth-token": "  "}, {"st2-api-key": ""}, {}) == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic " + base64.b64encode(b"st2admin:pa:ss").decode(), ("st2admin", "pa:ss")),
        ("basic " + base64.b64encode("zoë:ü".encode()).decode(), ("zoë", "ü")),
        ("Basic " + base64.b64encode(b"nocolon").decode(), None),
        ("Basic !!!", None),
        ("Bearer abc", None),
        ("", None),
    ],
)
def test_basic_credentials(header: str, expected: tuple[str, str] | None) -> None:
    assert basic_credentials(header) == expected


def test_generated_passwords_never_start_like_a_command_line_option() -> None:
    # token_urlsafe starts with '-' once in 64 draws: "st2 auth st2admin -p -x..." then fails to parse.
    passwords = [new_password() for _ in range(2000)]
    assert all(p[0].isalnum() and len(p) == 20 for p in passwords)
    assert len(set(passwords)) == len(passwords)
