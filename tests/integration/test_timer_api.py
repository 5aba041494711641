"""The timers rules create, through the API (``/api/v1/timers``) and ``st2lite timer list``."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import httpx
from conftest import admin_key, cli_env, serve_api, wait_for
from test_timer_engine import fired, register, write_pack

from st2lite.config import Settings
from st2lite.embedded_redis import free_port
from st2lite.redisdb import Redis
from st2lite.sensors.timer_engine import TimerEngine
from st2lite.sensors.triggers import trigger_id
from st2lite.triggers import CRON_TIMER, INTERVAL_TIMER

EVERY_SECOND = {"unit": "seconds", "delta": 1}
NIGHTLY = {"hour": 2, "timezone": "Europe/Paris"}


def test_timers_with_their_rules_and_ticks_in_the_api_and_the_cli(
    settings: Settings, redis_client: Redis, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"api_port": free_port(), "timer_lease_seconds": 1.0})
    pack = write_pack(
        tmp_path,
        {
            "tick": (INTERVAL_TIMER, EVERY_SECOND, True),
            "tick_too": (INTERVAL_TIMER, EVERY_SECOND, True),  # the same timer: one trigger, two rules
            "nightly": (CRON_TIMER, NIGHTLY, True),
            "quiet": (CRON_TIMER, {"minute": 5}, False),  # disabled: no timer
        },
    )
    register(settings, redis_client, pack)
    every_second = trigger_id(INTERVAL_TIMER, EVERY_SECOND)
    key = admin_key(settings)
    http = httpx.Client(headers={"St2-Api-Key": key})
    with serve_api(settings) as base:
        before = http.get(f"{base}/api/v1/timers").json()
        assert sorted((t["type"], t["parameters"] == EVERY_SECOND) for t in before) == [
            (CRON_TIMER, False),
            (INTERVAL_TIMER, True),
        ]
        assert all(t["schedule"] is None for t in before)  # no timer engine has scheduled them yet

        stop = threading.Event()
        engine = TimerEngine(settings, redis_client, "api-test")
        runner = threading.Thread(target=engine.run, args=(stop,))
        runner.start()
        try:
            wait_for(lambda: fired(redis_client, every_second), "the interval timer to fire")
            one = http.get(f"{base}/api/v1/timers/{every_second}").json()
            assert one["rules"] == ["tp.tick", "tp.tick_too"]
            assert one["schedule"]["last_instance"] in {i.id for i in fired(redis_client, every_second)}
            assert one["schedule"]["next_at"] > one["schedule"]["last_at"]
            by_ref = http.get(f"{base}/api/v1/timers/{one['ref']}").json()
            assert by_ref["id"] == every_second
            nightly = http.get(f"{base}/api/v1/timers", params={"timer_type": CRON_TIMER}).json()
            assert [t["rules"] for t in nightly] == [["tp.nightly"]]
            assert nightly[0]["schedule"]["timezone"] == "Europe/Paris"
            assert nightly[0]["schedule"]["next_at"].endswith(
                ("T01:00:00.000+00:00", "T00:00:00.000+00:00")
            )  # 02:00 Paris

            env = {**cli_env(settings), "ST2LITE_API_KEY": key}
            listed = json.loads(_cli(env, "timer", "list", "--json"))
            assert {t["id"] for t in listed} == {every_second, nightly[0]["id"]}
            table = _cli(env, "timer", "list", "--type", CRON_TIMER)
            assert "CronTimer" in table and "tp.nightly" in table and "IntervalTimer" not in table
        finally:
            stop.set()
            runner.join(timeout=10)

        bad = http.get(f"{base}/api/v1/timers", params={"timer_type": "core.st2.Cron"})
        assert bad.status_code == 400
        assert bad.json()["faultstring"] == (
            "timer_type must be one of core.st2.IntervalTimer, core.st2.CronTimer, core.st2.DateTimer, "
            "not 'core.st2.Cron'"
        )
        missing = http.get(f"{base}/api/v1/timers/nope")
        assert missing.status_code == 404
        assert missing.json()["faultstring"] == "Timer nope not found; no enabled rule uses a timer with this id or ref"


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "st2lite", *args], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
