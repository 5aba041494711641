"""Publishing trigger instances: the batch publisher of the API, the dispatcher's per-version checks, real Redis."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import orjson
import pytest
import redis
import uvicorn
from conftest import wait_for

from st2lite import keys
from st2lite.api.app import create_app
from st2lite.api.publisher import BatchPublisher
from st2lite.audit import AuditLog
from st2lite.bus.redis import FIELD, RedisBus
from st2lite.config import Settings
from st2lite.content import ContentSet
from st2lite.dispatch import TriggerDispatcher
from st2lite.embedded_redis import free_port
from st2lite.exceptions import TriggerError
from st2lite.redisdb import Redis, connect
from st2lite.registry import RegistryCache, RegistryStore
from st2lite.triggers import TriggerInstance, TriggerType

pytestmark = pytest.mark.redis


def bus(client: Redis) -> RedisBus:
    return RedisBus(client, maxlen=10_000, audit=AuditLog(client, maxlen=10_000))


def instance(seq: int) -> TriggerInstance:
    return TriggerInstance(trigger="core.st2.webhook", parameters={"url": "x"}, payload={"body": {"seq": seq}})


def on_stream(client: Redis) -> list[dict[str, Any]]:
    return [orjson.loads(fields[FIELD]) for _eid, fields in client.xrange(keys.TRIGGER_STREAM)]


def received(client: Redis) -> list[str]:
    events = [orjson.loads(fields["e"]) for _eid, fields in client.xrange(keys.AUDIT_STREAM)]
    return [e["trigger_instance"] for e in events if e["kind"] == "trigger_instance.received"]


def test_the_requests_of_one_loop_turn_are_published_in_one_call_in_order(redis_client: Redis) -> None:
    publisher = BatchPublisher(bus(redis_client))
    batches = [[instance(i)] for i in range(40)] + [[instance(40), instance(41)]]  # one request, two rules

    async def requests() -> None:
        await asyncio.gather(*(publisher.publish(b, actor="api") for b in batches))

    asyncio.run(requests())

    expected = [i.id for b in batches for i in b]
    assert [i["id"] for i in on_stream(redis_client)] == expected
    assert received(redis_client) == expected  # each with its audit event
    assert (publisher.calls, publisher.published) == (1, 42)


def test_a_full_batch_is_published_at_once(redis_client: Redis) -> None:
    publisher = BatchPublisher(bus(redis_client), max_batch=10)

    async def requests() -> None:
        await asyncio.gather(*(publisher.publish([instance(i)], actor="api") for i in range(25)))

    asyncio.run(requests())

    assert len(on_stream(redis_client)) == 25
    assert publisher.calls == 3


def test_every_request_of_a_failed_batch_gets_the_error(redis_client: Redis) -> None:
    publisher = BatchPublisher(bus(connect(f"redis://127.0.0.1:{free_port()}/0")))

    async def requests() -> list[BaseException | None]:
        calls = [publisher.publish([instance(i)], actor="api") for i in range(3)]
        return list(await asyncio.gather(*calls, return_exceptions=True))

    outcomes = asyncio.run(requests())
    again = asyncio.run(requests())

    assert all(isinstance(o, redis.exceptions.ConnectionError) for o in outcomes + again), outcomes + again
    assert publisher.calls == 0


def register(client: Redis, schema: dict[str, Any]) -> None:
    reading = TriggerType(pack="tests", name="reading", payload_schema=schema)
    RegistryStore(client).register(
        ContentSet(trigger_types=[reading]), audit=AuditLog(client, maxlen=1_000), actor="test"
    )


def test_the_dispatcher_checks_against_the_schema_of_the_current_registry_version(
    settings: Settings, redis_client: Redis
) -> None:
    register(redis_client, {"type": "object", "properties": {"value": {"type": "number"}}})
    dispatcher = TriggerDispatcher(
        settings, redis_client, RegistryCache(RegistryStore(redis_client), refresh_interval=0)
    )
    dispatcher.dispatch("tests.reading", {"value": 1.5}, actor="test")
    with pytest.raises(TriggerError, match=r"payload does not match the schema of 'tests.reading' at value: "):
        dispatcher.dispatch("tests.reading", {"value": "high"}, actor="test")

    register(redis_client, {"type": "object", "properties": {"value": {"type": "string"}}})
    dispatcher.dispatch("tests.reading", {"value": "high"}, actor="test")

    assert [i["payload"] for i in on_stream(redis_client)] == [{"value": 1.5}, {"value": "high"}]
    with pytest.raises(TriggerError, match=r"trigger type 'tests.gone' is not registered"):
        dispatcher.dispatch("tests.gone", {}, actor="test")


def test_what_the_quick_check_doubts_jsonschema_decides(settings: Settings, redis_client: Redis) -> None:
    register(redis_client, {"type": "object", "properties": {"level": {"enum": [1, "two"]}}, "required": ["level"]})
    dispatcher = TriggerDispatcher(settings, redis_client)

    dispatcher.dispatch("tests.reading", {"level": 1.0}, actor="test")  # jsonschema: 1.0 equals 1
    with pytest.raises(TriggerError, match=r"at \(root\): 'level' is a required property"):
        dispatcher.dispatch("tests.reading", {}, actor="test")
    with pytest.raises(TriggerError, match=r"at level: 3 is not one of \[1, 'two'\]"):
        dispatcher.dispatch("tests.reading", {"level": 3}, actor="test")

    assert [i["payload"] for i in on_stream(redis_client)] == [{"level": 1.0}]


def test_a_webhook_while_redis_is_away_is_503_through_the_fast_path(settings: Settings) -> None:
    away = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0", "api_port": free_port()})
    server = uvicorn.Server(
        uvicorn.Config(create_app(away, away.redis_url), host="127.0.0.1", port=away.api_port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, "the API to listen")
        response = httpx.post(f"http://127.0.0.1:{away.api_port}/api/v1/webhooks/hello", json={}, timeout=10)
    finally:
        server.should_exit = True
        thread.join(timeout=10)

    assert response.status_code == 503, response.text
    assert response.json()["faultstring"].startswith("cannot reach Redis (")
