"""A harness for the built-in sensors: a real SensorService on the test Redis, the sensor run as the container will.

The core pack is registered (so trigger payloads are checked against the
schemas of ``core.st2.file_watch`` & co), the sensor's ``run`` runs in a
thread, and the test calls ``add_trigger``/``remove_trigger`` the way the
sensor container does when rules come and go. Errors the sensor reports
(``report_error``) are collected in :attr:`SensorHarness.errors`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from conftest import wait_for

from st2lite import keys
from st2lite.audit import AuditLog
from st2lite.config import Settings
from st2lite.datastore import KeyValueStore
from st2lite.dispatch import TriggerDispatcher
from st2lite.encryption import generate_key_file
from st2lite.redisdb import Redis
from st2lite.registration import register_from_disk
from st2lite.sensors.base import Sensor
from st2lite.sensors.service import SensorService
from st2lite.sensors.triggers import trigger_dict

__all__ = ["FailingDispatch", "SensorHarness", "make_trigger", "running_sensor", "sensor_harness"]


def make_trigger(trigger_type: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The trigger dict ``add_trigger`` receives for a rule on ``trigger_type`` with ``parameters``."""
    return trigger_dict(trigger_type, parameters)


@dataclass
class SensorHarness:
    client: Redis
    service: SensorService
    datastore: KeyValueStore
    errors: list[str] = field(default_factory=list)

    def instances(self, trigger: dict[str, Any]) -> list[dict[str, Any]]:
        """The trigger instances of ``trigger`` (its type and parameters) on the trigger stream, oldest first."""
        found = []
        for _entry, fields in self.client.xrange(keys.TRIGGER_STREAM):
            instance: dict[str, Any] = orjson.loads(fields["t"])
            if instance["trigger"] == trigger["type"] and instance["parameters"] == trigger["parameters"]:
                found.append(instance)
        return found

    def payloads(self, trigger: dict[str, Any]) -> list[dict[str, Any]]:
        return [instance["payload"] for instance in self.instances(trigger)]

    def wait_payloads(
        self, trigger: dict[str, Any], count: int, what: str, *, deadline: float = 10
    ) -> list[dict[str, Any]]:
        """Wait until ``trigger`` has at least ``count`` instances; return their payloads."""
        return wait_for(lambda: (p := self.payloads(trigger)) and len(p) >= count and p, what, deadline=deadline)

    def wait_error(self, predicate: Callable[[str], bool], what: str, *, deadline: float = 10) -> str:
        return wait_for(lambda: next((e for e in list(self.errors) if predicate(e)), None), what, deadline=deadline)


@contextmanager
def sensor_harness(settings: Settings, client: Redis, sensor_ref: str, class_name: str) -> Iterator[SensorHarness]:
    """The core pack registered, a datastore key file, and a :class:`SensorService` for ``sensor_ref``."""
    register_from_disk(settings, client, actor="test")
    generate_key_file(settings.datastore_key_path)
    datastore = KeyValueStore.for_settings(client, settings, actor="test")
    errors: list[str] = []
    service = SensorService(
        sensor_ref,
        class_name,
        TriggerDispatcher(settings, client),
        audit=AuditLog(client, maxlen=settings.audit_stream_maxlen),
        datastore=datastore,
        on_error=lambda message, _exc: errors.append(message),
    )
    yield SensorHarness(client=client, service=service, datastore=datastore, errors=errors)


@contextmanager
def running_sensor(sensor: Sensor) -> Iterator[Sensor]:
    """``setup``, ``run`` in a thread; at the end ``stop``, join and ``cleanup``, as the container does."""
    sensor.setup()
    thread = threading.Thread(target=sensor.run, name="sensor-run", daemon=True)
    thread.start()
    try:
        yield sensor
    finally:
        sensor.stop()
        thread.join(timeout=10)
        sensor.cleanup()
        assert not thread.is_alive(), "the sensor's run() did not return after stop()"


class FailingDispatch:
    """A sensor service whose first ``failures`` dispatches raise (Redis going away), then delegates."""

    def __init__(self, service: SensorService, failures: int = 1) -> None:
        self._service = service
        self.failures = failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    def dispatch(self, trigger: Any, payload: Any = None, trace_tag: Any = None) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("Redis went away")
        return self._service.dispatch(trigger, payload, trace_tag)
