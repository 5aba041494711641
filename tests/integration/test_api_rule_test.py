"""``POST /api/v1/rules/{ref}/test`` against a real server and Redis: verdicts with a reason per criterion,
stored trigger instances, the real datastore with secrets masked, permissions, and every bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ApiServer, fault

from st2lite.encryption import generate_key_file
from st2lite.permissions import Role

pytestmark = pytest.mark.redis

SECRET = "hunter2-plaintext"

#: A rule whose criteria and parameters read the datastore, one of them a secret (rule ``examples.kv_rule``).
KV_RULE: dict[str, Any] = {
    "name": "kv_rule",
    "pack": "examples",
    "enabled": True,
    "trigger": {"type": "core.st2.webhook", "parameters": {"url": "kv-rule"}},
    "criteria": {
        "trigger.body.env": {"type": "equals", "pattern": "{{ st2kv.system.env }}"},
        "trigger.body.count": {"type": "greaterthan", "pattern": 2},
    },
    "action": {
        "ref": "default.login",
        "parameters": {
            "user": "{{ trigger.body.user }}",
            "password": "{{ st2kv.system.pw | decrypt_kv }}",
        },
    },
}


def try_rule(api: ApiServer, ref: str, body: Any, client: httpx.Client | None = None) -> httpx.Response:
    return (client or api.http).post(f"/api/v1/rules/{ref}/test", json=body)


def verdict(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_matching_payload_gives_every_criterion_and_the_rendered_action(api_server: ApiServer) -> None:
    found = verdict(try_rule(api_server, "default.hello", {"payload": {"body": {"name": "st2"}}}))

    assert found == {
        "matched": True,
        "rule": "default.hello",
        "trigger": "core.st2.webhook",
        "reason": "all 1 criteria passed",
        "criteria": [
            {
                "key": "trigger.body.name",
                "operator": "equals",
                "pattern": "st2",
                "value": "st2",
                "passed": True,
                "error": None,
                "reason": "trigger.body.name is 'st2', which equals 'st2'",
            }
        ],
        "action": found["action"],
    }
    assert found["action"]["ref"] == "core.local"
    # rendered, cast and with the runner's defaults, as for a real run
    assert found["action"]["parameters"]["cmd"] == """echo 'hello from st2: {"name": "st2"}'"""
    assert found["action"]["parameters"]["sudo"] is False
    # nothing ran, nothing was stored
    assert api_server.execution_ids() == [] and api_server.trigger_stream() == []


def test_a_failing_criterion_says_why(api_server: ApiServer) -> None:
    failed = verdict(try_rule(api_server, "default.hello", {"payload": {"body": {"name": "failed"}}}))
    missing = verdict(try_rule(api_server, "default.hello", {"payload": {"body": {}}}))

    assert (failed["matched"], failed["reason"]) == (False, "1 of 1 criteria failed")
    assert failed["criteria"][0]["reason"] == "trigger.body.name is 'failed', which does not equal 'st2'"
    assert failed["action"] == {"ref": "core.local", "parameters": None}
    assert missing["criteria"][0]["reason"] == "trigger.body.name is missing from the payload"
    assert missing["criteria"][0]["passed"] is False


def test_another_trigger_type_never_matches(api_server: ApiServer) -> None:
    found = verdict(
        try_rule(
            api_server, "default.hello", {"trigger": "core.st2.IntervalTimer", "payload": {"body": {"name": "st2"}}}
        )
    )

    assert (found["matched"], found["trigger"]) == (False, "core.st2.IntervalTimer")
    assert found["reason"] == "the rule listens to core.st2.webhook, not core.st2.IntervalTimer"
    assert found["criteria"][0]["passed"] is True


def test_a_stored_trigger_instance_is_tested_with_its_type_and_payload(api_server: ApiServer) -> None:
    sent = api_server.http.post("/api/v1/webhooks/hello", json={"name": "st2"})
    assert sent.status_code == 202, sent.text
    api_server.process()

    found = verdict(try_rule(api_server, "default.hello", {"trigger_instance": sent.json()["id"]}))
    other = verdict(try_rule(api_server, "default.nested", {"trigger_instance": sent.json()["id"]}))

    assert (found["matched"], found["trigger"]) == (True, "core.st2.webhook")
    assert found["criteria"][0]["value"] == "st2"
    assert (other["matched"], other["reason"]) == (True, "the rule has no criteria")


@pytest.fixture
def key_file(api_server: ApiServer) -> Iterator[Path]:
    path = generate_key_file(api_server.settings.datastore_key_path, force=True)
    yield path
    path.unlink()


@pytest.mark.usefixtures("key_file")
def test_the_datastore_is_read_and_secrets_stay_masked_even_for_a_viewer(api_server: ApiServer) -> None:
    for name, value, secret in (("env", "prod", False), ("pw", SECRET, True)):
        put = api_server.http.put(
            f"/api/v1/keys/{name}", json={"name": name, "scope": "system", "value": value, "secret": secret}
        )
        assert put.status_code == 200, put.text
    created = api_server.http.post("/api/v1/rules", json=KV_RULE)
    assert created.status_code == 201, created.text
    echo = {
        **KV_RULE,
        "name": "kv_echo",
        "action": {"ref": "core.local", "parameters": {"cmd": "echo {{ st2kv.system.pw | decrypt_kv }}"}},
    }
    assert api_server.http.post("/api/v1/rules", json=echo).status_code == 201
    viewer = httpx.Client(base_url=api_server.url, headers={"St2-Api-Key": api_server.api_key("vera", Role.VIEWER)})
    payload = {"payload": {"body": {"env": "prod", "count": 3, "user": "ann"}}}

    found = verdict(try_rule(api_server, "examples.kv_rule", payload, viewer))
    echoed = verdict(try_rule(api_server, "examples.kv_echo", payload, viewer))
    low = verdict(try_rule(api_server, "examples.kv_rule", {"payload": {"body": {"env": "dev", "count": 1}}}, viewer))

    assert found["matched"] is True, found
    params = found["action"]["parameters"]
    assert (params["user"], params["password"]) == ("ann", "********")
    assert echoed["action"]["parameters"]["cmd"] == "echo ********"
    assert [c["reason"] for c in low["criteria"]] == [
        "trigger.body.env is 'dev', which does not equal 'prod'",
        "trigger.body.count is 1, which is not greater than 2",
    ]
    assert SECRET not in str([found, echoed, low])


def test_a_parameter_that_cannot_render_is_a_render_error(api_server: ApiServer) -> None:
    rule = {**KV_RULE, "name": "broken", "criteria": {}}
    rule["action"] = {"ref": "core.local", "parameters": {"cmd": "{{ trigger.body.nope.deeper }}"}}
    assert api_server.http.post("/api/v1/rules", json=rule).status_code == 201

    found = verdict(try_rule(api_server, "examples.broken", {"payload": {"body": {}}}))

    assert found["matched"] is True and found["action"]["parameters"] is None
    assert "parameter 'cmd' could not be rendered" in found["render_error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"payload": [1, 2]}, "payload must be a JSON object (the trigger payload), got list [1, 2]"),
        ({"payload": "text"}, "payload must be a JSON object (the trigger payload), got str 'text'"),
        ({}, 'give the payload to test the rule against: {"payload": {...}}, or a stored trigger instance'),
        ({"trigger": 5, "payload": {}}, "trigger must be a trigger type ref such as core.st2.webhook, got int 5"),
        (
            {"trigger_instance": "x", "payload": {}},
            "give either trigger_instance (a stored instance's id) or payload (and trigger), not both",
        ),
        ({"trigger_instance": 7}, "trigger_instance must be a trigger instance id, got int 7"),
    ],
)
def test_bad_bodies_are_400_saying_what_to_send(api_server: ApiServer, body: Any, message: str) -> None:
    assert fault(try_rule(api_server, "default.hello", body), 400).startswith(message)


def test_an_unknown_field_is_422_naming_it(api_server: ApiServer) -> None:
    message = fault(try_rule(api_server, "default.hello", {"payload": {}, "paylod": {}}), 422)
    assert message == "invalid request: paylod: Extra inputs are not permitted"


def test_an_unknown_rule_or_trigger_instance_is_404(api_server: ApiServer) -> None:
    rule = fault(try_rule(api_server, "default.nope", {"payload": {}}), 404)
    instance = fault(try_rule(api_server, "default.hello", {"trigger_instance": "6650f0c2a1b2c3d4e5f60a01"}), 404)

    assert rule.startswith('Rule "default.nope" is not found')
    assert "6650f0c2a1b2c3d4e5f60a01" in instance


def test_needs_credentials(api_server: ApiServer) -> None:
    anonymous = httpx.post(f"{api_server.url}/api/v1/rules/default.hello/test", json={"payload": {}})
    assert anonymous.status_code == 401
