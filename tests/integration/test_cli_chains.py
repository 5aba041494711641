"""Chains through the ``st2lite`` command, against a real API, ``st2lite rules`` and ``st2lite worker``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import CHAINS_PACK, ApiServer, fault, wait_for

from st2lite.registration import register_from_disk

pytestmark = [pytest.mark.redis, pytest.mark.e2e]


@pytest.fixture(scope="module")
def chains_api(live_api: ApiServer) -> ApiServer:
    report, _version = register_from_disk(live_api.settings, live_api.redis, [CHAINS_PACK], actor="test")
    assert report.ok, [str(p) for p in report.problems]
    return live_api


def run_json(result: subprocess.CompletedProcess[str], code: int) -> Any:
    assert result.returncode == code, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return json.loads(result.stdout)


def test_re_run_from_failed_runs_the_failed_task_and_what_follows(chains_api: ApiServer, tmp_path: Path) -> None:
    log = tmp_path / "steps.log"
    failed = run_json(chains_api.cli("run", "chains.provision", "fail_at=attach_lb", f"log={log}", "--json"), 1)
    assert failed["status"] == "failed"
    log.write_text("")

    again = run_json(chains_api.cli("execution", "re-run", failed["id"], "fail_at=none", "--from-failed", "--json"), 0)

    assert again["status"] == "succeeded"
    assert again["context"]["re-run"] == {"ref": failed["id"], "tasks": ["attach_lb"], "reset": []}
    assert [t["name"] for t in again["result"]["tasks"]] == ["create_vm", "register_dns", "attach_lb"]
    assert log.read_text().split() == ["attach_lb"]


def test_re_run_from_failed_of_a_chain_that_succeeded_exits_2(chains_api: ApiServer, tmp_path: Path) -> None:
    done = run_json(chains_api.cli("run", "chains.provision", f"log={tmp_path / 'log'}", "--json"), 0)

    result = chains_api.cli("execution", "re-run", done["id"], "--from-failed")

    assert result.returncode == 2
    assert f"execution {done['id']} has no task that did not succeed" in result.stderr


def test_cancel_pause_and_resume_commands(chains_api: ApiServer, tmp_path: Path) -> None:
    params = [f"pidfile={tmp_path / 'pid'}", f"log={tmp_path / 'log'}"]
    chain = run_json(chains_api.cli("run", "chains.long", *params, "--async", "--json"), 0)
    wait_for(lambda: (tmp_path / "pid").is_file(), "the first task to run")

    paused = chains_api.cli("execution", "pause", chain["id"])
    canceled = chains_api.cli("execution", "cancel", chain["id"], "6650f0c2a1b2c3d4e5f60a01")

    assert paused.returncode == 0, paused.stderr
    assert paused.stdout.strip() == f"execution {chain['id']}: pausing"
    assert canceled.returncode == 1  # the unknown id
    assert f"execution {chain['id']}: canceling" in canceled.stdout
    assert "execution '6650f0c2a1b2c3d4e5f60a01' not found" in canceled.stderr
    final = wait_for(lambda: chains_api.execution(chain["id"])["status"] == "canceled", "the chain to be canceled")
    assert final
    done = chains_api.cli("execution", "cancel", chain["id"])
    assert done.stdout.strip() == f"execution {chain['id']}: canceled"


def test_children_lists_a_nested_chain_depth_first(chains_api: ApiServer) -> None:
    """What ``st2 execution get`` reads to show a chain's tasks: ``/children/?depth=-1`` (trailing slash and all)."""
    created = chains_api.http.post("/api/v1/executions", json={"action": "chains.outer", "parameters": {}})
    outer = chains_api.wait_final(created.json()["id"])
    assert outer["status"] == "succeeded", outer

    every = chains_api.http.get(f"/api/v1/executions/{outer['id']}/children/", params={"depth": -1})
    direct = chains_api.http.get(f"/api/v1/executions/{outer['id']}/children", params={"depth": 1})

    assert every.status_code == 200, every.text
    tasks = [(t["action"]["ref"], t["context"]["chain"]["name"], t["status"]) for t in every.json()]
    assert tasks == [
        ("chains.greet", "inner", "succeeded"),
        ("core.local", "first", "succeeded"),
        ("core.local", "second", "succeeded"),
        ("core.local", "last", "succeeded"),
    ]
    inner = every.json()[0]
    assert [t["parent"] for t in every.json()] == [outer["id"], inner["id"], inner["id"], outer["id"]]
    assert [t["id"] for t in direct.json()] == [inner["id"], every.json()[3]["id"]]


def test_children_of_an_unknown_execution_is_404(chains_api: ApiServer) -> None:
    response = chains_api.http.get("/api/v1/executions/6650f0c2a1b2c3d4e5f60a01/children")

    assert fault(response, 404) == (
        "execution '6650f0c2a1b2c3d4e5f60a01' not found; "
        "it may have expired (see 'execution_ttl' in docs/configuration.md)"
    )


@pytest.mark.parametrize("depth", [0, -2])
def test_children_depth_must_be_minus_one_or_positive(chains_api: ApiServer, depth: int) -> None:
    created = chains_api.http.post("/api/v1/executions", json={"action": "core.noop", "parameters": {}})

    response = chains_api.http.get(f"/api/v1/executions/{created.json()['id']}/children", params={"depth": depth})

    assert fault(response, 400) == f"depth must be -1 (every level) or a number of levels from 1, not {depth}"


def test_children_carry_what_a_timeline_needs(chains_api: ApiServer, tmp_path: Path) -> None:
    """The dashboard draws a bar per task: its task name, with-items index, status, start and end."""
    rows = [{"name": "a"}, {"name": "b"}, {"name": "c"}]
    created = chains_api.http.post(
        "/api/v1/executions", json={"action": "chains.rows", "parameters": {"rows": rows, "log": str(tmp_path / "log")}}
    )
    chain = chains_api.wait_final(created.json()["id"])
    assert chain["status"] == "succeeded", chain

    tasks = chains_api.http.get(f"/api/v1/executions/{chain['id']}/children").json()

    assert sorted((t["context"]["chain"]["name"], t["context"]["chain"].get("item")) for t in tasks) == [
        ("each", 0),
        ("each", 1),
        ("each", 2),
        ("summary", None),
    ]
    for task in tasks:
        assert task["status"] == "succeeded"
        assert task["start_timestamp"] <= task["end_timestamp"]
        assert task["parent"] == chain["id"]
