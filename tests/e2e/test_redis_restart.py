"""Redis dies under a running ``st2lite up``: nothing accepted is lost.

What happens (observed): the supervisor restarts its embedded redis-server on
the same port, which reloads the append-only file. Until then the API stays up
(health answers 503). The rules process crashes and the supervisor
restarts it; the new one waits up to 30 s for Redis, then exits, and is
restarted with a growing pause. A worker rides the outage out while idle (RQ
retries its connection), exits when caught finishing a job, and one started
during the outage exits at once (restarted with the growing pause too). A
SIGTERM still stops everything, and a new ``st2lite up`` on the same home
finds every accepted trigger instance and queued execution in the
append-only file and finishes the work.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path

import httpx
import pytest

from st2lite.api.app import create_app
from st2lite.config import Settings
from st2lite.embedded_redis import EmbeddedRedis, free_port
from st2lite.redisdb import UNAVAILABLE, connect

from .conftest import (
    FINAL,
    Procs,
    Up,
    admin_key,
    alive,
    command_lines,
    descendants,
    register,
    wait_for,
    webhook_rule,
    write_rules,
)

pytestmark = pytest.mark.e2e

ACCEPTED = 50


def _services(up: Up) -> dict[int, str]:
    return command_lines(up.process.pid)


def _pids_of(services: dict[int, str], needle: str) -> set[int]:
    return {pid for pid, command in services.items() if needle in command}


def test_redis_killed_under_up_loses_no_accepted_webhook(procs: Procs, site: Path, tmp_path: Path) -> None:
    # One worker and a 0.1 s action: most of the work is still queued when Redis dies.
    write_rules(site, {"hook": webhook_rule("e2e", "core.local", {"cmd": "sleep 0.1"})})
    home = tmp_path / "home"
    port = free_port()
    up = Up.start(procs, home, site, workers=1, ST2LITE_EMBEDDED_REDIS_PORT=str(port))
    assert up.redis_url == f"redis://127.0.0.1:{port}/0"

    instances = []
    for i in range(ACCEPTED):
        accepted = up.post("/api/v1/webhooks/e2e", json={"i": i})
        assert accepted.status_code == 202, accepted.text
        instances.append(accepted.json()["id"])

    before = _services(up)
    [redis_pid] = _pids_of(before, f"redis-server 127.0.0.1:{port}")
    [rules_pid] = _pids_of(before, "-m st2lite.services rules")
    [api_pid] = _pids_of(before, "-m st2lite.services api")
    finished = sum(e.status in FINAL for e in up.executions())
    os.kill(redis_pid, signal.SIGKILL)
    assert ACCEPTED - finished >= 10, "most of the work should still be waiting when Redis dies"

    def unavailable() -> httpx.Response | None:
        response = up.get("/api/v1/health")
        return response if response.status_code == 503 else None

    health = wait_for(unavailable, what="health to answer 503")
    assert "cannot reach Redis" in health.json()["redis"]
    wait_for(
        lambda: _pids_of(_services(up), f"redis-server 127.0.0.1:{port}") - {redis_pid},
        what="the supervisor to start Redis again",
    )
    # The rules process rides the outage out when its calls fall between retries; one caught by it exits
    # (code 1) and is restarted. Either way a rules process runs again.
    wait_for(
        lambda: alive(rules_pid) or _pids_of(_services(up), "-m st2lite.services rules") - {rules_pid},
        what="a rules process to run again",
    )
    if not alive(rules_pid):
        assert "rules exited with code 1; restarting" in up.output()
    assert up.process.poll() is None
    assert alive(api_pid), "the API rides the outage out"
    # The worker rides it out too when idle (RQ retries); one caught finishing a job exits and is restarted.
    wait_for(lambda: _pids_of(_services(up), "-m st2lite.services worker"), what="a worker process")

    tree = descendants(up.process.pid)
    assert up.stop() == 0
    assert [pid for pid in tree if alive(pid)] == []

    again = Up.start(procs, home, site, workers=2)

    def all_finished() -> list[str]:
        executions = again.executions()
        finished = [e for e in executions if e.status in FINAL]
        return [str(e.status) for e in finished] if len(finished) == ACCEPTED == len(executions) else []

    statuses = wait_for(all_finished, what=f"all {ACCEPTED} accepted webhooks to end", timeout=90)
    by_instance = Counter(e.trigger_instance for e in again.executions())
    assert by_instance == Counter(instances)  # one execution per accepted webhook, none lost, none doubled
    # Only what the one worker held when Redis died can end up abandoned (its result could not be written).
    assert set(statuses) <= {"succeeded", "abandoned"}
    assert statuses.count("abandoned") <= 1
    assert again.stop() == 0


def test_up_restarts_a_killed_embedded_redis_and_finishes_the_work_by_itself(
    procs: Procs, site: Path, tmp_path: Path
) -> None:
    write_rules(site, {"hook": webhook_rule("e2e", "core.local", {"cmd": "sleep 0.05"})})
    port = free_port()
    up = Up.start(procs, tmp_path / "home", site, workers=1, ST2LITE_EMBEDDED_REDIS_PORT=str(port))
    instances = [up.post("/api/v1/webhooks/e2e", json={"i": i}).json()["id"] for i in range(20)]
    [redis_pid] = _pids_of(_services(up), f"redis-server 127.0.0.1:{port}")

    os.kill(redis_pid, signal.SIGKILL)

    wait_for(
        lambda: _pids_of(_services(up), f"redis-server 127.0.0.1:{port}") - {redis_pid},
        what="the supervisor to start Redis again",
    )
    assert "the embedded Redis exited; restarting it" in up.output()

    def all_finished() -> bool:
        try:
            executions = up.executions()
        except UNAVAILABLE:  # the restarted Redis is still loading its append-only file
            return False
        return len(executions) == len(instances) and all(e.status in FINAL for e in executions)

    wait_for(all_finished, what="every accepted webhook's execution to end without a manual restart", timeout=90)
    assert Counter(e.trigger_instance for e in up.executions()) == Counter(instances)
    assert up.stop() == 0


def test_the_api_answers_503_while_redis_is_down(own_redis: EmbeddedRedis, tmp_path: Path) -> None:
    site = write_rules(tmp_path / "api-site", {"hook": webhook_rule("e2e", "core.noop")})
    settings = Settings(
        home=tmp_path / "home", redis_url=own_redis.url, site_dir=site, packs_path=str(tmp_path / "no-packs")
    )
    register(settings, connect(own_redis.url))
    key = admin_key(connect(own_redis.url))
    app = create_app(settings, own_redis.url)

    async def requests() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        headers = {"St2-Api-Key": key}
        async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as client:
            assert (await client.post("/api/v1/webhooks/e2e", json={})).status_code == 202
            own_redis.kill()
            return [await client.post("/api/v1/webhooks/e2e", json={}), await client.get("/api/v1/executions")]

    for response in asyncio.run(requests()):
        assert response.status_code == 503, response.text
        assert "cannot reach Redis" in response.json()["faultstring"]
