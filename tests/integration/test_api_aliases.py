"""Action aliases against a real API, Redis and burst workers: core.alias_execute, the routes, the notify path."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from conftest import ApiServer, fault

from st2lite import keys
from st2lite.audit import AuditKind, AuditLog
from st2lite.chains.conductor import ChainConductor
from st2lite.permissions import Role

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

NOTIFY = "core.st2.generic.notifytrigger"


def notifications(api: ApiServer) -> list[dict[str, Any]]:
    """The payloads of the notify trigger instances on the trigger stream, oldest first."""
    out = []
    for _id, fields in api.redis.xrange(keys.TRIGGER_STREAM):
        instance = orjson.loads(fields["t"])
        if instance["trigger"] == NOTIFY:
            out.append(instance["payload"])
    return out


def run(api: ApiServer, action: str, **parameters: Any) -> str:
    response = api.http.post("/api/v1/executions", json={"action": action, "parameters": parameters})
    assert response.status_code == 201, response.text
    execution_id: str = response.json()["id"]
    return execution_id


# -- core.alias_execute --------------------------------------------------------------------------------


def test_core_alias_execute_runs_the_aliased_action_and_notifies_the_route(api_server: ApiServer) -> None:
    api = api_server
    caller = run(
        api,
        "core.alias_execute",
        command="greet Ann 2 times",
        user="ann",
        source_channel="#ops",
        source_context={"thread": "t1"},
        notification_route="chat",
    )
    api.process()  # core.alias_execute runs and requests the aliased action
    done = api.execution(caller)
    assert done["status"] == "succeeded", done
    launched = done["result"]["result"]
    assert launched["actionalias"] == "examples.greet"
    assert launched["message"] == "Greeting Ann for ann"
    assert {k: launched["parameters"][k] for k in ("name", "count")} == {"name": "Ann", "count": 2}  # cast
    assert notifications(api) == []  # not ended yet
    api.process()  # the aliased action runs
    greet = api.execution(launched["execution"])
    assert greet["status"] == "succeeded", greet
    assert greet["action"]["ref"] == "examples.greet"
    assert greet["result"]["result"] == "hello Ann, hello Ann"
    context = greet["context"]
    assert context["action_alias_ref"] == "examples.greet"
    assert context["api_user"] == "ann"
    assert context["source_channel"] == "#ops"
    assert context["source_context"] == {"thread": "t1"}
    assert context["notification_route"] == "chat"
    assert context["user"] == "st2admin"  # runs as the user of the core.alias_execute execution
    assert context["alias_execute"] == {"execution_id": caller}
    (notify,) = notifications(api)
    assert notify["route"] == "chat"
    assert notify["message"] == "succeeded: hello Ann, hello Ann"
    assert notify["execution_id"] == greet["id"]
    assert notify["status"] == "succeeded"
    assert notify["data"]["source_channel"] == "#ops"
    assert notify["data"]["user"] == "ann"
    assert notify["data"]["source_context"] == {"thread": "t1"}
    assert notify["data"]["action_alias_ref"] == "examples.greet"


def test_core_alias_execute_fails_with_the_matching_error(api_server: ApiServer) -> None:
    api = api_server
    caller = run(api, "core.alias_execute", command="dance the tango")
    api.process()
    done = api.execution(caller)
    assert done["status"] == "failed"
    assert done["result"]["result"]["error"] == (
        "command 'dance the tango' matched no action alias; list the aliases and their formats with "
        "'st2lite alias list' (or POST /api/v1/actionalias/help)"
    )
    assert [e for e in api.execution_ids() if e != caller] == []  # nothing else was started


def test_core_alias_execute_reports_a_parameter_the_action_refuses(api_server: ApiServer) -> None:
    api = api_server
    caller = run(api, "core.alias_execute", command="greet Ann many times")
    api.process()
    done = api.execution(caller)
    assert done["status"] == "failed"
    assert done["result"]["result"]["error"] == "parameter 'count' expects integer, got 'many'"
    assert [e for e in api.execution_ids() if e != caller] == []


def test_without_a_route_or_with_the_result_disabled_nothing_is_notified(api_server: ApiServer) -> None:
    api = api_server
    run(api, "core.alias_execute", command="say hello to you")
    api.process()
    api.process()
    assert notifications(api) == []


# -- GET /api/v1/actionalias ---------------------------------------------------------------------------


def test_list_and_get_aliases_in_stackstorm_shape(api_server: ApiServer) -> None:
    api = api_server
    listed = api.http.get("/api/v1/actionalias")
    assert listed.status_code == 200, listed.text
    assert [a["ref"] for a in listed.json()] == ["examples.greet", "examples.hello"]
    assert listed.headers["X-Total-Count"] == "2"
    greet = listed.json()[0]
    assert greet["id"] == "examples.greet"
    assert greet["uid"] == "action_alias:examples:greet"
    assert greet["action_ref"] == "examples.greet"
    assert greet["enabled"] is True
    assert greet["formats"] == [
        "greet {{name}}",
        {"display": "greet <name> <count> times", "representation": ["greet {{name}} {{count}} times"]},
    ]
    assert greet["ack"]["format"] == "Greeting {{ execution.parameters.name }} for {{ user }}"
    assert greet["result"]["enabled"] is True
    assert [a["ref"] for a in api.http.get("/api/v1/actionalias", params={"name": "hello"}).json()] == [
        "examples.hello"
    ]
    assert api.http.get("/api/v1/actionalias", params={"pack": "core"}).json() == []
    paged = api.http.get("/api/v1/actionalias", params={"limit": 1, "offset": 1})
    assert [a["ref"] for a in paged.json()] == ["examples.hello"] and paged.headers["X-Total-Count"] == "2"
    assert api.http.get("/api/v1/actionalias/examples.greet").json() == greet
    assert api.http.get("/api/v1/actionalias/greet").json() == greet  # a name one pack has
    message = fault(api.http.get("/api/v1/actionalias/examples.nope"), 404)
    assert message.startswith('ActionAlias "examples.nope" is not found')


def test_a_viewer_may_read_and_match_but_not_execute(api_server: ApiServer) -> None:
    api = api_server
    viewer = {"St2-Api-Key": api.api_key("vera", Role.VIEWER)}
    assert api.http.get("/api/v1/actionalias", headers=viewer).status_code == 200
    assert api.http.post("/api/v1/actionalias/match", headers=viewer, json={"command": "greet Bo"}).status_code == 200
    assert api.http.post("/api/v1/actionalias/help", headers=viewer, json={}).status_code == 200
    for path in ("/api/v1/aliasexecution", "/api/v1/aliasexecution/match_and_execute"):
        response = api.http.post(path, headers=viewer, json={"command": "greet Bo"})
        assert fault(response, 403) == (
            "vera (role viewer) lacks the permission 'action_execute'; ask an admin for a role that grants it "
            "(docs/auth.md)"
        )
    assert api.execution_ids() == []
    assert api.http.get("/api/v1/actionalias").status_code == 200
    del api.http.headers["St2-Api-Key"]
    try:
        assert api.http.get("/api/v1/actionalias").status_code == 401
    finally:
        api.http.headers["St2-Api-Key"] = api.admin_key


# -- POST /api/v1/actionalias/match and /help ---------------------------------------------------------


def test_match_gives_the_alias_the_format_and_the_parameters(api_server: ApiServer) -> None:
    api = api_server
    response = api.http.post("/api/v1/actionalias/match", json={"command": "greet 'Ann Lee' 3 times"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["actionalias"]["ref"] == "examples.greet"
    assert body["display"] == "greet <name> <count> times"
    assert body["representation"] == "greet {{name}} {{count}} times"
    assert body["parameters"] == {"name": "Ann Lee", "count": "3"}
    defaulted = api.http.post("/api/v1/actionalias/match", json={"command": "say hello to"}).json()
    assert defaulted["actionalias"]["ref"] == "examples.hello" and defaulted["parameters"] == {"who": "world"}
    extra = api.http.post("/api/v1/actionalias/match", json={"command": "greet Bo count=2"}).json()
    assert extra["representation"] == "greet {{name}}" and extra["parameters"] == {"name": "Bo", "count": "2"}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"command": "dance"},
            400,
            "command 'dance' matched no action alias; list the aliases and their formats with 'st2lite alias list' "
            "(or POST /api/v1/actionalias/help)",
        ),
        ({"command": "greet Ann name=Bo"}, 400, "parameter 'name' is given twice"),
        ({}, 422, "command: Field required"),
        ({"command": ""}, 422, "command: String should have at least 1 character"),
        ({"command": 5}, 422, "command: Input should be a valid string"),
    ],
)
def test_match_refuses_what_matches_nothing_and_bad_bodies(
    api_server: ApiServer, body: dict[str, Any], status: int, message: str
) -> None:
    assert message in fault(api_server.http.post("/api/v1/actionalias/match", json=body), status)


def test_help_lists_one_string_per_format(api_server: ApiServer) -> None:
    api = api_server
    body = api.http.post("/api/v1/actionalias/help", json={}).json()
    assert body == {
        "available": 3,
        "helpstrings": [
            {"pack": "examples", "display": "greet {{name}}", "description": "Greet someone from chat"},
            {"pack": "examples", "display": "greet <name> <count> times", "description": "Greet someone from chat"},
            {"pack": "examples", "display": "say hello to {{who=world}}", "description": "Say hello with the shell"},
        ],
    }
    filtered = api.http.post("/api/v1/actionalias/help", json={"filter": "SHELL"}).json()
    assert [h["display"] for h in filtered["helpstrings"]] == ["say hello to {{who=world}}"]
    page = api.http.post("/api/v1/actionalias/help", json={"limit": 1, "offset": 1}).json()
    assert page["available"] == 3 and [h["display"] for h in page["helpstrings"]] == ["greet <name> <count> times"]


# -- POST /api/v1/aliasexecution -----------------------------------------------------------------------


def test_aliasexecution_answers_201_with_the_ack_and_the_execution(api_server: ApiServer) -> None:
    api = api_server
    response = api.http.post(
        "/api/v1/aliasexecution",
        json={
            "name": "greet",
            "format": "greet <name> <count> times",
            "command": "greet Cy 1 times",
            "user": "cy",
            "source_channel": "#dev",
            "notification_route": "chat",
        },
    )
    assert response.status_code == 201, response.text
    (result,) = response.json()["results"]
    assert result["actionalias"]["ref"] == "examples.greet"
    assert result["message"] == "Greeting Cy for cy"
    execution = result["execution"]
    assert execution["status"] == "requested"
    assert execution["action"]["ref"] == "examples.greet"
    assert execution["parameters"]["name"] == "Cy" and execution["parameters"]["count"] == 1
    assert execution["context"]["user"] == "st2admin"  # the API caller
    assert execution["context"]["api_user"] == "cy"
    assert execution["context"]["action_alias_ref"] == "examples.greet"
    created = [e for e in AuditLog(api.redis, maxlen=1000).read() if e.kind == AuditKind.EXECUTION_CREATED]
    assert [(e.execution, e.actor) for e in created] == [
        (execution["id"], f"api:st2admin (api key {api.admin_key_id})")
    ]
    api.process()
    done = api.wait_final(execution["id"])
    assert done["status"] == "succeeded"
    (notify,) = notifications(api)
    assert notify["message"] == "succeeded: hello Cy" and notify["route"] == "chat"


def test_match_and_execute_answers_200_and_appends_the_url(api_server: ApiServer) -> None:
    api = api_server
    response = api.http.post("/api/v1/aliasexecution/match_and_execute", json={"command": "say hello to Dee"})
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    execution_id = result["execution"]["id"]
    assert (
        result["message"]
        == f"Running examples.hello (execution {execution_id}). {api.url}/api/v1/executions/{execution_id}"
    )
    api.process()
    done = api.wait_final(execution_id)
    assert done["result"]["stdout"].strip() == "hello Dee"
    assert notifications(api) == []  # no route given


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"command": "dance"}, 400, "command 'dance' matched no action alias"),
        ({"name": "examples.nope", "command": "greet Ann"}, 404, 'ActionAlias "examples.nope" is not found'),
        (
            {"name": "greet", "format": "hi {{x}}", "command": "greet Ann"},
            400,
            "'hi {{x}}' is not a format of action alias 'examples.greet'; its formats: greet {{name}}, "
            "greet {{name}} {{count}} times",
        ),
        ({"name": "hello", "command": "greet Ann"}, 400, "command 'greet Ann' matched no action alias"),
        ({"command": "greet Ann many times"}, 400, "parameter 'count' expects integer, got 'many'"),
        (
            {"command": "greet Ann color=red"},
            400,
            "action 'examples.greet' has no parameter(s) color; its parameters are: count, debug, env, log_level, "
            "name, timeout",
        ),
        ({"command": "greet {{ st2kv.system.x }}"}, 400, "parameter 'name' holds a template"),
        ({"user": "x"}, 422, "command: Field required"),
        ({"command": ["a"]}, 422, "command: Input should be a valid string"),
    ],
)
def test_bad_alias_executions_are_refused_and_start_nothing(
    api_server: ApiServer, body: dict[str, Any], status: int, message: str
) -> None:
    got = fault(api_server.http.post("/api/v1/aliasexecution", json=body), status)
    assert message in got, got
    assert api_server.execution_ids() == []


# -- an execution's own notify (the mechanism the alias result uses) ------------------------------------


def run_to_end(api: ApiServer, execution_id: str) -> dict[str, Any]:
    """Process (and let a conductor advance chains) until the execution ended."""
    conductor = ChainConductor(api.settings, api.redis, name="test-conductor")
    for _round in range(8):
        api.process()
        conductor.drain()
        found = api.execution(execution_id)
        if found["status"] in ("succeeded", "failed", "timeout", "abandoned", "canceled"):
            return found
    raise AssertionError(f"execution {execution_id} did not end: {found['status']}")


def test_a_chain_notifies_each_route_once_when_it_ends_and_its_tasks_do_not(api_server: ApiServer) -> None:
    api = api_server
    notify = {
        "on-complete": {
            "routes": ["r1", "r2"],
            "message": "{{ execution.action.ref }} {{ execution.status }} with {{ execution.result.tasks | length }}",
            "data": {"kept": "{{ not rendered }}"},
        }
    }
    response = api.http.post(
        "/api/v1/executions", json={"action": "examples.deploy_chain", "context": {"notify": notify}}
    )
    assert response.status_code == 201, response.text
    chain = run_to_end(api, response.json()["id"])
    assert chain["status"] == "succeeded"
    sent = notifications(api)
    assert [(n["route"], n["execution_id"]) for n in sent] == [("r1", chain["id"]), ("r2", chain["id"])]
    assert {n["message"] for n in sent} == {"examples.deploy_chain succeeded with 2"}
    assert sent[0]["data"] == {"kept": "{{ not rendered }}"}
    assert sent[0]["end_timestamp"]


def test_without_a_message_the_text_says_how_it_ended_and_on_failure_applies(api_server: ApiServer) -> None:
    api = api_server
    notify = {"on-failure": {"routes": ["ops"]}, "on-success": {"routes": ["never"]}}
    body = {"action": "core.local", "parameters": {"cmd": "exit 3"}, "context": {"notify": notify}}
    response = api.http.post("/api/v1/executions", json=body)
    assert response.status_code == 201, response.text
    ended = run_to_end(api, response.json()["id"])
    assert ended["status"] == "failed"
    assert [(n["route"], n["message"], n["status"]) for n in notifications(api)] == [
        ("ops", "Action core.local failed.", "failed")
    ]


def test_a_message_that_does_not_render_is_skipped_and_the_end_still_recorded(api_server: ApiServer) -> None:
    api = api_server
    notify = {"on-complete": {"routes": ["ops"], "message": "{{ execution.nope.deeper }}"}}
    response = api.http.post("/api/v1/executions", json={"action": "core.noop", "context": {"notify": notify}})
    assert response.status_code == 201, response.text
    assert run_to_end(api, response.json()["id"])["status"] == "succeeded"
    assert notifications(api) == []
