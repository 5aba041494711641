"""Trigger types, trigger instances (list, get, re_emit), sensor types and webhooks against a real API."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import ApiServer, fault

from st2lite import keys
from st2lite.trigger_instances import TriggerInstanceStore

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def send(api: ApiServer, trigger: str, payload: dict[str, Any]) -> str:
    response = api.http.post("/api/v1/webhooks/st2", json={"trigger": trigger, "payload": payload})
    assert response.status_code == 202, response.text
    instance_id: str = response.json()["id"]
    return instance_id


def listed(api: ApiServer, **params: Any) -> tuple[list[dict[str, Any]], int]:
    response = api.http.get("/api/v1/triggerinstances/", params=params)
    assert response.status_code == 200, response.text
    return response.json(), int(response.headers["X-Total-Count"])


# -- trigger types ----------------------------------------------------------------------------------


def test_trigger_types_lists_builtin_and_pack_types_in_stackstorm_shape(api_server: ApiServer) -> None:
    response = api_server.http.get("/api/v1/triggertypes")
    projected = api_server.http.get("/api/v1/triggertypes", params={"include_attributes": "ref,pack,description"})

    assert response.status_code == 200, response.text
    assert projected.status_code == 200, projected.text
    assert {frozenset(t) for t in projected.json()} == {frozenset({"id", "ref", "pack", "description"})}
    by_ref = {t["ref"]: t for t in response.json()}
    webhook = by_ref["core.st2.webhook"]
    assert webhook["id"] == "core.st2.webhook"
    assert webhook["uid"] == "trigger_type:core:st2.webhook"
    assert (webhook["name"], webhook["pack"]) == ("st2.webhook", "core")
    assert webhook["parameters_schema"]["required"] == ["url"]
    assert webhook["payload_schema"]["type"] == "object"
    assert webhook["tags"] == []
    assert "examples.queue_depth_high" in by_ref  # declared by a sensor
    assert "examples.alert" in by_ref  # declared in triggers/
    only = api_server.http.get("/api/v1/triggertypes", params={"pack": "examples"}).json()
    assert only and {t["pack"] for t in only} == {"examples"}


def test_trigger_type_by_ref_and_unknown_ref(api_server: ApiServer) -> None:
    got = api_server.http.get("/api/v1/triggertypes/core.st2.IntervalTimer")
    assert got.status_code == 200 and got.json()["parameters_schema"]["required"] == ["unit", "delta"]

    message = fault(api_server.http.get("/api/v1/triggertypes/nope.nothing"), 404)
    assert message.startswith("TriggerType nope.nothing not found")


# -- trigger instances ------------------------------------------------------------------------------


def test_processed_instances_are_listed_newest_first_with_enforcements(api_server: ApiServer) -> None:
    response = api_server.http.post("/api/v1/webhooks/hello", json={"name": "st2"})
    assert response.status_code == 202, response.text
    first = response.json()["id"]
    second = send(api_server, "examples.alert", {"alerts": [{"severity": "high"}]})
    api_server.process()

    items, total = listed(api_server)
    assert [i["id"] for i in items] == [second, first] and total == 2
    hello = items[1]
    assert hello["trigger"] == "core.st2.webhook"
    assert hello["parameters"] == {"url": "hello"}
    assert hello["payload"]["body"] == {"name": "st2"}
    assert hello["status"] == "processed"
    assert ISO_Z.match(hello["occurrence_time"]), hello
    [enforcement] = hello["enforcements"]
    assert enforcement["rule"] == "default.hello" and enforcement["status"] == "succeeded"
    assert enforcement["execution"]

    got = api_server.http.get(f"/api/v1/triggerinstances/{first}")
    assert got.status_code == 200 and got.json() == hello


def test_filters_and_pagination(api_server: ApiServer) -> None:
    ids = [send(api_server, "core.st2.generic.notifytrigger", {"n": n}) for n in range(3)]
    api_server.process()
    mark = datetime.now(UTC)
    time.sleep(0.01)
    hook = api_server.http.post("/api/v1/webhooks/team/alerts/critical", json={}).json()["id"]
    api_server.process()

    items, total = listed(api_server, trigger="core.st2.generic.notifytrigger", limit=2)
    assert [i["id"] for i in items] == ids[::-1][:2] and total == 3
    items, total = listed(api_server, trigger="core.st2.generic.notifytrigger", limit=2, offset=2)
    assert [i["id"] for i in items] == [ids[0]] and total == 3
    assert listed(api_server, status="processed")[1] == 4
    assert listed(api_server, status="pending") == ([], 0)
    assert listed(api_server, trigger="core.st2.webhook")[0][0]["id"] == hook
    before_mark = listed(api_server, timestamp_lt=mark.isoformat().replace("+00:00", "Z"))
    assert before_mark[1] == 3
    far = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert listed(api_server, timestamp_gt=far) == ([], 0)
    assert listed(api_server, limit=-1)[1] == 4


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": 0}, "limit must be a positive number"),
        ({"limit": "many"}, "invalid request: query.limit"),
        ({"offset": -1}, "invalid request: query.offset"),
        ({"status": "done"}, "status must be one of pending, processing, processed, processing_failed"),
        ({"timestamp_gt": "yesterday"}, "timestamp_gt must be an ISO 8601 time"),
    ],
)
def test_bad_query_values_are_400_with_a_message(api_server: ApiServer, params: dict[str, Any], message: str) -> None:
    assert message in fault(api_server.http.get("/api/v1/triggerinstances", params=params), 400)


def test_unknown_instance_is_404(api_server: ApiServer) -> None:
    assert "trigger instance 'nope' not found" in fault(api_server.http.get("/api/v1/triggerinstances/nope"), 404)
    assert "trigger instance 'nope' not found" in fault(
        api_server.http.post("/api/v1/triggerinstances/nope/re_emit"), 404
    )


def test_re_emit_dispatches_a_new_instance_that_the_rules_engine_processes(api_server: ApiServer) -> None:
    original = api_server.http.post("/api/v1/webhooks/hello", json={"name": "st2"}).json()["id"]
    api_server.process()

    response = api_server.http.post(f"/api/v1/triggerinstances/{original}/re_emit")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == f"Trigger instance {original} succesfully re-sent."
    assert body["id"] != original and body["status"] == "pending"
    assert body["source"] == f"re-emit:{original}"
    assert body["trigger"] == "core.st2.webhook" and body["parameters"] == {"url": "hello"}
    api_server.process()
    again = api_server.http.get(f"/api/v1/triggerinstances/{body['id']}").json()
    assert again["status"] == "processed" and again["payload"]["body"] == {"name": "st2"}
    [enforcement] = again["enforcements"]
    assert api_server.wait_final(enforcement["execution"])["status"] == "succeeded"
    assert [i["id"] for i in listed(api_server)[0]] == [body["id"], original]


def test_index_entries_past_the_retention_are_pruned(api_server: ApiServer) -> None:
    send(api_server, "core.st2.generic.notifytrigger", {})
    api_server.process()
    api_server.redis.zadd(keys.TRIGGER_INSTANCES_ALL, {"ancient": 1})

    dropped = TriggerInstanceStore(api_server.redis, ttl=api_server.settings.execution_ttl).prune_all()

    assert dropped == 1
    assert listed(api_server)[1] == 1


# -- sensor types, webhooks -------------------------------------------------------------------------


def test_sensor_types(api_server: ApiServer) -> None:
    response = api_server.http.get("/api/v1/sensortypes")
    listed = api_server.http.get("/api/v1/sensortypes", params={"include_attributes": "ref,pack,description,enabled"})

    assert response.status_code == 200, response.text
    assert {s["ref"]: s for s in listed.json()}["examples.QueueDepthSensor"] == {
        "id": "examples.QueueDepthSensor",
        "ref": "examples.QueueDepthSensor",
        "pack": "examples",
        "description": "Polls a queue and emits when it is too deep",
        "enabled": True,
    }
    sensor = {s["ref"]: s for s in response.json()}["examples.QueueDepthSensor"]
    assert sensor["uid"] == "sensor_type:examples:QueueDepthSensor"
    assert sensor["enabled"] is True and sensor["entry_point"] == "queue_depth.py"
    assert sensor["trigger_types"] == ["examples.queue_depth_high"]
    assert api_server.http.get("/api/v1/sensortypes/examples.QueueDepthSensor").json() == sensor
    assert fault(api_server.http.get("/api/v1/sensortypes/x.y"), 404).startswith("SensorType x.y not found")


def test_webhooks_lists_the_urls_enabled_rules_listen_to(api_server: ApiServer) -> None:
    response = api_server.http.get("/api/v1/webhooks", params={"include_attributes": "url,type,description"})

    assert response.status_code == 200, response.text
    urls = {w["parameters"]["url"]: w for w in response.json()}
    assert {"hello", "team/alerts/critical"} <= set(urls) and "switched-off" not in urls
    assert urls["hello"]["type"] == "core.st2.webhook" and urls["hello"]["pack"] == "core"
    assert api_server.http.get("/api/v1/webhooks/team/alerts/critical").json() == urls["team/alerts/critical"]
    assert fault(api_server.http.get("/api/v1/webhooks/switched-off"), 404).startswith("Webhook switched-off")
