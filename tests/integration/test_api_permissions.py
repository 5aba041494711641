"""Every route checks the caller's permission, and acts for the caller (admins may name another user).

Callers are real API keys of the user and role a test names (``as_``), checked by the auth middleware.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import ApiServer, fault, running_api

from st2lite.audit import AuditKind, AuditLog
from st2lite.permissions import Role
from st2lite.redisdb import connect

pytestmark = [pytest.mark.redis, pytest.mark.e2e]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, redis_server: str) -> Iterator[ApiServer]:
    """An API whose HTTP client turns ``x-test-user``/``x-test-role`` into a real API key of that user and role."""
    client = connect(redis_server)
    client.flushdb()
    made: dict[tuple[str, str], str] = {}
    try:
        with running_api(tmp_path_factory.mktemp("perm"), redis_server) as served:

            def credentials(request: httpx.Request) -> None:
                user = request.headers.pop("x-test-user", None)
                if user is None:
                    return
                role = request.headers.pop("x-test-role", "viewer")
                if (user, role) not in made:
                    made[user, role] = served.api_key(user, Role(role))
                request.headers["St2-Api-Key"] = made[user, role]

            served.http.event_hooks["request"].append(credentials)
            yield served
    finally:
        client.flushdb()
        client.close()


def as_(user: str, role: str) -> dict[str, str]:
    return {"x-test-user": user, "x-test-role": role}


VIEWER = as_("vera", "viewer")
OPERATOR = as_("olivia", "operator")
ADMIN = as_("root", "admin")

RULE: dict[str, Any] = {
    "name": "perm_rule",
    "pack": "default",
    "trigger": {"type": "core.st2.webhook", "parameters": {"url": "perm"}},
    "action": {"ref": "core.noop"},
}


def events(api: ApiServer, kind: AuditKind) -> list[dict[str, Any]]:
    return [e.model_dump(exclude_none=True) for e in AuditLog(api.redis, maxlen=1000).read() if e.kind == kind]


@pytest.mark.parametrize(
    ("method", "path", "permission"),
    [
        ("post", "/api/v1/rules", "rule_create"),
        ("put", "/api/v1/rules/default.hello", "rule_modify"),
        ("delete", "/api/v1/rules/default.hello", "rule_delete"),
        ("post", "/api/v1/executions", "action_execute"),
        ("post", "/api/v1/executions/6650f0c2a1b2c3d4e5f60a01/re_run", "execution_rerun"),
        ("delete", "/api/v1/executions/6650f0c2a1b2c3d4e5f60a01", "execution_stop"),
        ("put", "/api/v1/executions/6650f0c2a1b2c3d4e5f60a01", "execution_stop"),
        ("put", "/api/v1/inquiries/6650f0c2a1b2c3d4e5f60a01", "inquiry_respond"),
        ("post", "/api/v1/triggerinstances/6650f0c2a1b2c3d4e5f60a01/re_emit", "trigger_instance_re_emit"),
    ],
)
def test_a_viewer_may_not_change_anything(api: ApiServer, method: str, path: str, permission: str) -> None:
    body = {"action": "core.noop", "status": "pausing", "response": {}, **RULE}
    response = api.http.request(method, path, headers=VIEWER, json=body if method in ("post", "put") else None)

    assert fault(response, 403) == (
        f"vera (role viewer) lacks the permission '{permission}'; ask an admin for a role that grants it (docs/auth.md)"
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/actions",
        "/api/v1/actions/core.local",
        "/api/v1/runnertypes",
        "/api/v1/rules",
        "/api/v1/rules/default.hello",
        "/api/v1/ruleenforcements",
        "/api/v1/packs",
        "/api/v1/executions",
        "/api/v1/triggertypes",
        "/api/v1/triggerinstances",
        "/api/v1/sensortypes",
        "/api/v1/sensors",
        "/api/v1/timers",
        "/api/v1/webhooks",
        "/api/v1/inquiries",
    ],
)
def test_a_viewer_may_read(api: ApiServer, path: str) -> None:
    assert api.http.get(path, headers=VIEWER).status_code == 200


def test_an_operator_runs_as_itself_and_may_not_impersonate(api: ApiServer) -> None:
    mine = api.http.post("/api/v1/executions", headers=OPERATOR, json={"action": "core.noop", "user": None})
    same = api.http.post("/api/v1/executions", headers=OPERATOR, json={"action": "core.noop", "user": "olivia"})
    other = api.http.post("/api/v1/executions", headers=OPERATOR, json={"action": "core.noop", "user": "alice"})

    assert mine.status_code == 201 and mine.json()["context"]["user"] == "olivia"
    assert same.status_code == 201 and same.json()["context"]["user"] == "olivia"
    assert fault(other, 403) == (
        "olivia (role operator) lacks the permission 'user_impersonate' to run actions as 'alice'; "
        "ask an admin for a role that grants it (docs/auth.md)"
    )
    created = {e["execution"]: e for e in events(api, AuditKind.EXECUTION_CREATED)}
    assert created[mine.json()["id"]]["actor"].startswith("api:olivia (api key ")
    rerun_as = api.http.post(
        f"/api/v1/executions/{mine.json()['id']}/re_run", headers=OPERATOR, json={"parameters": {}, "user": "alice"}
    )
    cancel_as = api.http.delete(f"/api/v1/executions/{mine.json()['id']}", headers=OPERATOR, params={"user": "bob"})
    assert "lacks the permission 'user_impersonate' to re-run executions as 'alice'" in fault(rerun_as, 403)
    assert "lacks the permission 'user_impersonate' to cancel executions as 'bob'" in fault(cancel_as, 403)
    rerun = api.http.post(f"/api/v1/executions/{mine.json()['id']}/re_run", headers=OPERATOR, json={})
    assert rerun.status_code == 201 and rerun.json()["context"]["user"] == "olivia"
    canceled = api.http.delete(f"/api/v1/executions/{rerun.json()['id']}", headers=OPERATOR)
    assert canceled.status_code == 200 and canceled.json()["result"]["user"] == "olivia"


def test_an_admin_may_run_as_another_user(api: ApiServer) -> None:
    response = api.http.post("/api/v1/executions", headers=ADMIN, json={"action": "core.noop", "user": "alice"})

    assert response.status_code == 201, response.text
    assert response.json()["context"]["user"] == "alice"
    created = {e["execution"]: e for e in events(api, AuditKind.EXECUTION_CREATED)}
    assert created[response.json()["id"]]["actor"].startswith("api:root (api key ")  # who asked, not whom for


def test_rule_changes_are_audited_with_the_caller(api: ApiServer) -> None:
    created = api.http.post("/api/v1/rules", headers=ADMIN, json=RULE)
    assert created.status_code == 201, created.text
    assert created.json()["context"] == {"user": "root"}
    assert api.http.put("/api/v1/rules/default.perm_rule", headers=OPERATOR, json=created.json()).status_code == 403
    assert api.http.delete("/api/v1/rules/default.perm_rule", headers=ADMIN).status_code == 204

    kinds = [(e.kind.value, e.actor) for e in AuditLog(api.redis, maxlen=1000).read() if e.rule == "default.perm_rule"]
    assert [(kind, actor.split(" (")[0]) for kind, actor in kinds] == [
        ("rule.created", "api:root"),
        ("rule.deleted", "api:root"),
    ]
