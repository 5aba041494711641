"""Actions, runner types, packs, rule enforcements, ``GET /api/v1`` and the OpenAPI document, against a real API."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from conftest import ApiServer, fault

from st2lite.version import __version__

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


# -- actions -----------------------------------------------------------------------------------------


def test_action_list_as_st2_action_list_asks_for_it(api_server: ApiServer) -> None:
    response = api_server.http.get("/api/v1/actions", params={"include_attributes": "ref,pack,description"})

    items = ok(response)
    assert {"id", "ref", "pack", "description"} == set().union(*items)
    refs = [a["ref"] for a in items]
    assert refs == sorted(refs) and "core.local" in refs and "examples.greet" in refs
    assert int(response.headers["X-Total-Count"]) == len(items)  # no limit: every action
    core = ok(api_server.http.get("/api/v1/actions", params={"pack": "core"}))
    assert core and {a["pack"] for a in core} == {"core"}
    assert [a["ref"] for a in ok(api_server.http.get("/api/v1/actions/", params={"limit": 1, "offset": 1}))] == [
        refs[1]
    ]


def test_action_get_in_stackstorm_shape_every_parameter_with_a_type(api_server: ApiServer) -> None:
    local = ok(api_server.http.get("/api/v1/actions/core.local"))
    hello = ok(api_server.http.get("/api/v1/actions/examples.hello"))

    assert {k: local[k] for k in ("id", "uid", "ref", "pack", "name", "runner_type", "enabled")} == {
        "id": "core.local",
        "uid": "action:core:local",
        "ref": "core.local",
        "pack": "core",
        "name": "local",
        "runner_type": "local-shell-cmd",
        "enabled": True,
    }
    assert local["parameters"]["cmd"]["type"] == "string"
    # hello's cmd redefines the runner's without a type: the runner's type is reported
    assert hello["parameters"]["cmd"] == {"type": "string", "default": "echo hello {{ who }}", "immutable": True}
    assert all("type" in spec for a in ok(api_server.http.get("/api/v1/actions")) for spec in a["parameters"].values())


def test_unknown_action_is_404(api_server: ApiServer) -> None:
    assert fault(api_server.http.get("/api/v1/actions/core.lcal"), 404) == (
        'Action "core.lcal" is not found; did you mean "core.local"?'
    )
    assert fault(api_server.http.get("/api/v1/actions/zzz.qqq"), 404) == 'Action "zzz.qqq" is not found.'


# -- runner types --------------------------------------------------------------------------------------


def test_runner_lookup_by_name_returns_exactly_that_runner(api_server: ApiServer) -> None:
    found = ok(api_server.http.get("/api/v1/runnertypes/", params={"name": "local-shell-cmd"}))

    [runner] = found
    assert (runner["id"], runner["uid"], runner["name"]) == (
        "local-shell-cmd",
        "runner_type:local-shell-cmd",
        "local-shell-cmd",
    )
    assert runner["runner_parameters"]["timeout"]["type"] in ("integer", "number")
    assert all("type" in spec for spec in runner["runner_parameters"].values())
    assert ok(api_server.http.get("/api/v1/runnertypes", params={"name": "nope"})) == []
    every = ok(api_server.http.get("/api/v1/runnertypes"))
    assert {"local-shell-cmd", "noop", "action-chain", "python-script"} <= {r["name"] for r in every}
    assert all(isinstance(r["runner_parameters"], dict) for r in every)
    assert ok(api_server.http.get("/api/v1/runnertypes/noop"))["name"] == "noop"
    assert (
        fault(api_server.http.get("/api/v1/runnertypes/nop"), 404)
        == 'RunnerType "nop" is not found; did you mean "noop"?'
    )


# -- packs and the root ----------------------------------------------------------------------------------


def test_packs(api_server: ApiServer) -> None:
    listed = ok(
        api_server.http.get("/api/v1/packs", params={"include_attributes": "ref,name,description,version,author"})
    )

    assert [p["ref"] for p in listed] == ["core", "default", "examples"]
    examples = ok(api_server.http.get("/api/v1/packs/examples"))
    assert {k: examples[k] for k in ("id", "uid", "ref", "name", "version", "author", "email", "keywords")} == {
        "id": "examples",
        "uid": "pack:examples",
        "ref": "examples",
        "name": "examples",
        "version": "0.1.0",
        "author": "st2lite",
        "email": "dev@example.com",
        "keywords": ["examples", "tests"],
    }
    assert "config" not in examples and "config_file" not in examples  # a pack's config may hold secrets
    assert (
        fault(api_server.http.get("/api/v1/packs/exampels"), 404)
        == 'Pack "exampels" is not found; did you mean "examples"?'
    )


def test_api_root(api_server: ApiServer) -> None:
    assert ok(api_server.http.get("/api/v1/")) == {"version": __version__, "docs_url": "/docs"}
    assert ok(api_server.http.get("/api/v1")) == {"version": __version__, "docs_url": "/docs"}


# -- include_attributes and limits on every list ----------------------------------------------------------

LISTS = [
    "/api/v1/actions",
    "/api/v1/runnertypes",
    "/api/v1/rules",
    "/api/v1/ruleenforcements",
    "/api/v1/packs",
    "/api/v1/executions",
    "/api/v1/triggertypes",
    "/api/v1/triggerinstances",
    "/api/v1/sensortypes",
    "/api/v1/inquiries",
]


@pytest.mark.parametrize("path", LISTS)
def test_every_list_answers_limit_zero_with_400_and_counts(api_server: ApiServer, path: str) -> None:
    assert (
        fault(api_server.http.get(path, params={"limit": 0}), 400) == "limit must be a positive number, or -1 for all"
    )
    assert (
        fault(api_server.http.get(path, params={"limit": -2}), 400) == "limit must be a positive number, or -1 for all"
    )
    assert fault(api_server.http.get(path, params={"offset": 10**22}), 400).startswith(
        "invalid request: query.offset: Input should be less than or equal to 1000000000"
    )
    response = api_server.http.get(f"{path}/", params={"limit": -1, "include_attributes": "id"})
    items = ok(response)
    assert all(set(item) == {"id"} for item in items)
    assert int(response.headers["X-Total-Count"]) >= len(items)


def test_webhooks_ignore_include_attributes(api_server: ApiServer) -> None:
    hooks = ok(api_server.http.get("/api/v1/webhooks", params={"include_attributes": "url,type,description"}))

    assert hooks and all(h["parameters"]["url"] for h in hooks)


def test_exclude_attributes_on_get(api_server: ApiServer) -> None:
    created = api_server.http.post("/api/v1/executions", json={"action": "core.noop"}).json()

    got = ok(api_server.http.get(f"/api/v1/executions/{created['id']}", params={"exclude_attributes": "result,runner"}))

    assert "runner" not in got and got["id"] == created["id"] and got["action"]["ref"] == "core.noop"


# -- rule enforcements -----------------------------------------------------------------------------------


def test_rule_enforcements_list_filters_and_get(api_server: ApiServer) -> None:
    first = api_server.http.post("/api/v1/webhooks/hello", json={"name": "st2"})
    second = api_server.http.post("/api/v1/webhooks/hello", json={"name": "st2"})
    assert first.status_code == second.status_code == 202
    api_server.process()

    response = api_server.http.get("/api/v1/ruleenforcements/", params={"limit": 50})

    items = ok(response)
    assert response.headers["X-Total-Count"] == "2"
    newest = items[0]
    assert newest["id"] == f"{second.json()['id']}:default.hello"
    assert newest["rule"] == {"ref": "default.hello", "id": "default.hello", "uid": "rule:default:hello"}
    assert newest["trigger_instance_id"] == second.json()["id"]
    assert isinstance(newest["execution_id"], str) and newest["status"] == "succeeded"
    assert newest["failure_reason"] == "" and ISO_Z.match(newest["enforced_at"])
    assert ok(api_server.http.get(f"/api/v1/ruleenforcements/{newest['id']}")) == newest

    def ids(**params: Any) -> list[str]:
        return [e["id"] for e in ok(api_server.http.get("/api/v1/ruleenforcements", params=params))]

    assert ids(rule_ref="default.hello") == [e["id"] for e in items]
    assert ids(rule_ref="examples.webhook_st2") == []
    assert ids(execution=newest["execution_id"]) == [newest["id"]]
    assert ids(execution="6650f0c2a1b2c3d4e5f60a01") == []
    assert ids(trigger_instance=first.json()["id"]) == [items[1]["id"]]
    assert ids(enforced_at_gt=items[1]["enforced_at"]) == [newest["id"]]
    assert ids(enforced_at_lt=newest["enforced_at"]) == [items[1]["id"]]
    assert ids(limit=1, offset=1) == [items[1]["id"]]
    # `st2 execution list --trigger_instance ID`
    started = ok(api_server.http.get("/api/v1/executions/", params={"trigger_instance": second.json()["id"]}))
    assert [e["id"] for e in started] == [newest["execution_id"]]
    assert ok(api_server.http.get("/api/v1/executions", params={"trigger_instance": "6650f0c2a1b2c3d4e5f60a01"})) == []
    assert (
        ok(
            api_server.http.get(
                "/api/v1/executions", params={"trigger_instance": second.json()["id"], "status": "failed"}
            )
        )
        == []
    )
    assert fault(api_server.http.get("/api/v1/ruleenforcements", params={"enforced_at_gt": "yesterday"}), 400) == (
        "enforced_at_gt must be an ISO 8601 time such as 2026-01-01T00:00:00Z, got 'yesterday'"
    )
    assert fault(api_server.http.get("/api/v1/ruleenforcements/nope"), 404).startswith(
        'RuleEnforcement "nope" is not found'
    )
    assert fault(api_server.http.get(f"/api/v1/ruleenforcements/{first.json()['id']}:default.nope"), 404)


# -- OpenAPI ------------------------------------------------------------------------------------------------


def test_every_route_is_in_the_openapi_document_with_a_summary(api_server: ApiServer) -> None:
    document = ok(api_server.http.get("/openapi.json"))
    paths = document["paths"]
    routes = {(method, path) for path in paths if path.startswith("/api/v1") for method in paths[path]}

    expected = {
        ("get", "/api/v1"),
        ("get", "/api/v1/actions"),
        ("get", "/api/v1/actions/{ref_or_id}"),
        ("get", "/api/v1/runnertypes"),
        ("get", "/api/v1/runnertypes/{name}"),
        ("get", "/api/v1/rules"),
        ("post", "/api/v1/rules"),
        ("get", "/api/v1/rules/{ref_or_id}"),
        ("put", "/api/v1/rules/{ref_or_id}"),
        ("delete", "/api/v1/rules/{ref_or_id}"),
        ("get", "/api/v1/ruleenforcements"),
        ("get", "/api/v1/ruleenforcements/{enforcement_id}"),
        ("get", "/api/v1/packs"),
        ("get", "/api/v1/packs/{ref_or_id}"),
        ("get", "/api/v1/executions"),
        ("post", "/api/v1/executions"),
        ("get", "/api/v1/keys"),
        ("get", "/api/v1/webhooks"),
        ("post", "/api/v1/webhooks/{url}"),
    }
    assert expected <= routes
    for method, path in routes:
        operation = paths[path][method]
        assert operation.get("summary"), (method, path)
    rules = paths["/api/v1/rules"]
    assert {p["name"] for p in rules["get"]["parameters"]} >= {
        "pack",
        "action",
        "trigger",
        "enabled",
        "limit",
        "offset",
        "include_attributes",
        "exclude_attributes",
    }
    assert "requestBody" in rules["post"] and "409" in rules["post"]["responses"]
    assert api_server.http.get("/docs").status_code == 200
