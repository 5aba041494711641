"""``st2lite alias list|get|match|execute`` against a real API (the examples pack's aliases)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from conftest import ApiServer

pytestmark = pytest.mark.redis


def ok(result: subprocess.CompletedProcess[str], code: int = 0) -> subprocess.CompletedProcess[str]:
    assert result.returncode == code, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def test_alias_list_and_get(api_server: ApiServer) -> None:
    cli = api_server.cli
    table = ok(cli("alias", "list")).stdout
    assert "examples.greet" in table and "examples.hello" in table
    assert "greet <name> <count> times" in table and "say hello to {{who=world}}" in table
    assert [a["ref"] for a in as_json(ok(cli("alias", "list", "-p", "examples", "--json")))] == [
        "examples.greet",
        "examples.hello",
    ]
    assert as_json(ok(cli("alias", "list", "-p", "core", "--json"))) == []
    shown = ok(cli("alias", "get", "examples.greet")).stdout
    assert "action_ref: examples.greet" in shown
    assert "  greet {{name}}\n" in shown and "    greet {{name}} {{count}} times" in shown
    assert as_json(ok(cli("alias", "get", "greet", "--json")))["ref"] == "examples.greet"
    missing = ok(cli("alias", "get", "examples.nope"), 1)
    assert 'ActionAlias "examples.nope" is not found' in missing.stderr and "(HTTP 404)" in missing.stderr


def test_alias_match_prints_the_alias_the_format_and_the_parameters(api_server: ApiServer) -> None:
    cli = api_server.cli
    shown = ok(cli("alias", "match", "greet 'Ann Lee' 3 times")).stdout
    assert "alias: examples.greet (runs examples.greet)" in shown
    assert "format: greet {{name}} {{count}} times" in shown
    assert "display: greet <name> <count> times" in shown
    assert "Ann Lee" in shown and "count" in shown
    assert as_json(ok(cli("alias", "match", "say hello to", "--json")))["parameters"] == {"who": "world"}
    nothing = ok(cli("alias", "match", "dance"), 2)
    assert "command 'dance' matched no action alias" in nothing.stderr and "(HTTP 400)" in nothing.stderr
    assert api_server.execution_ids() == []


def test_alias_execute_prints_the_ack_and_the_execution(api_server: ApiServer) -> None:
    api = api_server
    shown = ok(api.cli("alias", "execute", "greet Eve", "--user", "eve", "--channel", "#ops", "--route", "chat"))
    lines = shown.stdout.splitlines()
    assert lines[0] == "Greeting Eve for eve"
    assert lines[1] == "alias: examples.greet"
    execution_id = lines[2].removeprefix("execution: ")
    execution = api.execution(execution_id)
    assert execution["context"]["api_user"] == "eve" and execution["context"]["source_channel"] == "#ops"
    assert execution["context"]["notification_route"] == "chat"
    bad = ok(api.cli("alias", "execute", "greet Eve many times"), 2)
    assert "parameter 'count' expects integer, got 'many' (HTTP 400)" in bad.stderr
    assert api.execution_ids() == [execution_id]
    reply = as_json(ok(api.cli("alias", "execute", "say hello to Fay", "--json")))
    assert reply["results"][0]["execution"]["parameters"]["who"] == "Fay"
