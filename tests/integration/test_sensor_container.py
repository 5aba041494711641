"""The sensor container with real sensor processes on a real Redis: StackStorm sensors, triggers, bad sensors."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from container_harness import (
    audit_events,
    fast,
    instances,
    make_pack,
    register,
    running_container,
    status_of,
    wait_for,
)

from st2lite import keys
from st2lite.config import Settings
from st2lite.datastore import KeyValueStore
from st2lite.embedded_redis import EmbeddedRedis
from st2lite.redisdb import Redis, connect
from st2lite.rules_engine import RulesEngine

WATCH_RULE = """\
name: on_inbox
pack: sensortest
enabled: {enabled}
trigger:
  type: sensortest.watched
  parameters:
    path: /data/inbox
action:
  ref: core.noop
"""


TICK_RULE = """\
name: on_second_tick
pack: sensortest
enabled: true
trigger:
  type: sensortest.tick
criteria:
  trigger.count:
    type: equals
    pattern: 2
action:
  ref: core.noop
"""


def _ops(client: Redis) -> list[tuple[str, str]]:
    return [(i["payload"]["op"], i["payload"]["path"]) for i in instances(client, "sensortest.watch_event")]


def test_stackstorm_sensors_run_unchanged_and_get_their_triggers(
    settings: Settings, redis_client: Redis, tmp_path: Path
) -> None:
    settings = fast(settings)
    register(settings, redis_client, make_pack(tmp_path, ["counter", "watcher"], {"tick": TICK_RULE}))
    with running_container(settings) as container:
        # The polling sensor (st2reactor import, pack lib helper) dispatches through sensor_service.
        ticks = wait_for(lambda: len(instances(redis_client, "sensortest.tick")) >= 3, "three ticks from the counter")
        assert ticks
        tick = instances(redis_client, "sensortest.tick")[0]
        assert tick["payload"] == {"count": 1}
        assert tick["trace_tag"] == "counter"
        assert tick["source"] == "sensor:sensortest.CounterSensor"
        # The rules engine fires the rule on the second tick only.
        RulesEngine(settings, redis_client, name="test-engine").drain()
        fired = audit_events(redis_client, "rule.matched", rule="sensortest.on_second_tick")
        assert [e.trigger_instance for e in fired] == [instances(redis_client, "sensortest.tick")[1]["id"]]
        # The passive sensor's run() is up.
        wait_for(lambda: ("running", "") in _ops(redis_client), "the passive sensor to run")
        status = status_of(redis_client, "sensortest.WatcherSensor")
        assert status is not None and status.state == "running" and status.node == "test-node"
        assert status.pid == container.running()["sensortest.WatcherSensor"]

        # A rule using the watcher's parameterised trigger type: add_trigger with its parameters.
        rule = {"tick": TICK_RULE, "r": WATCH_RULE.format(enabled="true")}
        register(settings, redis_client, make_pack(tmp_path, ["counter", "watcher"], rule))
        wait_for(lambda: ("add", "/data/inbox") in _ops(redis_client), "add_trigger for the rule's trigger")
        # Disabling the rule removes the trigger; the sensor process is the same one throughout.
        rule = {"tick": TICK_RULE, "r": WATCH_RULE.format(enabled="false")}
        register(settings, redis_client, make_pack(tmp_path, ["counter", "watcher"], rule))
        wait_for(lambda: ("remove", "/data/inbox") in _ops(redis_client), "remove_trigger once the rule is disabled")
        assert _ops(redis_client).count(("add", "/data/inbox")) == 1
        assert container.running()["sensortest.WatcherSensor"] == status.pid

    stopped = status_of(redis_client, "sensortest.CounterSensor")
    assert stopped is not None and stopped.state == "stopped" and stopped.pid is None
    assert not redis_client.keys(keys.sensor_lease("*"))  # a clean stop releases the leases


def test_broken_sensors_are_reported_and_others_keep_dispatching(
    settings: Settings, redis_client: Redis, tmp_path: Path
) -> None:
    settings = fast(settings)
    sensors = ["counter", "bad_import", "bad_setup", "bad_poll", "crasher", "bad_payload", "missing_class"]
    register(settings, redis_client, make_pack(tmp_path, sensors))

    def error_of(ref: str, *parts: str) -> str | None:
        status = status_of(redis_client, ref)
        error = status.last_error if status else ""
        return error if error and all(p in error for p in parts) else None

    with running_container(settings):
        # Raises on import: failed, with the exception and the file; retried with backoff.
        error = wait_for(lambda: error_of("sensortest.BadImportSensor", "broken dependency"), "the import error")
        assert "RuntimeError: broken dependency: cannot import the monitoring client" in error
        assert "bad_import.py" in error
        # Raises in setup.
        error = wait_for(lambda: error_of("sensortest.BadSetupSensor", "setup"), "the setup error")
        assert "setup raised ValueError: missing api token in the pack config" in error
        # class_name not in the module: says which classes are there.
        error = wait_for(lambda: error_of("sensortest.NoSuchSensor", "NoSuchSensor"), "the missing class")
        assert "class 'NoSuchSensor' not found in" in error and "sensor classes there: CounterSensor" in error
        for ref in ("sensortest.BadImportSensor", "sensortest.BadSetupSensor", "sensortest.NoSuchSensor"):
            wait_for(lambda ref=ref: _state(redis_client, ref, "failed", restarts=1), f"{ref} to be failed")
        # Raises in poll: reported each time, keeps running in the same process.
        wait_for(lambda: _state(redis_client, "sensortest.BadPollSensor", "running", errors=2), "two poll errors")
        poller = status_of(redis_client, "sensortest.BadPollSensor")
        assert poller is not None and poller.state == "running" and poller.restarts == 0
        assert "poll raised ConnectionError: upstream unreachable" in poller.last_error
        # Crashes (os._exit): restarted with a growing pause; the exit code is the error.
        wait_for(lambda: _state(redis_client, "sensortest.CrasherSensor", None, restarts=3), "three restarts")
        crasher = status_of(redis_client, "sensortest.CrasherSensor")
        assert crasher is not None and "exited with code 7" in crasher.last_error
        exits = audit_events(redis_client, "sensor.exited", sensor="sensortest.CrasherSensor")
        backoffs = [e.data["backoff"] for e in exits][:3]
        assert backoffs == [0.2, 0.4, 0.8]
        assert [e.data["exit_code"] for e in exits][:3] == [7, 7, 7]
        # A payload failing the trigger type's schema: rejected, visible, nothing published.
        error = wait_for(lambda: error_of("sensortest.BadPayloadSensor", "payload rejected"), "the rejected payload")
        assert "sensortest.strict" in error and "count" in error
        rejected = audit_events(redis_client, "trigger_instance.rejected", actor="sensor:sensortest.BadPayloadSensor")
        assert rejected and "is not of type 'integer'" in (rejected[0].message or "")
        assert instances(redis_client, "sensortest.strict") == []
        # Errors are audited too (the same message once, not once per poll).
        errors = audit_events(redis_client, "sensor.error", actor="sensor:sensortest.BadImportSensor")
        assert errors and "broken dependency" in (errors[0].message or "")
        # Meanwhile the good sensor kept dispatching.
        seen = len(instances(redis_client, "sensortest.tick"))
        assert seen >= 3
        wait_for(lambda: len(instances(redis_client, "sensortest.tick")) > seen + 2, "the counter to keep dispatching")


def test_disabled_sensor_stops_and_background_services_run(
    settings: Settings, redis_client: Redis, tmp_path: Path
) -> None:
    settings = fast(settings)
    register(settings, redis_client, make_pack(tmp_path, ["counter", "idle1"]))
    calls: list[str] = []
    stopped = threading.Event()

    def service(stop: threading.Event) -> None:
        calls.append(threading.current_thread().name)
        stop.wait()
        stopped.set()

    with running_container(settings, background=[service]) as container:
        wait_for(lambda: len(container.running()) == 2, "both sensors to run")
        assert len(calls) == 1  # the background service runs as a thread of the container
        pid = container.running()["sensortest.Idle1"]
        pack = make_pack(tmp_path, ["counter", "idle1"])
        meta = pack / "sensors" / "idle1.yaml"
        meta.write_text(meta.read_text(encoding="utf-8") + "enabled: false\n", encoding="utf-8")
        register(settings, redis_client, pack)
        wait_for(lambda: "sensortest.Idle1" not in container.running(), "the disabled sensor to stop")
        wait_for(lambda: not _alive(pid), "its process to exit")
        status = status_of(redis_client, "sensortest.Idle1")
        assert status is not None and status.state == "stopped"
        assert "sensortest.CounterSensor" in container.running()
        assert not stopped.is_set()
    assert stopped.is_set()  # told to stop with the container, and joined


def test_a_sensor_gets_its_packs_config_and_a_broken_config_is_reported(
    settings: Settings, redis_client: Redis, tmp_path: Path
) -> None:
    settings = fast(settings)
    pack = make_pack(tmp_path, ["counter"])
    schema = "label: {type: string, required: true}\nunit: {type: string, default: ms}\n"
    (pack / "config.schema.yaml").write_text(schema, encoding="utf-8")
    configs = settings.resolved_configs_dir
    configs.mkdir(parents=True)
    (configs / "sensortest.yaml").write_text('label: "{{ st2kv.system.sensor_label }}"\n', encoding="utf-8")
    KeyValueStore.for_settings(redis_client, settings, actor="test").set("sensor_label", "blue")
    register(settings, redis_client, pack)
    with running_container(settings):
        # Rendered from the datastore, with the schema's default filled in.
        tick = wait_for(lambda: instances(redis_client, "sensortest.tick"), "a tick")[0]
        assert tick["payload"] == {"count": 1, "label": "blue", "unit": "ms"}
        # A config that renders to a value its schema refuses: the sensor fails, saying where.
        KeyValueStore.for_settings(redis_client, settings, actor="test").set("sensor_count", "42")
        (configs / "sensortest.yaml").write_text("label: '{{ st2kv.system.sensor_count | int }}'\n", encoding="utf-8")
        register(settings, redis_client, pack)  # a new config restarts the sensor
        ref = "sensortest.CounterSensor"
        wait_for(lambda: _state(redis_client, ref, "failed", restarts=1), "the sensor to fail on its config")
        status = status_of(redis_client, ref)
        assert status is not None and "the config of pack 'sensortest' cannot be used" in status.last_error
        assert "label" in status.last_error


def _state(client: Redis, ref: str, state: str | None, *, restarts: int = 0, errors: int = 0) -> bool:
    """True when ``ref``'s status is ``state`` (any when None) with at least ``restarts`` and ``errors``."""
    status = status_of(client, ref)
    if status is None or (state is not None and status.state != state):
        return False
    return status.restarts >= restarts and status.errors >= errors


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().split(") ")[1][0] != "Z"


