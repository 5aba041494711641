"""``POST /api/v1/webhooks/{url}`` and ``/api/v1/webhooks/st2`` against a real uvicorn server and Redis."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from conftest import MAX_PAYLOAD, ApiServer, fault

from st2lite import keys
from st2lite.bus.redis import FIELD

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

AUTH_HEADERS = {
    "X-Auth-Token": "token-abc",
    "St2-Api-Key": "key-abc",
    "Cookie": "auth-token=token-abc",
    "Authorization": "Bearer token-abc",
}


def stored_instances(api: ApiServer) -> list[dict[str, Any]]:
    """The trigger instances on the bus, oldest first, as the rules engine will read them."""
    return [orjson.loads(fields[FIELD]) for _id, fields in api.redis.xrange(keys.TRIGGER_STREAM)]


def accept(api: ApiServer, url: str = "hello", body: Any = None) -> dict[str, Any]:
    """POST a webhook that must be accepted; returns the 202 body."""
    response = api.http.post(f"/api/v1/webhooks/{url}", json={"name": "first"} if body is None else body)
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


# -- accepted webhooks ------------------------------------------------------------------------------


def test_a_registered_url_answers_202_with_the_trigger_instance(api_server: ApiServer) -> None:
    response = api_server.http.post("/api/v1/webhooks/hello", json={"name": "st2", "n": [1, 2]})

    assert response.status_code == 202
    accepted = response.json()
    assert isinstance(accepted["id"], str) and accepted["id"]
    assert accepted["trigger"] == "core.st2.webhook"
    assert accepted["parameters"] == {"url": "hello"}
    assert accepted["trigger_instances"] == [accepted["id"]]
    [stored] = stored_instances(api_server)
    assert stored["id"] == accepted["id"]
    assert stored["trigger"] == "core.st2.webhook"
    assert stored["parameters"] == {"url": "hello"}
    assert stored["payload"]["body"] == {"name": "st2", "n": [1, 2]}


def test_the_payload_has_headers_headers_lower_and_body_without_auth_headers(api_server: ApiServer) -> None:
    # Invalid credentials first, then the valid key: the request is let in on the key.
    headers = {**AUTH_HEADERS, "St2-Api-Key": api_server.admin_key, "X-GitHub-Event": "push"}
    headers["content-type"] = "application/json"
    response = api_server.http.post("/api/v1/webhooks/hello", content=b'{"ref": "main"}', headers=headers)

    assert response.status_code == 202, response.text
    payload = response.json()["payload"]
    assert set(payload) == {"headers", "headers_lower", "body"}
    assert payload["body"] == {"ref": "main"}
    assert payload["headers"]["X-Github-Event"] == "push"
    assert payload["headers"]["Content-Type"] == "application/json"
    assert payload["headers_lower"]["x-github-event"] == "push"
    assert payload["headers_lower"]["content-type"] == "application/json"
    assert all(k == k.lower() for k in payload["headers_lower"])
    hidden = {h.lower() for h in AUTH_HEADERS}
    for name in (*payload["headers"], *payload["headers_lower"]):
        assert name.lower() not in hidden, f"auth header {name} leaked into the payload"
    assert "token-abc" not in response.text and api_server.admin_key not in response.text
    [stored] = stored_instances(api_server)
    assert stored["payload"] == payload


def test_a_json_array_body_and_an_empty_body_are_accepted(api_server: ApiServer) -> None:
    array = api_server.http.post("/api/v1/webhooks/hello", json=[{"name": "st2"}, 2])
    empty = api_server.http.post("/api/v1/webhooks/hello", content=b"")

    assert array.status_code == 202, array.text
    assert array.json()["payload"]["body"] == [{"name": "st2"}, 2]
    assert empty.status_code == 202, empty.text
    assert empty.json()["payload"]["body"] == {}
    assert [i["id"] for i in stored_instances(api_server)] == [array.json()["id"], empty.json()["id"]]


def test_the_st2_trace_tag_header_becomes_the_trace_tag_and_is_not_copied(api_server: ApiServer) -> None:
    tagged = api_server.http.post("/api/v1/webhooks/hello", json={}, headers={"St2-Trace-Tag": "deploy-42"})
    untagged = accept(api_server)

    assert tagged.status_code == 202, tagged.text
    assert tagged.json()["trace_tag"] == "deploy-42"
    assert "st2-trace-tag" not in tagged.json()["payload"]["headers_lower"]
    assert "St2-Trace-Tag" not in tagged.json()["payload"]["headers"]
    assert untagged["trace_tag"] == "webhook-hello"
    assert [i["trace_tag"] for i in stored_instances(api_server)] == ["deploy-42", "webhook-hello"]


@pytest.mark.parametrize("path", ["team/alerts/critical", "team/alerts/critical/"])
def test_a_url_with_slashes_reaches_its_rule(api_server: ApiServer, path: str) -> None:
    accepted = accept(api_server, path, {"severity": "high"})

    assert accepted["parameters"] == {"url": "team/alerts/critical"}
    assert accepted["payload"]["body"] == {"severity": "high"}
    assert [i["id"] for i in stored_instances(api_server)] == [accepted["id"]]


# -- rejected webhooks: exact message, nothing accepted is lost -------------------------------------


def assert_only(api: ApiServer, accepted: dict[str, Any]) -> None:
    """The bus holds exactly the one instance accepted before, unchanged."""
    stored = stored_instances(api)
    assert [i["id"] for i in stored] == [accepted["id"]]
    assert stored[0]["payload"] == accepted["payload"]


def test_an_unknown_url_is_404_and_dispatches_nothing(api_server: ApiServer) -> None:
    before = accept(api_server)

    response = api_server.http.post("/api/v1/webhooks/nope/deeper", json={"name": "st2"})

    assert fault(response, 404) == (
        "Webhook nope/deeper not registered with st2lite; register a rule on core.st2.webhook with url 'nope/deeper'"
    )
    assert_only(api_server, before)


def test_a_url_only_a_disabled_rule_listens_to_is_404(api_server: ApiServer) -> None:
    before = accept(api_server)

    response = api_server.http.post("/api/v1/webhooks/switched-off", json={})

    assert fault(response, 404) == (
        "Webhook switched-off not registered with st2lite; register a rule on core.st2.webhook with url 'switched-off'"
    )
    assert_only(api_server, before)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            b"{not json",
            "request body is not valid JSON: unexpected character, expected a string key: "
            "line 1 column 2 (char 1); send a JSON object or array (or a form)",
        ),
        (b"5", "request body must be a JSON object or array"),
        (b'"just a string"', "request body must be a JSON object or array"),
        (b"null", "request body must be a JSON object or array"),
    ],
    ids=["not-json", "number", "string", "null"],
)
def test_a_body_that_is_not_a_json_object_or_array_is_400(api_server: ApiServer, raw: bytes, message: str) -> None:
    before = accept(api_server)

    response = api_server.http.post("/api/v1/webhooks/hello", content=raw, headers={"content-type": "application/json"})

    assert fault(response, 400) == message
    assert_only(api_server, before)


def test_a_body_over_max_payload_bytes_is_413(api_server: ApiServer) -> None:
    before = accept(api_server)
    raw = orjson.dumps({"name": "x" * MAX_PAYLOAD})

    response = api_server.http.post("/api/v1/webhooks/hello", content=raw)

    assert fault(response, 413) == f"request body of {len(raw)} bytes is over the limit of {MAX_PAYLOAD} bytes"
    assert_only(api_server, before)


def test_a_chunked_body_over_max_payload_bytes_is_413(api_server: ApiServer) -> None:
    before = accept(api_server)
    chunks = [b'{"name": "', b"x" * MAX_PAYLOAD, b'"}']

    response = api_server.http.post("/api/v1/webhooks/hello", content=iter(chunks))

    assert "content-length" not in response.request.headers
    size = sum(len(c) for c in chunks)
    assert fault(response, 413) == f"request body of {size} bytes is over the limit of {MAX_PAYLOAD} bytes"
    assert_only(api_server, before)


def test_a_body_of_exactly_max_payload_bytes_is_accepted(api_server: ApiServer) -> None:
    raw = b'{"name": "' + b"x" * (MAX_PAYLOAD - 12) + b'"}'
    assert len(raw) == MAX_PAYLOAD

    response = api_server.http.post("/api/v1/webhooks/hello", content=raw)

    assert response.status_code == 202, response.text


# -- /webhooks/st2 ----------------------------------------------------------------------------------


def test_st2_dispatches_a_custom_trigger_type(api_server: ApiServer) -> None:
    payload = {"alerts": [{"severity": "critical", "host": "db1"}]}

    response = api_server.http.post(
        "/api/v1/webhooks/st2", json={"trigger": "examples.alert", "payload": payload, "trace_tag": "t-1"}
    )

    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["trigger"] == "examples.alert"
    assert accepted["payload"] == payload
    assert accepted["trace_tag"] == "t-1"
    assert accepted["trigger_instances"] == [accepted["id"]]
    [stored] = stored_instances(api_server)
    assert (stored["id"], stored["trigger"], stored["payload"]) == (accepted["id"], "examples.alert", payload)


def test_st2_prefers_the_trace_tag_header(api_server: ApiServer) -> None:
    response = api_server.http.post(
        "/api/v1/webhooks/st2",
        json={"trigger": "examples.alert", "payload": {}, "trace_tag": "from-body"},
        headers={"St2-Trace-Tag": "from-header"},
    )

    assert response.status_code == 202, response.text
    assert response.json()["trace_tag"] == "from-header"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"payload": {"alerts": []}}, "Trigger not specified."),
        ({"trigger": "", "payload": {}}, "Trigger not specified."),
        (
            {"trigger": "examples.alrt", "payload": {}},
            "trigger type 'examples.alrt' is not registered; register the pack that declares it "
            "('st2lite pack register') or check the spelling",
        ),
        (
            {"trigger": "examples.alert", "payload": ["not", "an", "object"]},
            "the payload of a trigger must be a JSON object, not an array",
        ),
        (
            {"trigger": "examples.alert", "payload": "text"},
            "the payload of a trigger must be a JSON object, not a string",
        ),
        (
            {"trigger": "examples.alert", "payload": {"alerts": "db1 is down"}},
            "payload does not match the schema of 'examples.alert' at alerts: 'db1 is down' is not of type 'array'",
        ),
        (
            {"trigger": "core.st2.webhook", "payload": {"body": "text"}},
            "payload does not match the schema of 'core.st2.webhook' at body: 'text' is not of type 'object', 'array'",
        ),
        (
            {"trigger": "examples.alert", "payload": {}, "triger": "x"},
            "invalid st2 webhook body: triger: Extra inputs are not permitted",
        ),
        (
            ["examples.alert"],
            'the body of the st2 webhook must be a JSON object {"trigger": ..., "payload": {...}}',
        ),
    ],
    ids=[
        "no-trigger",
        "empty-trigger",
        "unknown-trigger",
        "payload-array",
        "payload-string",
        "schema",
        "webhook-schema",
        "extra-key",
        "not-an-object",
    ],
)
def test_st2_rejects_bad_requests_with_400(api_server: ApiServer, body: Any, message: str) -> None:
    before = accept(api_server)

    response = api_server.http.post("/api/v1/webhooks/st2", json=body)

    assert fault(response, 400) == message
    assert_only(api_server, before)


def test_st2_over_max_payload_bytes_is_413(api_server: ApiServer) -> None:
    before = accept(api_server)
    raw = orjson.dumps({"trigger": "examples.alert", "payload": {"alerts": [{"text": "x" * MAX_PAYLOAD}]}})

    response = api_server.http.post("/api/v1/webhooks/st2", content=raw)

    assert fault(response, 413) == f"request body of {len(raw)} bytes is over the limit of {MAX_PAYLOAD} bytes"
    assert_only(api_server, before)


# -- through the pipeline ---------------------------------------------------------------------------


def test_a_matching_webhook_ends_in_a_succeeded_execution_and_a_non_matching_one_in_none(
    api_server: ApiServer,
) -> None:
    matching = api_server.http.post(
        "/api/v1/webhooks/hello", json={"name": "st2", "n": 1}, headers={"St2-Trace-Tag": "release-7"}
    ).json()
    other = accept(api_server, "hello", {"name": "bob"})

    api_server.process()

    listed = api_server.http.get("/api/v1/executions", params={"rule": "default.hello"})
    assert listed.headers["X-Total-Count"] == "1"
    [summary] = listed.json()
    execution = api_server.wait_final(summary["id"])
    assert execution["status"] == "succeeded", execution
    assert execution["result"]["stdout"] == 'hello from st2: {"name": "st2", "n": 1}'
    assert execution["parameters"]["cmd"] == """echo 'hello from st2: {"name": "st2", "n": 1}'"""
    assert execution["rule"] == {"ref": "default.hello", "name": "hello"}
    assert execution["trigger_instance"] == {"id": matching["id"]}
    assert execution["context"]["user"] == "stanley"
    assert execution["context"]["trace_context"] == {"trace_tag": "release-7"}
    # The non-matching instance was processed (recorded) but started nothing.
    record = orjson.loads(api_server.redis.get(keys.trigger_instance(other["id"])) or b"null")
    assert record is not None, "the non-matching trigger instance was not recorded"
    assert record["enforcements"] == []
    assert [e["id"] for e in api_server.http.get("/api/v1/executions").json()] == [summary["id"]]


def test_a_form_encoded_body_becomes_the_payload_body(api_server: ApiServer) -> None:
    response = api_server.http.post(
        "/api/v1/webhooks/hello",
        content=b"name=st2&tag=a&tag=b",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 202
    assert response.json()["payload"]["body"] == {"name": "st2", "tag": ["a", "b"]}


# -- the lean route -----------------------------------------------------------------------------------


def test_the_webhook_route_is_documented_and_a_bad_wait_is_400(api_server: ApiServer) -> None:
    spec = api_server.http.get("/openapi.json").json()
    post = spec["paths"]["/api/v1/webhooks/{url}"]["post"]
    assert [p["name"] for p in post["parameters"]] == ["url", "wait"]

    message = fault(api_server.http.post("/api/v1/webhooks/hello", json={}, params={"wait": "soon"}), 400)

    assert message == "invalid request: query.wait: Input should be a valid number, unable to parse string as a number"
    assert stored_instances(api_server) == []
