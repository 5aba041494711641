"""Action aliases against a real API, Redis and burst workers: core.alias_execute, the routes, the notify path."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from conftest import ApiServer, fault

from st2lite import keys
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
    assert "count" in done["result"]["result"]["error"], done["result"]
    assert [e for e in api.execution_ids() if e != caller] == []


def test_without_a_route_or_with_the_result_disabled_nothing_is_notified(api_server: ApiServer) -> None:
    api = api_server
    run(api, "core.alias_execute", command="say hello to you")
    api.process()
    api.process()
    assert notifications(api) == []
