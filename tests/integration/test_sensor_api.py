"""Sensor states through the API (``/api/v1/sensors``, ``/api/v1/sensortypes``) and ``st2lite sensor list``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import admin_key, cli_env, serve_api
from container_harness import fast, make_pack, register, running_container, status_of, wait_for

from st2lite.config import Settings
from st2lite.embedded_redis import free_port
from st2lite.redisdb import Redis


def test_sensor_states_in_the_api_and_the_cli(settings: Settings, redis_client: Redis, tmp_path: Path) -> None:
    # A long restart pause keeps the bad sensor 'failed' while the test looks (no race with its restart).
    settings = fast(settings, api_port=free_port(), sensor_restart_backoff=60.0, sensor_restart_backoff_max=60.0)
    register(settings, redis_client, make_pack(tmp_path, ["counter", "bad_setup", "idle1"]))
    key = admin_key(settings)
    http = httpx.Client(headers={"St2-Api-Key": key})
    with serve_api(settings) as base:
        before = {s["ref"]: s for s in http.get(f"{base}/api/v1/sensors").json()}
        assert before["sensortest.CounterSensor"]["state"] == "pending"  # no container runs yet
        with running_container(settings, node="api-node"):
            wait_for(lambda: _failed(redis_client), "the bad sensor to fail")
            wait_for(lambda: (s := status_of(redis_client, "sensortest.CounterSensor")) and s.pid, "the counter to run")
            sensors = {s["ref"]: s for s in http.get(f"{base}/api/v1/sensors").json()}
            counter = sensors["sensortest.CounterSensor"]
            assert counter["state"] == "running" and counter["node"] == "api-node" and counter["pid"] > 0
            assert counter["trigger_types"] == ["sensortest.tick"] and counter["enabled"] is True
            bad = sensors["sensortest.BadSetupSensor"]
            assert bad["state"] == "failed" and "missing api token" in bad["last_error"] and bad["last_error_at"]
            # StackStorm's sensortypes items keep their shape and carry the status.
            types = http.get(f"{base}/api/v1/sensortypes", params={"pack": "sensortest"}).json()
            item = {t["ref"]: t for t in types}["sensortest.BadSetupSensor"]
            assert item["uid"] == "sensor_type:sensortest:BadSetupSensor" and item["status"]["state"] == "failed"
            one = http.get(f"{base}/api/v1/sensortypes/sensortest.BadSetupSensor").json()
            assert one["status"]["last_error"] == bad["last_error"]

            env = {**cli_env(settings), "ST2LITE_API_KEY": key}
            listed = _cli(env, "sensor", "list", "--json")
            assert {s["ref"]: s["state"] for s in json.loads(listed)}["sensortest.CounterSensor"] == "running"
            table = _cli(env, "sensor", "list", "-p", "sensortest")
            assert "sensortest.BadSetupSensor" in table and "failed" in table and "missing api token" in table
        after = {s["ref"]: s for s in http.get(f"{base}/api/v1/sensors").json()}
        assert after["sensortest.CounterSensor"]["state"] == "stopped"
        assert after["sensortest.CounterSensor"]["pid"] is None


def _failed(client: Redis) -> bool:
    status = status_of(client, "sensortest.BadSetupSensor")
    return status is not None and status.state == "failed"


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "st2lite", *args], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_sensor_of_a_pack_without_its_config_waits_for_it(
    settings: Settings, redis_client: Redis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A bundled pack nobody set up yet: its sensor says what to write instead of failing in a loop."""
    configs = tmp_path / "configs"
    settings = fast(settings, api_port=free_port(), configs_dir=configs)
    pack = make_pack(tmp_path, ["counter"])
    (pack / "config.schema.yaml").write_text("api_url: {type: string, required: true}\nretries: {type: integer}\n")
    register(settings, redis_client, pack)
    expected = (
        f"not started: pack 'sensortest' has no config; write {configs}/sensortest.yaml with api_url "
        "(see the pack's README), then run 'st2lite pack register'"
    )
    http = httpx.Client(headers={"St2-Api-Key": admin_key(settings)})
    with serve_api(settings) as base, running_container(settings, node="cfg-node"):
        [counter] = http.get(f"{base}/api/v1/sensors", params={"pack": "sensortest"}).json()
        assert (counter["state"], counter["last_error"]) == ("unconfigured", expected)
        wait_for(lambda: expected in caplog.text, "the container to say why it does not start the sensor")
        assert status_of(redis_client, "sensortest.CounterSensor") is None  # never started, so never failed

        # Writing the config and registering again starts it.
        configs.mkdir()
        (configs / "sensortest.yaml").write_text("api_url: http://127.0.0.1:1\n")
        register(settings, redis_client, pack)
        wait_for(lambda: (s := status_of(redis_client, "sensortest.CounterSensor")) and s.pid, "the counter to run")
        [counter] = http.get(f"{base}/api/v1/sensors", params={"pack": "sensortest"}).json()
        assert counter["state"] == "running"