def test_a_container_that_loses_redis_stops_its_sensors_after_a_lease(settings: Settings, tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "own-redis", persistent=False)
    url = server.start()
    try:
        settings = fast(settings, redis_url=url)
        client = connect(url)
        register(settings, client, make_pack(tmp_path, ["counter"]))
        with running_container(settings) as container:
            wait_for(lambda: instances(client, "sensortest.tick"), "the counter to dispatch")
            pid = container.running()["sensortest.CounterSensor"]
            server.stop()
            # The sensor itself survives the outage (its polls fail and are reported), but another container may
            # own it once the lease has run out: this one stops it.
            wait_for(lambda: not container.running(), "the sensor to be stopped without Redis")
            wait_for(lambda: not _alive(pid), "its process to exit")
    finally:
        server.stop()


FILE_RULE = """\
name: on_drop
pack: sensortest
enabled: {enabled}
trigger:
  type: core.st2.file_watch
  parameters:
    path: {path}
    quiet_period: 0.1
action:
  ref: core.noop
"""


def test_builtin_sensors_run_only_while_a_rule_needs_them(
    settings: Settings, redis_client: Redis, tmp_path: Path
) -> None:
    settings = fast(settings)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    register(settings, redis_client, make_pack(tmp_path, ["idle1"]))
    with running_container(settings) as container:
        wait_for(lambda: "sensortest.Idle1" in container.running(), "the pack sensor to run")
        assert "core.FileWatchSensor" not in container.running()  # no rule uses its triggers: idle
        rule = FILE_RULE.format(enabled="true", path=inbox)
        register(settings, redis_client, make_pack(tmp_path, ["idle1"], {"drop": rule}))
        wait_for(lambda: "core.FileWatchSensor" in container.running(), "the file watch sensor to start")
        assert "core.HttpPollSensor" not in container.running()

        def dropped() -> list[dict[str, object]]:
            (inbox / "a.csv").write_text("x", encoding="utf-8")  # again until the watch is in place
            return instances(redis_client, "core.st2.file_watch")

        event = wait_for(dropped, "a file_watch trigger instance", deadline=20)[0]
        assert event["parameters"]["path"] == str(inbox)
        rule = FILE_RULE.format(enabled="false", path=inbox)
        register(settings, redis_client, make_pack(tmp_path, ["idle1"], {"drop": rule}))
        wait_for(lambda: "core.FileWatchSensor" not in container.running(), "the file watch sensor to stop")
    status = status_of(redis_client, "core.FileWatchSensor")
    assert status is not None and status.state == "stopped"
