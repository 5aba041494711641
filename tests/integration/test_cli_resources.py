"""``st2lite action|runner|rule|rule-enforcement|whoami|pack list`` and the global options, against a real API."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import ApiServer

from st2lite.embedded_redis import free_port
from st2lite.permissions import Role

pytestmark = pytest.mark.redis

RULE = """\
name: cli_made
pack: examples
description: Made by the CLI test.
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: cli-made
action:
  ref: core.noop
"""


def ok(result: subprocess.CompletedProcess[str], code: int = 0) -> subprocess.CompletedProcess[str]:
    assert result.returncode == code, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def rule_refs(api: ApiServer) -> set[str]:
    return {r["ref"] for r in api.http.get("/api/v1/rules").json()}


# -- actions and runners ----------------------------------------------------------------------------


def test_action_list_and_get(api_server: ApiServer) -> None:
    cli = api_server.cli
    listed = as_json(ok(cli("action", "list", "-p", "core", "--json")))
    assert {a["pack"] for a in listed} == {"core"}
    assert "core.local" in {a["ref"] for a in listed}
    table = ok(cli("action", "list")).stdout
    assert "core.local" in table and "default.login" in table and "local-shell-cmd" in table

    shown = ok(cli("action", "get", "core.local")).stdout
    assert "ref: core.local" in shown and "runner_type: local-shell-cmd" in shown and "cmd" in shown
    assert as_json(ok(cli("action", "get", "core.local", "--json")))["parameters"]["cmd"]["required"] is True


def test_action_get_of_an_unknown_ref_exits_1_with_the_api_s_message(api_server: ApiServer) -> None:
    result = ok(api_server.cli("action", "get", "core.lcal"), 1)

    assert result.stderr.strip() == 'error: Action "core.lcal" is not found; did you mean "core.local"? (HTTP 404)'
    assert result.stdout == ""


def test_runner_list_and_get(api_server: ApiServer) -> None:
    cli = api_server.cli
    names = {r["name"] for r in as_json(ok(cli("runner", "list", "--json")))}
    assert {"local-shell-cmd", "noop"} <= names
    assert "local-shell-cmd" in ok(cli("runner", "list")).stdout
    assert "runner_parameters:" in ok(cli("runner", "get", "local-shell-cmd")).stdout
    missing = ok(cli("runner", "get", "nop"), 1)
    assert missing.stderr.strip() == 'error: RunnerType "nop" is not found; did you mean "noop"? (HTTP 404)'


# -- rules ------------------------------------------------------------------------------------------


def test_rule_list_filters_by_pack_and_enabled(api_server: ApiServer) -> None:
    cli = api_server.cli
    default = {r["ref"] for r in as_json(ok(cli("rule", "list", "--pack", "default", "--json")))}
    assert default == {"default.hello", "default.nested", "default.switched_off"}
    disabled = {r["ref"] for r in as_json(ok(cli("rule", "list", "-p", "default", "--disabled", "--json")))}
    assert disabled == {"default.switched_off"}
    enabled = {r["ref"] for r in as_json(ok(cli("rule", "list", "-p", "default", "--enabled", "--json")))}
    assert enabled == {"default.hello", "default.nested"}
    table = ok(cli("rule", "list")).stdout
    assert "default.hello" in table and "core.st2.webhook" in table


def test_rule_get_shows_trigger_criteria_action_and_source(api_server: ApiServer) -> None:
    shown = ok(api_server.cli("rule", "get", "default.hello")).stdout
    assert "ref: default.hello" in shown
    assert '"pattern": "st2"' in shown and '"ref": "core.local"' in shown
    assert "source: rules/hello.yaml" in shown
    missing = ok(api_server.cli("rule", "get", "default.nope"), 1)
    assert missing.stderr.strip() == (
        'error: Rule "default.nope" is not found; list the rules with GET /api/v1/rules (HTTP 404)'
    )


def test_rule_create_enable_disable_delete(api_server: ApiServer, tmp_path: Path) -> None:
    cli = api_server.cli
    path = tmp_path / "rule.yaml"
    path.write_text(RULE)

    created = ok(cli("rule", "create", str(path)))
    assert created.stdout.strip() == "rule examples.cli_made created (enabled)"
    stored = api_server.http.get("/api/v1/rules/examples.cli_made").json()
    assert stored["context"] == {"user": "st2admin"}

    again = ok(cli("rule", "create", str(path)), 2)
    assert again.stderr.strip().startswith('error: Rule "examples.cli_made" already exists;')
    assert again.stderr.strip().endswith("(HTTP 409)")

    assert ok(cli("rule", "disable", "examples.cli_made")).stdout.strip() == "rule examples.cli_made disabled"
    assert api_server.http.get("/api/v1/rules/examples.cli_made").json()["enabled"] is False
    assert as_json(ok(cli("rule", "enable", "examples.cli_made", "--json")))["enabled"] is True

    assert ok(cli("rule", "delete", "examples.cli_made")).stdout.strip() == "rule examples.cli_made deleted"
    assert "examples.cli_made" not in rule_refs(api_server)


@pytest.mark.parametrize("command", ["enable", "disable", "delete"])
def test_changing_an_unknown_rule_exits_1_with_the_api_s_message(api_server: ApiServer, command: str) -> None:
    before = rule_refs(api_server)

    result = ok(api_server.cli("rule", command, "examples.nope"), 1)

    assert result.stderr.strip() == (
        'error: Rule "examples.nope" is not found; list the rules with GET /api/v1/rules (HTTP 404)'
    )
    assert rule_refs(api_server) == before


def test_a_pack_file_s_rule_can_be_disabled_but_not_deleted(api_server: ApiServer) -> None:
    cli = api_server.cli
    ok(cli("rule", "disable", "default.hello"))
    assert api_server.http.get("/api/v1/rules/default.hello").json()["enabled"] is False

    refused = ok(cli("rule", "delete", "default.hello"), 2)

    assert "is defined by the file rules/hello.yaml of pack 'default'" in refused.stderr
    assert "(HTTP 409)" in refused.stderr
    assert "default.hello" in rule_refs(api_server)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            RULE.replace("core.noop", "core.lcal"),
            "error: invalid rule: field 'action.ref': unknown action 'core.lcal'; did you mean 'core.local'? "
            "(HTTP 400)",
        ),
        (
            RULE.replace("enabled:", "enabeld:"),
            "error: invalid rule: field 'enabeld': unknown field; did you mean 'enabled'? (HTTP 400)",
        ),
    ],
    ids=["unknown-action", "misspelt-field"],
)
def test_rule_create_of_an_invalid_rule_exits_2_with_the_api_s_message(
    api_server: ApiServer, tmp_path: Path, text: str, message: str
) -> None:
    before = rule_refs(api_server)
    path = tmp_path / "rule.yaml"
    path.write_text(text)

    result = ok(api_server.cli("rule", "create", str(path)), 2)

    assert result.stderr.strip() == message
    assert rule_refs(api_server) == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [unclosed\n", "line 1"),
        ("- a list\n", "a rule file holds one mapping (name, pack, trigger, action, ...), not list"),
    ],
    ids=["bad-yaml", "not-a-mapping"],
)
def test_rule_create_of_a_file_that_is_no_rule_exits_2_without_calling_the_api(
    api_server: ApiServer, tmp_path: Path, text: str, message: str
) -> None:
    before = rule_refs(api_server)
    path = tmp_path / "rule.yaml"
    path.write_text(text)

    result = ok(api_server.cli("rule", "create", str(path)), 2)

    assert result.stderr.startswith("error: ") and message in result.stderr
    assert str(path) in result.stderr
    assert rule_refs(api_server) == before


def test_a_viewer_may_list_rules_but_not_change_them(api_server: ApiServer, tmp_path: Path) -> None:
    viewer = {"ST2LITE_API_KEY": api_server.api_key("vic", Role.VIEWER)}
    path = tmp_path / "rule.yaml"
    path.write_text(RULE)
    assert ok(api_server.cli("rule", "list", "--json", env=viewer)).stdout

    for args, permission in (
        (("rule", "create", str(path)), "rule_create"),
        (("rule", "disable", "default.hello"), "rule_modify"),
        (("rule", "delete", "default.nested"), "rule_delete"),
    ):
        result = ok(api_server.cli(*args, env=viewer), 1)
        assert f"vic (role viewer) lacks the permission '{permission}'" in result.stderr, args
        assert "(HTTP 403)" in result.stderr
    assert "examples.cli_made" not in rule_refs(api_server)
    assert api_server.http.get("/api/v1/rules/default.hello").json()["enabled"] is True


# -- rule enforcements ------------------------------------------------------------------------------


def test_rule_enforcement_list_shows_what_a_rule_started(api_server: ApiServer) -> None:
    response = api_server.http.post("/api/v1/webhooks/hello", json={"name": "st2"})
    assert response.status_code == 202, response.text
    api_server.process()

    items = as_json(ok(api_server.cli("rule-enforcement", "list", "--rule", "default.hello", "--json")))
    assert [(i["rule"]["ref"], i["status"], i["trigger_instance_id"]) for i in items] == [
        ("default.hello", "succeeded", response.json()["id"])
    ]
    table = ok(api_server.cli("rule-enforcement", "list")).stdout
    assert "default.hello" in table and items[0]["execution_id"] in table
    assert ok(api_server.cli("rule-enforcement", "list", "--rule", "default.nested", "--json")).stdout.strip() == "[]"
    limited = ok(api_server.cli("rule-enforcement", "list", "-n", "0"), 2)
    assert "(HTTP 400)" in limited.stderr


# -- packs, whoami, global options ------------------------------------------------------------------


def test_pack_list_comes_from_the_api(api_server: ApiServer) -> None:
    rows = {row["ref"]: row for row in as_json(ok(api_server.cli("pack", "list", "--json")))}
    assert set(rows) == {"core", "default", "examples"}
    assert rows["default"]["rules"] == 3 and rows["default"]["actions"] == 2
    assert "core" in ok(api_server.cli("pack", "list")).stdout
    refused = ok(api_server.cli("pack", "list", env={"ST2LITE_API_KEY": "wrong"}), 1)
    assert "invalid or expired credentials" in refused.stderr and "(HTTP 401)" in refused.stderr


def test_whoami_names_the_caller_and_role(api_server: ApiServer) -> None:
    shown = ok(api_server.cli("whoami")).stdout
    assert "user: st2admin" in shown and "authenticated with: API key" in shown and "roles: admin" in shown
    viewer = as_json(
        ok(api_server.cli("whoami", "--json", env={"ST2LITE_API_KEY": api_server.api_key("vic", Role.VIEWER)}))
    )
    assert (viewer["username"], viewer["rbac"]["roles"]) == ("vic", ["viewer"])


def test_global_url_and_credentials_override_the_environment(api_server: ApiServer) -> None:
    elsewhere = {"ST2LITE_API_URL": f"http://127.0.0.1:{free_port()}", "ST2LITE_API_KEY": "wrong"}
    vic = api_server.api_key("vic", Role.VIEWER)

    shown = as_json(ok(api_server.cli("--url", api_server.url, "--api-key", vic, "whoami", "--json", env=elsewhere)))
    assert shown["username"] == "vic"

    token = api_server.http.post("/api/v1/apikeys", json={"user": "olga", "role": "operator"}).json()["key"]
    with_token = {"ST2LITE_AUTH_TOKEN": "not-a-token"}
    # --api-key beats a token from the environment; --token beats everything.
    assert as_json(ok(api_server.cli("--api-key", token, "whoami", "--json", env=with_token)))["username"] == "olga"
    refused = ok(api_server.cli("--token", "bad", "--api-key", vic, "whoami"), 1)
    assert "(HTTP 401)" in refused.stderr

    unreachable = ok(api_server.cli("--url", elsewhere["ST2LITE_API_URL"], "action", "list"), 1)
    assert f"cannot reach the st2lite API at {elsewhere['ST2LITE_API_URL']}" in unreachable.stderr
