"""A callback task with real processes: ``st2lite api``, ``rules`` and ``worker``; the outside system is this test.

The worker runs the task's notify_cmd, which writes the callback URL and
token to a file (as a real one would post them to a queue); the test posts a
heartbeat and then the outcome with httpx, and the task ends with it.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from st2lite.config import Settings
from st2lite.embedded_redis import free_port
from st2lite.redisdb import connect

from .conftest import FINAL, Procs, admin_key, register, wait_for

pytestmark = pytest.mark.e2e

WAITS_PACK = Path(__file__).resolve().parents[1] / "fixtures" / "runnable" / "waits"


def test_an_outside_system_calls_back_with_the_token_and_the_task_ends_with_its_result(
    procs: Procs, redis_url: str, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    port = free_port()
    client = connect(redis_url)
    register(Settings(home=tmp_path / "home", redis_url=redis_url, packs_path=str(WAITS_PACK), site_dir=site), client)
    key = admin_key(client)
    client.close()
    for service in ("api", "rules", "worker"):
        procs.service(service, redis_url=redis_url, ST2LITE_API_PORT=str(port), ST2LITE_SITE_DIR=site)
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10.0, headers={"St2-Api-Key": key})

    def up() -> bool:
        try:
            return api.get("/api/v1/health").status_code == 200
        except httpx.TransportError:
            return False

    wait_for(up, what="the API to answer")
    told = tmp_path / "told.txt"
    created = api.post(
        "/api/v1/executions", json={"action": "waits.external_job", "parameters": {"token_file": str(told)}}
    )
    assert created.status_code == 201, created.text
    execution_id = created.json()["id"]

    def waiting() -> dict[str, object] | None:
        execution: dict[str, object] = api.get(f"/api/v1/executions/{execution_id}").json()
        assert execution["status"] not in FINAL, execution
        return execution if execution["status"] == "pending" and told.is_file() and told.read_text() else None

    pending = wait_for(waiting, what="the task to wait and its notify_cmd to tell us")
    url, token = told.read_text().split()
    assert url == f"http://127.0.0.1:{port}/api/v1/callbacks/{execution_id}"
    assert pending["result"] == {"callback_url": url, "timeout": 600, "heartbeat": 0}

    assert httpx.post(f"{url}/heartbeat", json={"token": token}).status_code == 200
    assert httpx.post(url, json={"token": "guess", "status": "succeeded"}).status_code == 403
    reply = httpx.post(url, json={"token": token, "status": "succeeded", "result": {"artifact": "app-1.2.tgz"}})
    assert reply.status_code == 200, reply.text

    finished = api.get(f"/api/v1/executions/{execution_id}").json()
    assert finished["status"] == "succeeded"
    assert finished["result"] == {"artifact": "app-1.2.tgz"}
    assert [entry["status"] for entry in finished["log"]] == [
        "requested",
        "scheduled",
        "running",
        "pending",
        "succeeded",
    ]
    api.close()
