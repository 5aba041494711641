"""``st2lite trigger list`` and ``st2lite trigger-instance list|get|re-emit`` as subprocesses against a real API."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from conftest import ApiServer

pytestmark = [pytest.mark.redis, pytest.mark.e2e]


def ok(result: subprocess.CompletedProcess[str], code: int = 0) -> subprocess.CompletedProcess[str]:
    assert result.returncode == code, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(result).stdout)


def test_trigger_list(api_server: ApiServer) -> None:
    text = ok(api_server.cli("trigger", "list")).stdout
    assert "core.st2.webhook" in text and "examples.alert" in text

    refs = {t["ref"] for t in as_json(api_server.cli("trigger", "list", "--pack", "examples", "--json"))}
    assert "examples.alert" in refs and "core.st2.webhook" not in refs


def test_trigger_instance_list_get_and_re_emit(api_server: ApiServer) -> None:
    sent = [
        api_server.http.post("/api/v1/webhooks/hello", json={"name": "st2"}).json()["id"],
        api_server.http.post("/api/v1/webhooks/team/alerts/critical", json={}).json()["id"],
    ]
    api_server.process()

    table = ok(api_server.cli("trigger-instance", "list")).stdout
    assert all(i in table for i in sent) and "default.hello" in table
    newest = as_json(api_server.cli("trigger-instance", "list", "-n", "1", "--json"))
    assert [i["id"] for i in newest] == [sent[1]]
    more = ok(api_server.cli("trigger-instance", "list", "-n", "1"))
    assert "only the newest 1 of 2 trigger instances" in more.stderr
    only = as_json(api_server.cli("trigger-instance", "list", "--trigger", "core.st2.webhook", "--json"))
    assert len(only) == 2

    got = ok(api_server.cli("trigger-instance", "get", sent[0])).stdout
    assert "status: processed" in got and '"name": "st2"' in got and "rule default.hello: succeeded" in got
    assert as_json(api_server.cli("trigger-instance", "get", sent[0], "--json"))["id"] == sent[0]

    emitted = ok(api_server.cli("trigger-instance", "re-emit", sent[0])).stdout
    assert f"(re-emits {sent[0]})" in emitted
    api_server.process()
    newest = as_json(api_server.cli("trigger-instance", "list", "-n", "1", "--json"))[0]
    assert newest["source"] == f"re-emit:{sent[0]}" and newest["status"] == "processed"


def test_trigger_instance_errors_say_what_to_do(api_server: ApiServer) -> None:
    missing = ok(api_server.cli("trigger-instance", "get", "nope"), 1)
    assert "trigger instance 'nope' not found" in missing.stderr and "(HTTP 404)" in missing.stderr
    assert "(HTTP 404)" in ok(api_server.cli("trigger-instance", "re-emit", "nope"), 1).stderr
    bad = ok(api_server.cli("trigger-instance", "list", "--status", "done"), 2)
    assert "status must be one of" in bad.stderr
