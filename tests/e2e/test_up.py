"""``st2lite up`` end to end: embedded Redis, webhook to result, a clean stop, persistence, draining."""

from __future__ import annotations

from pathlib import Path

import pytest

from st2lite.embedded_redis import free_port

from .conftest import FINAL, Procs, Up, alive, command_lines, wait_for, webhook_rule, write_rules

pytestmark = pytest.mark.e2e


def test_up_serves_webhooks_drains_on_stop_leaves_nothing_and_keeps_its_data(
    procs: Procs, site: Path, tmp_path: Path
) -> None:
    write_rules(site, {"hook": webhook_rule("e2e", "core.local", {"cmd": "echo got {{ trigger.body.n }}"})})
    home = tmp_path / "home"
    up = Up.start(procs, home, site)

    assert up.api_url.startswith("http://127.0.0.1:")
    assert "(embedded)" in up.output()
    assert (home / "run" / "redis.url").read_text().strip() == up.redis_url
    # A first start writes the datastore key (0600), so secrets can be stored at once.
    key_file = home / "keys" / "datastore.key"
    assert f"Wrote a new datastore key to {key_file}" in up.output()
    assert key_file.stat().st_mode & 0o777 == 0o600
    secret = up.put("/api/v1/keys/token", json={"name": "token", "value": "s3cret", "secret": True})
    assert secret.status_code == 200, secret.text
    assert up.get("/api/v1/keys/token", params={"decrypt": "true"}).json()["value"] == "s3cret"
    health = up.get("/api/v1/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"

    accepted = up.post("/api/v1/webhooks/e2e", json={"n": 7})
    assert accepted.status_code == 202, accepted.text
    instance = accepted.json()["id"]
    [hooked] = wait_for(lambda: up.executions_of(instance), what="the webhook's execution")
    done = up.wait_status(hooked.id, set(FINAL))
    assert done["status"] == "succeeded"
    assert done["result"]["stdout"] == "got 7"

    # Stop while an action runs: the supervisor must let it finish (succeeded, not abandoned).
    created = up.post("/api/v1/executions", json={"action": "core.pause", "parameters": {"max_pause": 2}})
    assert created.status_code == 201, created.text
    paused = created.json()["id"]
    up.wait_status(paused, {"running"})

    def tree_with_the_action() -> dict[int, str] | None:
        # ``running`` is written just before the worker starts the action's process
        lines = command_lines(up.process.pid)
        return lines if any(c.startswith("sleep 2") for c in lines.values()) else None

    tree = wait_for(tree_with_the_action, what="the action's process (sleep 2) under st2lite up")
    commands = list(tree.values())
    assert sum("redis-server" in c for c in commands) == 1, commands
    assert sum(" -m st2lite.services " in c for c in commands) == 4, commands  # api, rules (+sensors), 2 workers
    assert any(c.rstrip().endswith("-m st2lite.services rules+sensors") for c in commands), commands

    assert up.stop() == 0
    assert {pid: command for pid, command in tree.items() if alive(pid)} == {}
    assert not (home / "run" / "redis.url").exists()
    assert up.output().rstrip().endswith("stopped")

    again = Up.start(procs, home, site)
    assert "datastore key" not in again.output()  # kept, not replaced
    listed = again.get("/api/v1/executions")
    assert listed.status_code == 200
    assert {e["id"]: e["status"] for e in listed.json()} == {hooked.id: "succeeded", paused: "succeeded"}
    assert [entry["status"] for entry in again.execution(paused)["log"]][-2:] == ["running", "succeeded"]
    assert again.stop() == 0


def test_up_stops_promptly_when_told_to_while_starting(procs: Procs, site: Path, tmp_path: Path) -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    up = Up.launch(procs, tmp_path / "home", site, workers=0, ST2LITE_REDIS_URL=unreachable)
    wait_for(lambda: "Started api" in up.output(), what="the supervisor to start its services")
    up.stop(timeout=5)
