"""What a sensor can do through ``self.sensor_service``, on a real Redis.

The sensor runs in this process here; the sensor container runs the same
classes in child processes (tests/integration/test_sensor_container.py).
"""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest
from conftest import wait_for

from st2lite import keys
from st2lite.audit import AuditKind, AuditLog
from st2lite.config import Settings
from st2lite.content import ContentSet, PackMeta
from st2lite.datastore import KeyValueStore
from st2lite.dispatch import TriggerDispatcher
from st2lite.encryption import generate_key_file
from st2lite.redisdb import Redis
from st2lite.registry import RegistryStore
from st2lite.sensors.base import PollingSensor
from st2lite.sensors.service import SensorService
from st2lite.triggers import TriggerType

pytestmark = pytest.mark.redis

DEPTH = TriggerType(
    pack="queues",
    name="depth_high",
    payload_schema={
        "type": "object",
        "properties": {"queue": {"type": "string"}, "depth": {"type": "integer"}},
        "required": ["queue", "depth"],
        "additionalProperties": False,
    },
)


def audit_log(client: Redis) -> AuditLog:
    return AuditLog(client, maxlen=10_000)


@pytest.fixture
def errors() -> list[str]:
    return []


@pytest.fixture
def service(settings: Settings, redis_client: Redis, errors: list[str]) -> SensorService:
    pack = PackMeta.model_validate(
        {"ref": "queues", "name": "queues", "version": "0.1.0", "description": "q", "author": "ops"}
    )
    RegistryStore(redis_client).register(
        ContentSet(packs=[pack], trigger_types=[DEPTH]), audit=audit_log(redis_client), actor="test"
    )
    generate_key_file(settings.datastore_key_path)
    return SensorService(
        "queues.QueueDepthSensor",
        "QueueDepthSensor",
        TriggerDispatcher(settings, redis_client),
        audit=audit_log(redis_client),
        datastore=KeyValueStore.for_settings(redis_client, settings, actor="sensor:queues.QueueDepthSensor"),
        on_error=lambda message, _exc: errors.append(message),
    )


def published(client: Redis) -> list[dict[str, Any]]:
    return [orjson.loads(fields["t"]) for _id, fields in client.xrange(keys.TRIGGER_STREAM)]


def audit_kinds(client: Redis) -> list[tuple[str, str]]:
    return [(e.kind.value, e.actor) for e in audit_log(client).read()]


def test_dispatch_publishes_the_instance_with_the_sensor_as_actor(service: SensorService, redis_client: Redis) -> None:
    instance = service.dispatch("queues.depth_high", {"queue": "billing", "depth": 900}, trace_tag="poll-1")
    assert instance is not None
    (entry,) = published(redis_client)
    assert entry["id"] == instance.id
    assert (entry["trigger"], entry["payload"], entry["trace_tag"]) == (
        "queues.depth_high",
        {"queue": "billing", "depth": 900},
        "poll-1",
    )
    assert entry["source"] == "sensor:queues.QueueDepthSensor"
    assert ("trigger_instance.received", "sensor:queues.QueueDepthSensor") in audit_kinds(redis_client)


def test_a_trigger_dict_dispatches_with_its_parameters(service: SensorService, redis_client: Redis) -> None:
    trigger = {"type": "queues.depth_high", "parameters": {"queue": "billing"}, "ref": "queues.depth_high.x"}
    assert service.dispatch_with_context(trigger, {"queue": "billing", "depth": 1}, {"trace_tag": "t"}) is not None
    (entry,) = published(redis_client)
    assert (entry["parameters"], entry["trace_tag"]) == ({"queue": "billing"}, "t")


def test_a_payload_failing_the_schema_is_rejected_visibly_and_nothing_is_published(
    service: SensorService, redis_client: Redis, errors: list[str]
) -> None:
    assert service.dispatch("queues.depth_high", {"queue": "billing", "depth": 1}) is not None

    assert service.dispatch("queues.depth_high", {"queue": "billing", "depth": "many"}) is None

    assert len(published(redis_client)) == 1  # the accepted one is still there, the bad one never arrived
    (message,) = errors
    assert message == (
        "payload rejected for trigger 'queues.depth_high': payload does not match the schema of "
        "'queues.depth_high' at depth: 'many' is not of type 'integer'"
    )
    rejected = [e for e in audit_log(redis_client).read() if e.kind is AuditKind.TRIGGER_REJECTED]
    assert [(e.actor, e.trigger, e.message) for e in rejected] == [
        ("sensor:queues.QueueDepthSensor", "queues.depth_high", message)
    ]


def test_an_unknown_trigger_type_is_rejected_with_what_to_do(service: SensorService, errors: list[str]) -> None:
    assert service.dispatch("queues.depth_hihg", {}) is None
    assert errors == [
        "payload rejected for trigger 'queues.depth_hihg': trigger type 'queues.depth_hihg' is not registered; "
        "register the pack that declares it ('st2lite pack register') or check the spelling"
    ]


def test_datastore_local_keys_are_named_after_the_sensor_class(service: SensorService, settings: Settings) -> None:
    assert service.set_value("cursor", "42")
    assert service.set_value("token", "s3cret", local=False, encrypt=True)
    assert service.get_value("cursor") == "42"
    assert service.get_value("token", local=False, decrypt=True) == "s3cret"
    assert service.get_value("token", local=False) != "s3cret"  # a secret read without decrypt stays encrypted
    assert [kv.name for kv in service.list_values()] == ["queues.QueueDepthSensor:cursor"]
    assert service.delete_value("cursor")
    assert not service.delete_value("cursor")
    assert service.get_value("cursor") is None


def test_a_polling_sensor_whose_poll_raises_reports_it_and_keeps_polling(
    service: SensorService, redis_client: Redis, errors: list[str]
) -> None:
    class Flaky(PollingSensor):
        polls = 0

        def setup(self) -> None: ...
        def cleanup(self) -> None: ...
        def add_trigger(self, trigger: dict[str, Any]) -> None: ...
        def update_trigger(self, trigger: dict[str, Any]) -> None: ...
        def remove_trigger(self, trigger: dict[str, Any]) -> None: ...

        def poll(self) -> None:
            self.polls += 1
            if self.polls == 1:
                raise ConnectionError("queue API unreachable")
            self.sensor_service.dispatch("queues.depth_high", {"queue": "q", "depth": self.polls})
            if self.polls == 3:
                self.stop()

    sensor = Flaky(sensor_service=service, poll_interval=0.01)
    runner = threading.Thread(target=sensor.run)
    runner.start()
    wait_for(lambda: not runner.is_alive(), "the sensor to stop after its third poll")
    assert errors == ["poll raised ConnectionError: queue API unreachable"]
    assert [e["payload"]["depth"] for e in published(redis_client)] == [2, 3]
    assert sensor.get_poll_interval() == 0.01
    sensor.set_poll_interval(2)
    assert sensor.get_poll_interval() == 2


def test_stackstorm_import_paths_are_the_same_classes() -> None:
    from st2lite.sensors.base import Sensor
    from st2reactor.sensor.base import PollingSensor as St2PollingSensor
    from st2reactor.sensor.base import Sensor as St2Sensor

    assert (St2Sensor, St2PollingSensor) == (Sensor, PollingSensor)
