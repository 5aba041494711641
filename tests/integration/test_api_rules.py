"""``/api/v1/rules`` against a real server and Redis: CRUD in StackStorm's shapes, every bad input, and rules
created, disabled and deleted through the API reaching a running rules engine."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from conftest import ApiServer, fault, wait_for

from st2lite import keys
from st2lite.audit import AuditLog
from st2lite.permissions import Role
from st2lite.registration import register_from_disk

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

#: What ``st2 rule create rule.yaml`` sends (the contract's sample rule, on a url of its own).
SAMPLE: dict[str, Any] = {
    "name": "sample_rule",
    "pack": "examples",
    "description": "Sample rule firing on a webhook.",
    "enabled": True,
    "trigger": {"type": "core.st2.webhook", "parameters": {"url": "sample"}},
    "criteria": {"trigger.body.name": {"type": "equals", "pattern": "st2"}},
    "action": {"ref": "core.local", "parameters": {"cmd": "echo {{ trigger.body.name }}"}},
}


def create(api: ApiServer, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = api.http.post("/api/v1/rules", json=body or SAMPLE)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def rule_events(api: ApiServer, ref: str) -> list[dict[str, Any]]:
    return [e.model_dump(exclude_none=True) for e in AuditLog(api.redis, maxlen=1000).read() if e.rule == ref]


# -- create, get, list --------------------------------------------------------------------------------


def test_create_answers_201_with_the_stored_rule_in_stackstorm_shape(api_server: ApiServer) -> None:
    created = create(api_server)

    assert created == {
        "id": "examples.sample_rule",
        "uid": "rule:examples:sample_rule",
        "ref": "examples.sample_rule",
        "name": "sample_rule",
        "pack": "examples",
        "description": "Sample rule firing on a webhook.",
        "enabled": True,
        "type": {"ref": "standard", "parameters": {}},
        "trigger": {
            "type": "core.st2.webhook",
            "ref": "core.st2.webhook",
            "parameters": {"url": "sample"},
            "description": "",
        },
        "criteria": {"trigger.body.name": {"type": "equals", "pattern": "st2"}},
        "action": {"ref": "core.local", "parameters": {"cmd": "echo {{ trigger.body.name }}"}, "description": ""},
        "tags": [],
        "context": {"user": "st2admin"},
        "metadata_file": "",
        "last_fired": None,
    }
    assert api_server.http.get("/api/v1/rules/examples.sample_rule").json() == created
    [event] = rule_events(api_server, "examples.sample_rule")
    assert (event["kind"], event["actor"]) == ("rule.created", f"api:st2admin (api key {api_server.admin_key_id})")
    # the webhook url the new rule listens to exists for the API within its refresh interval
    wait_for(
        lambda: api_server.http.get("/api/v1/webhooks/sample").status_code == 200,
        "the API to see the new rule's webhook",
    )


def test_list_filters_and_counts(api_server: ApiServer) -> None:
    create(api_server)
    create(api_server, {**SAMPLE, "name": "off", "enabled": False, "action": {"ref": "core.noop"}})

    def refs(**params: Any) -> tuple[list[str], int]:
        response = api_server.http.get("/api/v1/rules/", params=params)  # the st2 client's trailing slash
        assert response.status_code == 200, response.text
        return [r["ref"] for r in response.json()], int(response.headers["X-Total-Count"])

    every, total = refs()
    assert "examples.sample_rule" in every and "default.hello" in every and total == len(every)
    disabled, count = refs(pack="examples", enabled="False")
    assert "examples.off" in disabled and count == len(disabled)
    enabled, _count = refs(pack="examples", enabled="true")
    assert "examples.sample_rule" in enabled and sorted(enabled + disabled) == refs(pack="examples")[0]
    assert refs(action="core.noop", pack="examples") == (["examples.off"], 1)
    assert "default.hello" in refs(trigger="core.st2.webhook")[0]
    assert refs(trigger="core.st2.IntervalTimer")[0] == []
    first, total = refs(pack="examples", limit=1, offset=1)
    assert len(first) == 1 and total == len(refs(pack="examples")[0])

    iftt = api_server.http.get(
        "/api/v1/rules/", params={"include_attributes": "ref,trigger.ref,action.ref,enabled", "limit": 50}
    ).json()
    sample = next(r for r in iftt if r["ref"] == "examples.sample_rule")
    assert sample == {
        "id": "examples.sample_rule",
        "ref": "examples.sample_rule",
        "trigger": {"ref": "core.st2.webhook"},
        "action": {"ref": "core.local"},
        "enabled": True,
    }

    assert fault(api_server.http.get("/api/v1/rules", params={"enabled": "maybe"}), 400) == (
        "enabled must be True or False, got 'maybe'"
    )
    assert fault(api_server.http.get("/api/v1/rules", params={"limit": 0}), 400) == (
        "limit must be a positive number, or -1 for all"
    )


def test_get_unknown_rule_is_404(api_server: ApiServer) -> None:
    assert fault(api_server.http.get("/api/v1/rules/examples.nope"), 404) == (
        'Rule "examples.nope" is not found; list the rules with GET /api/v1/rules'
    )


# -- bad input ----------------------------------------------------------------------------------------


def _without(key: str) -> dict[str, Any]:
    return {k: v for k, v in SAMPLE.items() if k != key}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {**SAMPLE, "criteria": {"trigger.body.name": {"type": "equalz", "pattern": "st2"}}},
            "invalid rule: field 'criteria.trigger.body.name': unknown operator 'equalz'",
        ),
        (
            {**SAMPLE, "action": {"ref": "core.lcal", "parameters": {}}},
            "invalid rule: field 'action.ref': unknown action 'core.lcal'; did you mean 'core.local'?",
        ),
        (_without("trigger"), "invalid rule: field 'trigger': required field is missing; add it"),
        (
            {**SAMPLE, "trigger": {"type": "core.st2.webhook", "parameters": {}}},
            "invalid rule: field 'trigger.parameters': 'url' is a required property",
        ),
        (
            {**SAMPLE, "trigger": {"type": "core.st2.webhok", "parameters": {"url": "x"}}},
            "invalid rule: field 'trigger.type': unknown trigger type 'core.st2.webhok'; "
            "did you mean 'core.st2.webhook'?",
        ),
        (
            {**SAMPLE, "action": {"ref": "core.local", "parameters": {"cmdd": "x"}}},
            "invalid rule: field 'action.parameters.cmdd': action 'core.local' has no parameter 'cmdd'; "
            "did you mean 'cmd'?",
        ),
        ({**SAMPLE, "enabeld": True}, "invalid rule: field 'enabeld': unknown field; did you mean 'enabled'?"),
        ({**SAMPLE, "enabled": "sometimes"}, "invalid rule: field 'enabled': must be true or false, not a string"),
        ({**SAMPLE, "pack": "Examples"}, "invalid rule: field 'pack': 'Examples' is not a valid pack name"),
        (_without("name"), "invalid rule: field 'name': required field is missing; add it"),
        (
            {**_without("action"), "criteria": {}},
            "invalid rule: field 'action': required field is missing; add it",
        ),
    ],
    ids=[
        "operator",
        "unknown-action",
        "missing-trigger",
        "trigger-parameters",
        "unknown-trigger-type",
        "action-parameter",
        "unknown-field",
        "enabled-type",
        "pack-name",
        "missing-name",
        "missing-action",
    ],
)
def test_invalid_rule_is_400_naming_the_field_and_nothing_is_stored(
    api_server: ApiServer, body: dict[str, Any], message: str
) -> None:
    create(api_server, {**SAMPLE, "name": "kept"})
    version = api_server.redis.get(keys.REGISTRY_VERSION)

    response = api_server.http.post("/api/v1/rules", json=body)

    assert fault(response, 400).startswith(message), response.text
    assert api_server.redis.get(keys.REGISTRY_VERSION) == version
    assert api_server.redis.hkeys(keys.REGISTRY_RULE_CHANGES) == ["examples.kept"]
    assert api_server.http.get("/api/v1/rules/examples.kept").status_code == 200


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"name": "x",', "invalid request: body: not valid JSON ("),
        (b"[1, 2]", "invalid request: body: Input should be a valid dictionary"),
        (b"", "invalid request: body: Field required"),
    ],
    ids=["malformed", "not-an-object", "empty"],
)
def test_a_body_that_is_no_json_object_is_422_naming_the_problem(
    api_server: ApiServer, content: bytes, message: str
) -> None:
    response = api_server.http.post("/api/v1/rules", content=content, headers={"content-type": "application/json"})

    assert fault(response, 422).startswith(message), response.text
    assert api_server.redis.hlen(keys.REGISTRY_RULE_CHANGES) == 0


def test_a_rule_posted_twice_is_409_with_the_conflict_id(api_server: ApiServer) -> None:
    first = create(api_server)

    again = api_server.http.post("/api/v1/rules", json={**SAMPLE, "description": "changed"})
    file_rule = api_server.http.post("/api/v1/rules", json={**SAMPLE, "pack": "default", "name": "hello"})

    assert again.status_code == 409, again.text
    assert again.json() == {
        "faultstring": 'Rule "examples.sample_rule" already exists; change it with PUT '
        "/api/v1/rules/examples.sample_rule or delete it first",
        "conflict-id": "examples.sample_rule",
    }
    assert file_rule.status_code == 409 and file_rule.json()["conflict-id"] == "default.hello"
    assert api_server.http.get("/api/v1/rules/examples.sample_rule").json() == first  # unchanged


# -- change and delete -------------------------------------------------------------------------------


def test_put_takes_back_the_whole_object_get_returns(api_server: ApiServer) -> None:
    create(api_server)
    fetched = api_server.http.get("/api/v1/rules/examples.sample_rule").json()
    # what `st2 rule disable` sends: the GET answer without "ref", enabled flipped, PUT by id
    body = {k: v for k, v in copy.deepcopy(fetched).items() if k != "ref"}
    body["enabled"] = False
    body["context"] = {"user": "mallory"}  # read-only: ignored

    response = api_server.http.put(f"/api/v1/rules/{fetched['id']}", json=body)

    assert response.status_code == 200, response.text
    assert response.json() == {**fetched, "enabled": False}
    assert api_server.http.get("/api/v1/rules/examples.sample_rule").json()["enabled"] is False
    changed = api_server.http.put(
        "/api/v1/rules/examples.sample_rule", json={**body, "criteria": {}, "description": "every body"}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["criteria"], changed.json()["description"]) == ({}, "every body")
    assert [e["kind"] for e in rule_events(api_server, "examples.sample_rule")] == [
        "rule.created",
        "rule.updated",
        "rule.updated",
    ]


def test_put_errors(api_server: ApiServer) -> None:
    create(api_server)
    fetched = api_server.http.get("/api/v1/rules/examples.sample_rule").json()

    renamed = api_server.http.put("/api/v1/rules/examples.sample_rule", json={**fetched, "name": "other"})
    invalid = api_server.http.put(
        "/api/v1/rules/examples.sample_rule", json={**fetched, "action": {"ref": "core.nope"}}
    )
    unknown = api_server.http.put("/api/v1/rules/examples.nope", json=fetched)

    assert fault(renamed, 400).startswith(
        "the body names rule 'examples.other' but the URL names 'examples.sample_rule'; a rule cannot be renamed"
    )
    assert fault(invalid, 400).startswith("invalid rule: field 'action.ref': unknown action 'core.nope'")
    assert fault(unknown, 404).startswith('Rule "examples.nope" is not found')
    assert api_server.http.get("/api/v1/rules/examples.sample_rule").json() == fetched


def reregister_and_wait(api: ApiServer) -> None:
    """Register the packs again, with one rule more, and wait until the API shows that rule (it has reloaded)."""
    marker = api.settings.site_dir / "rules" / "marker.yaml"
    marker.write_text(
        "name: marker\ntrigger:\n  type: core.st2.webhook\n  parameters:\n    url: m\naction:\n  ref: core.noop\n"
    )
    try:
        register_from_disk(api.settings, api.redis, [], actor="test")
        wait_for(
            lambda: api.http.get("/api/v1/rules/default.marker").status_code == 200, "the API to reload the registry"
        )
    finally:
        marker.unlink()


def test_a_file_rule_can_be_switched_off_and_on_and_the_switch_survives_registration(api_server: ApiServer) -> None:
    fetched = api_server.http.get("/api/v1/rules/default.hello").json()
    assert fetched["enabled"] is True and fetched["metadata_file"] == "rules/hello.yaml"

    off = api_server.http.put("/api/v1/rules/default.hello", json={**fetched, "enabled": False})
    edited = api_server.http.put("/api/v1/rules/default.hello", json={**fetched, "criteria": {}})
    deleted = api_server.http.delete("/api/v1/rules/default.hello")

    assert off.status_code == 200, off.text
    assert off.json() == {**fetched, "enabled": False}
    assert fault(edited, 409).startswith(
        "rule 'default.hello' is defined by the file rules/hello.yaml of pack 'default'; only 'enabled' can be "
        "changed through the API, not 'criteria'"
    )
    assert fault(deleted, 409).startswith("rule 'default.hello' is defined by the file rules/hello.yaml")
    reregister_and_wait(api_server)  # `st2lite pack register` again
    assert api_server.http.get("/api/v1/rules/default.hello").json()["enabled"] is False
    assert api_server.http.get("/api/v1/webhooks/hello").status_code == 404  # no enabled rule listens any more

    on = api_server.http.put("/api/v1/rules/default.hello", json={**fetched, "enabled": True})

    assert on.status_code == 200 and on.json() == fetched
    assert api_server.redis.hlen(keys.REGISTRY_RULE_CHANGES) == 0  # back to its file: no override left


def test_an_api_rule_survives_registration_until_a_file_defines_its_ref(api_server: ApiServer, tmp_path: Any) -> None:
    created = create(api_server, {**SAMPLE, "pack": "default", "name": "from_api"})
    register_from_disk(api_server.settings, api_server.redis, [], actor="test")
    assert api_server.http.get("/api/v1/rules/default.from_api").json() == created

    rule_file = api_server.settings.site_dir / "rules" / "from_api.yaml"
    rule_file.write_text(
        "name: from_api\nenabled: false\ntrigger:\n  type: core.st2.webhook\n  parameters:\n    url: file\n"
        "action:\n  ref: core.noop\n"
    )
    try:
        register_from_disk(api_server.settings, api_server.redis, [], actor="test")
        wait_for(
            lambda: api_server.http.get("/api/v1/rules/default.from_api").json()["metadata_file"],
            "the API to load the registration",
        )
        now = api_server.http.get("/api/v1/rules/default.from_api").json()
        assert (now["enabled"], now["metadata_file"], now["trigger"]["parameters"]) == (
            False,
            "rules/from_api.yaml",
            {"url": "file"},
        )  # the file wins
        assert api_server.redis.hlen(keys.REGISTRY_RULE_CHANGES) == 0
    finally:
        rule_file.unlink()


def test_delete_answers_204_and_the_rule_is_gone(api_server: ApiServer) -> None:
    create(api_server)

    response = api_server.http.delete("/api/v1/rules/examples.sample_rule")
    again = api_server.http.delete("/api/v1/rules/examples.sample_rule")

    assert response.status_code == 204 and response.content == b""
    assert fault(api_server.http.get("/api/v1/rules/examples.sample_rule"), 404)
    assert fault(again, 404).startswith('Rule "examples.sample_rule" is not found')
    assert [e["kind"] for e in rule_events(api_server, "examples.sample_rule")] == ["rule.created", "rule.deleted"]
    recreated = create(api_server)  # the ref is free again
    assert recreated["ref"] == "examples.sample_rule"


def test_stored_changes_are_json_an_operator_can_read(api_server: ApiServer) -> None:
    create(api_server)

    stored = orjson.loads(api_server.redis.hget(keys.REGISTRY_RULE_CHANGES, "examples.sample_rule") or b"{}")

    assert stored["actor"] == f"api:st2admin (api key {api_server.admin_key_id})"
    assert stored["rule"]["trigger"] == {"type": "core.st2.webhook", "parameters": {"url": "sample"}, "description": ""}
    assert "id" not in stored["rule"] and "uid" not in stored["rule"]


# -- the running rules engine -------------------------------------------------------------------------

# -- last fired, enable toggle (the dashboard) ----------------------------------------------------------


def test_last_fired_is_the_time_of_the_newest_enforcement(api_server: ApiServer) -> None:
    def last_fired() -> tuple[Any, Any]:
        listed = {r["ref"]: r["last_fired"] for r in api_server.http.get("/api/v1/rules").json()}
        one = api_server.http.get("/api/v1/rules/default.hello").json()["last_fired"]
        return listed["default.hello"], one

    assert last_fired() == (None, None)
    for _ in range(2):
        assert api_server.http.post("/api/v1/webhooks/hello", json={"name": "st2"}).status_code == 202
    api_server.process()

    newest = api_server.http.get("/api/v1/ruleenforcements", params={"rule_ref": "default.hello"}).json()[0]
    listed, one = last_fired()
    assert listed == one is not None
    apart = abs(
        datetime.fromisoformat(one.replace("Z", "+00:00"))
        - datetime.fromisoformat(newest["enforced_at"].replace("Z", "+00:00"))
    )
    assert apart < timedelta(seconds=1)
    assert {r["ref"]: r["last_fired"] for r in api_server.http.get("/api/v1/rules").json()}["default.nested"] is None
    # the field is read-only: a PUT of the whole GET answer keeps working
    fetched = api_server.http.get("/api/v1/rules/default.hello").json()
    assert api_server.http.put("/api/v1/rules/default.hello", json={**fetched, "enabled": False}).status_code == 200


def test_the_enable_toggle_is_a_put_of_the_whole_rule_for_an_admin_only(api_server: ApiServer) -> None:
    fetched = api_server.http.get("/api/v1/rules/default.hello").json()
    flipped = {**fetched, "enabled": False}
    clients = {
        role: httpx.Client(base_url=api_server.url, headers={"St2-Api-Key": api_server.api_key(role.value, role)})
        for role in (Role.VIEWER, Role.OPERATOR)
    }

    viewer = clients[Role.VIEWER].put("/api/v1/rules/default.hello", json=flipped)
    operator = clients[Role.OPERATOR].put("/api/v1/rules/default.hello", json=flipped)
    admin = api_server.http.put("/api/v1/rules/default.hello", json=flipped)

    assert fault(viewer, 403) == (
        "viewer (role viewer) lacks the permission 'rule_modify'; ask an admin for a role that grants it (docs/auth.md)"
    )
    assert fault(operator, 403) == (
        "operator (role operator) lacks the permission 'rule_modify'; "
        "ask an admin for a role that grants it (docs/auth.md)"
    )
    assert admin.status_code == 200 and admin.json()["enabled"] is False
    assert api_server.http.get("/api/v1/rules/default.hello").json()["enabled"] is False
    back = api_server.http.put("/api/v1/rules/default.hello", json=fetched)
    assert back.status_code == 200 and back.json()["enabled"] is True


def test_a_rule_created_through_the_api_fires_and_stops_when_disabled_or_deleted(live_api: ApiServer) -> None:
    body = {
        **SAMPLE,
        "name": "live_rule",
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": "live-rule"}},
        "action": {"ref": "core.local", "parameters": {"cmd": "echo from {{ trigger.body.name }}"}},
    }
    created = live_api.http.post("/api/v1/rules", json=body)
    assert created.status_code == 201, created.text

    def post() -> Any:
        response = live_api.http.post("/api/v1/webhooks/live-rule", json={"name": "st2"}, params={"wait": 10})
        return response if response.status_code == 200 else None

    fired = wait_for(post, "the API to accept the new rule's webhook").json()
    assert fired["complete"] is True, fired
    [execution] = fired["executions"]
    assert execution["rule"] == "examples.live_rule"
    assert execution["status"] == "succeeded" and execution["result"]["stdout"].strip() == "from st2"

    rule = live_api.http.get("/api/v1/rules/examples.live_rule").json()
    off = live_api.http.put(f"/api/v1/rules/{rule['id']}", json={**rule, "enabled": False})
    assert off.status_code == 200, off.text
    wait_for(
        lambda: live_api.http.post("/api/v1/webhooks/live-rule", json={"name": "st2"}).status_code == 404,
        "the disabled rule's webhook to be gone",
    )
    engine_sees = live_api.http.post(
        "/api/v1/webhooks/st2",
        json={"trigger": "core.st2.webhook", "payload": {"body": {"name": "st2"}}},
    )
    assert engine_sees.status_code == 202, engine_sees.text
    instance = engine_sees.json()["id"]
    processed = wait_for(
        lambda: (r := live_api.http.get(f"/api/v1/triggerinstances/{instance}")).status_code == 200 and r.json(),
        "the rules engine to process the instance",
    )
    assert all(e["rule"] != "examples.live_rule" for e in processed.get("enforcements", []))

    on = live_api.http.put(f"/api/v1/rules/{rule['id']}", json={**rule, "enabled": True})
    assert on.status_code == 200
    wait_for(post, "the re-enabled rule to fire again")
    assert live_api.http.delete("/api/v1/rules/examples.live_rule").status_code == 204
    wait_for(
        lambda: live_api.http.post("/api/v1/webhooks/live-rule", json={"name": "st2"}).status_code == 404,
        "the deleted rule's webhook to be gone",
    )
