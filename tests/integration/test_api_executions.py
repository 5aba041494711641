"""``/api/v1/executions`` against a real uvicorn server and Redis: run, get, list, in StackStorm's shapes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import ApiServer, fault, wait_for

from st2lite import keys

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

MASK = "********"
SECRET = "hunter2"
#: Time between the executions before and after the mark of :class:`History`.
MARGIN = timedelta(milliseconds=50)
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def run(api: ApiServer, action: str, **parameters: Any) -> dict[str, Any]:
    """POST an execution that must be accepted; returns the 201 body."""
    response = api.http.post("/api/v1/executions", json={"action": action, "parameters": parameters})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


# -- POST /api/v1/executions ------------------------------------------------------------------------


def test_post_answers_201_with_a_requested_execution_in_stackstorm_shape(api_server: ApiServer) -> None:
    response = api_server.http.post(
        "/api/v1/executions", json={"action": "core.local", "parameters": {"cmd": "echo hi"}, "user": None}
    )

    assert response.status_code == 201, response.text
    created = response.json()
    assert isinstance(created["id"], str) and created["id"]
    assert created["status"] == "requested"
    assert created["action"]["ref"] == "core.local"
    assert created["action"]["runner_type"] == "local-shell-cmd"
    assert created["action"]["parameters"]["cmd"]["type"] == "string"
    assert created["action"]["parameters"]["cmd"]["required"] is True
    assert created["runner"]["name"] == "local-shell-cmd"
    assert created["parameters"]["cmd"] == "echo hi"
    assert created["context"]["user"] == "st2admin"  # the caller (auth off: the anonymous admin)
    assert created["liveaction"] == {"id": created["id"]}
    [entry] = created["log"]
    assert entry["status"] == "requested"
    assert ISO_Z.match(entry["timestamp"]), entry
    assert ISO_Z.match(created["start_timestamp"]), created
    assert "end_timestamp" not in created
    assert "result" not in created
    # Stored and queued for the scheduler.
    assert api_server.execution(created["id"])["status"] == "requested"
    assert api_server.redis.xlen(keys.REQUEST_STREAM) == 1


def test_post_takes_the_user_from_the_request(api_server: ApiServer) -> None:
    response = api_server.http.post(
        "/api/v1/executions", json={"action": "core.noop", "parameters": {}, "user": "alice"}
    )

    assert response.status_code == 201, response.text
    assert response.json()["context"]["user"] == "alice"


def assert_only(api: ApiServer, accepted: dict[str, Any]) -> None:
    """Exactly the one execution accepted before exists and is queued, unchanged."""
    assert api.execution_ids() == [accepted["id"]]
    assert api.redis.xlen(keys.REQUEST_STREAM) == 1
    assert api.execution(accepted["id"])["parameters"] == accepted["parameters"]


def test_an_unknown_action_is_404_and_creates_nothing(api_server: ApiServer) -> None:
    before = run(api_server, "core.local", cmd="echo before")

    response = api_server.http.post("/api/v1/executions", json={"action": "core.locl", "parameters": {"cmd": "x"}})

    assert fault(response, 404) == "Action core.locl not found; list the registered actions or register its pack"
    assert_only(api_server, before)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"action": "core.local", "parameters": {"cmd": "date", "comand": "x"}},
            "action 'core.local' has no parameter(s) comand; its parameters are: "
            "cmd, cwd, env, kwarg_op, sudo, sudo_password, timeout. Remove or rename them",
        ),
        (
            {"action": "examples.greet", "parameters": {"name": "st2", "count": "three"}},
            "parameter 'count' expects integer, got 'three'",
        ),
        ({"action": "core.local", "parameters": {"cmd": 5}}, "parameter 'cmd' expects string, got 5"),
        (
            {"action": "core.local", "parameters": {}},
            "action 'core.local': required parameter(s) cmd have no value; "
            "supply them in the rule's action parameters or the run request",
        ),
        (
            {"action": "examples.hello", "parameters": {"cmd": "rm -rf /"}},
            "action 'examples.hello': parameter(s) cmd are immutable and cannot be overridden; remove them "
            "from the parameters, or write an action that does not declare them immutable",
        ),
        (
            {"action": "default.retired", "parameters": {}},
            "Action default.retired is disabled; enable it in its metadata file and re-register",
        ),
        ({"parameters": {"cmd": "date"}}, "invalid request: action: Field required"),
        (
            {"action": "core.local", "parameters": "cmd=date"},
            "invalid request: parameters: Input should be a valid dictionary",
        ),
        (
            ["core.local"],
            "invalid request: body: Input should be a valid dictionary or object to extract fields from",
        ),
    ],
    ids=["unknown", "wrong-type", "not-a-string", "missing", "immutable", "disabled", "no-action", "params", "array"],
)
def test_bad_run_requests_are_refused_and_create_nothing(api_server: ApiServer, body: Any, message: str) -> None:
    before = run(api_server, "core.local", cmd="echo before")

    response = api_server.http.post("/api/v1/executions", json=body)

    # A body of the wrong shape is a 422 naming the field; a well-formed request the action refuses, a 400.
    assert fault(response, 422 if message.startswith("invalid request:") else 400) == message
    assert_only(api_server, before)


def test_the_post_response_masks_secret_parameters(api_server: ApiServer) -> None:
    response = api_server.http.post(
        "/api/v1/executions", json={"action": "default.login", "parameters": {"user": "c", "password": SECRET}}
    )

    assert response.status_code == 201, response.text
    parameters = response.json()["parameters"]
    assert (parameters["user"], parameters["password"]) == ("c", MASK)
    assert SECRET not in response.text


# -- GET /api/v1/executions/{id} --------------------------------------------------------------------


def test_get_returns_the_execution(api_server: ApiServer) -> None:
    created = run(api_server, "core.local", cmd="echo hi")

    response = api_server.http.get(f"/api/v1/executions/{created['id']}")

    assert response.status_code == 200, response.text
    assert response.json() == created


def test_get_of_an_unknown_id_is_404_with_the_reason(api_server: ApiServer) -> None:
    response = api_server.http.get("/api/v1/executions/6650f0c2a1b2c3d4e5f60a01")

    assert fault(response, 404) == (
        "execution '6650f0c2a1b2c3d4e5f60a01' not found; it may have expired "
        "(see 'execution_ttl' in docs/configuration.md)"
    )


def test_last_with_no_execution_is_404_with_the_reason(api_server: ApiServer) -> None:
    response = api_server.http.get("/api/v1/executions/last")

    assert fault(response, 404) == "there is no execution yet (or they all expired), so none is the last"


# -- listing: one history shared by the class -------------------------------------------------------


class History:
    """Five executions: ``ok`` (succeeded), ``bad`` (failed), ``hook`` (rule, succeeded), then ``later``
    and ``secret`` (requested), with ``mark`` a time between the first three and the last two."""

    def __init__(self, api: ApiServer) -> None:
        self.api = api
        self.ok = run(api, "core.local", cmd="echo one")["id"]
        self.bad = run(api, "core.local", cmd="exit 3")["id"]
        hook = api.http.post("/api/v1/webhooks/team/alerts/critical", json={"severity": "high"})
        assert hook.status_code == 202, hook.text
        self.secret_run = run(api, "default.login", user="alice", password=SECRET)["id"]
        api.process()
        for eid in (self.ok, self.bad, self.secret_run):
            api.wait_final(eid)
        [self.hook] = ids(api.http.get("/api/v1/executions", params={"rule": "default.nested"}))
        newest = max(api.execution(e)["created_at"] for e in (self.ok, self.bad, self.hook, self.secret_run))
        self.mark = datetime.fromisoformat(newest.replace("Z", "+00:00")) + MARGIN
        wait_for(lambda: datetime.now(UTC) > self.mark + MARGIN, "the clock to pass the mark")
        self.later = run(api, "core.noop")["id"]
        self.secret = run(api, "default.login", user="bob", password=SECRET)["id"]

    @property
    def newest_first(self) -> list[str]:
        return [self.secret, self.later, self.hook, self.secret_run, self.bad, self.ok]


@pytest.fixture(scope="class")
def history(api_module: ApiServer, redis_server: str) -> History:
    api_module.redis.flushdb()
    api_module.register()
    return History(api_module)


class TestListing:
    def test_the_history_ran_as_expected(self, history: History) -> None:
        api = history.api
        assert api.execution(history.ok)["status"] == "succeeded"
        assert api.execution(history.ok)["result"]["stdout"] == "one"
        failed = api.execution(history.bad)
        assert failed["status"] == "failed"
        assert failed["result"]["return_code"] == 3
        assert [e["status"] for e in failed["log"]] == ["requested", "scheduled", "running", "failed"]
        assert ISO_Z.match(failed["end_timestamp"])

    def test_newest_first_with_the_total_count(self, history: History) -> None:
        response = history.api.http.get("/api/v1/executions")

        assert ids(response) == history.newest_first
        assert response.headers["X-Total-Count"] == "6"

    def test_last_is_the_newest_execution(self, history: History) -> None:
        response = history.api.http.get("/api/v1/executions/last")

        assert response.status_code == 200, response.text
        assert response.json() == history.api.execution(history.newest_first[0])

    def test_sort_asc_gives_oldest_first(self, history: History) -> None:
        response = history.api.http.get("/api/v1/executions", params={"sort_asc": "True"})

        assert ids(response) == history.newest_first[::-1]

    def test_limit_and_offset_page_through_with_the_total(self, history: History) -> None:
        first = history.api.http.get("/api/v1/executions", params={"limit": 2})
        second = history.api.http.get("/api/v1/executions", params={"limit": 2, "offset": 2})
        rest = history.api.http.get("/api/v1/executions", params={"limit": -1, "offset": 4})

        assert ids(first) == history.newest_first[:2]
        assert ids(second) == history.newest_first[2:4]
        assert ids(rest) == history.newest_first[4:]
        assert {r.headers["X-Total-Count"] for r in (first, second, rest)} == {"6"}

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ("limit=0", "limit must be a positive number, or -1 for all"),
            ("limit=-5", "limit must be a positive number, or -1 for all"),
            (
                "limit=ten",
                "invalid request: query.limit: Input should be a valid integer, unable to parse string as an integer",
            ),
            ("offset=-1", "invalid request: query.offset: Input should be greater than or equal to 0"),
            (
                "timestamp_gt=yesterday",
                "timestamp_gt must be an ISO 8601 time such as 2026-01-01T00:00:00Z, got 'yesterday'",
            ),
            (
                "timestamp_lt=2026-13-01",
                "timestamp_lt must be an ISO 8601 time such as 2026-01-01T00:00:00Z, got '2026-13-01'",
            ),
            (
                "user=bob",
                "executions cannot be filtered by user (st2 execution list --user) yet; "
                "filter by action, status, rule, parent, trigger_instance, timestamp_gt or timestamp_lt",
            ),
        ],
    )
    def test_bad_list_queries_are_400(self, history: History, query: str, message: str) -> None:
        assert fault(history.api.http.get(f"/api/v1/executions?{query}"), 400) == message

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"status": "succeeded"}, ["hook", "secret_run", "ok"]),
            ({"status": "failed"}, ["bad"]),
            ({"status": "requested"}, ["secret", "later"]),
            ({"action": "core.local"}, ["bad", "ok"]),
            ({"action": "core.noop"}, ["later", "hook"]),
            ({"rule": "default.nested"}, ["hook"]),
            ({"rule_ref": "default.nested"}, ["hook"]),
            ({"status": "succeeded", "action": "core.noop"}, ["hook"]),
            ({"status": "requested", "action": "core.local"}, []),
            ({"parent": "null"}, ["secret", "later", "hook", "secret_run", "bad", "ok"]),
            ({"action": "core.nothing"}, []),
        ],
    )
    def test_filters(self, history: History, params: dict[str, str], expected: list[str]) -> None:
        response = history.api.http.get("/api/v1/executions", params=params)

        assert ids(response) == [getattr(history, name) for name in expected]
        assert response.headers["X-Total-Count"] == str(len(expected))

    def test_parent_filter_gives_the_children_of_an_execution(self, history: History) -> None:
        response = history.api.http.get("/api/v1/executions", params={"parent": history.ok})

        assert ids(response) == []
        assert response.headers["X-Total-Count"] == "0"

    def test_timestamp_gt_and_lt_split_at_a_time(self, history: History) -> None:
        mark = history.mark.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        after = history.api.http.get("/api/v1/executions", params={"timestamp_gt": mark})
        before = history.api.http.get("/api/v1/executions", params={"timestamp_lt": mark})
        combined = history.api.http.get(
            "/api/v1/executions", params={"timestamp_lt": mark, "status": "succeeded", "sort_asc": "True"}
        )

        assert ids(after) == [history.secret, history.later]
        assert ids(before) == [history.hook, history.secret_run, history.bad, history.ok]
        assert ids(combined) == [history.ok, history.secret_run, history.hook]

    def test_a_trailing_slash_is_served_without_a_redirect(self, history: History) -> None:
        response = history.api.http.get("/api/v1/executions/?limit=5")

        assert response.status_code == 200, response.text
        assert not response.history
        assert ids(response) == history.newest_first[:5]
        assert response.headers["X-Total-Count"] == "6"

    def test_rule_started_executions_link_their_rule_trigger_and_instance(self, history: History) -> None:
        hook = history.api.execution(history.hook)

        assert hook["rule"] == {"ref": "default.nested", "name": "nested"}
        assert hook["trigger"]["ref"] == "core.st2.webhook"
        assert isinstance(hook["trigger_instance"]["id"], str)
        assert hook["context"]["user"] == "stanley"
        assert hook["status"] == "succeeded"

    def test_list_items_carry_what_the_dashboard_shows(self, history: History) -> None:
        listed = {e["id"]: e for e in history.api.http.get("/api/v1/executions").json()}
        hook = listed[history.hook]

        assert (hook["rule"]["ref"], hook["trigger"]["ref"], hook["action"]["ref"]) == (
            "default.nested",
            "core.st2.webhook",
            "core.noop",
        )
        assert hook["trigger_instance"] == history.api.execution(history.hook)["trigger_instance"]
        assert hook["status"] == "succeeded"
        assert hook["start_timestamp"] <= hook["end_timestamp"]

    def test_secret_parameters_are_masked_everywhere_and_given_in_clear_to_the_action(self, history: History) -> None:
        api = history.api
        done = api.execution(history.secret_run)
        queued = api.execution(history.secret)
        listing = api.http.get("/api/v1/executions")

        assert done["status"] == "succeeded", done
        assert done["result"]["stdout"] == "logged in as alice"  # the script got the clear value
        assert done["parameters"]["password"] == MASK
        assert (queued["parameters"]["user"], queued["parameters"]["password"]) == ("bob", MASK)
        assert SECRET not in listing.text
        assert SECRET not in api.http.get(f"/api/v1/executions/{history.secret_run}").text
        assert SECRET not in str(api.redis.xrange(keys.AUDIT_STREAM))
        # The clear value is kept only until the execution is done.
        assert api.redis.hget(keys.execution(history.secret_run), "secrets") is None


# -- POST /api/v1/executions/{id}/re_run ------------------------------------------------------------


def test_re_run_creates_a_new_execution_with_the_same_parameters_and_overrides(api_server: ApiServer) -> None:
    original = run(api_server, "core.local", cmd="echo hi")

    response = api_server.http.post(f"/api/v1/executions/{original['id']}/re_run", json={"parameters": {}})
    again = api_server.http.post(
        f"/api/v1/executions/{original['id']}/re_run", json={"parameters": {"cmd": "echo bye"}, "user": "bob"}
    )

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["id"] != original["id"]
    assert created["status"] == "requested"
    assert created["parameters"]["cmd"] == "echo hi"
    assert created["context"]["re-run"] == {"ref": original["id"], "tasks": [], "reset": []}
    assert created["context"]["user"] == "st2admin"  # the caller (auth off: the anonymous admin)
    assert again.status_code == 201, again.text
    assert again.json()["parameters"]["cmd"] == "echo bye"
    assert again.json()["context"]["user"] == "bob"
    assert api_server.redis.xlen(keys.REQUEST_STREAM) == 3


@pytest.mark.parametrize(
    ("action", "parameters", "body", "message"),
    [
        (
            "core.noop",
            {},
            {"tasks": ["first"]},
            "tasks can only be given to re-run an action chain; core.noop is not one",
        ),
        (
            "default.login",
            {"user": "c", "password": SECRET},
            {},
            "parameter 'password' is secret and not kept after a run; give it again to re-run",
        ),
    ],
)
def test_bad_re_runs_are_400_with_the_reason_and_create_nothing(
    api_server: ApiServer, action: str, parameters: dict[str, Any], body: dict[str, Any], message: str
) -> None:
    original = run(api_server, action, **parameters)

    response = api_server.http.post(f"/api/v1/executions/{original['id']}/re_run", json=body)

    assert fault(response, 400) == message
    assert api_server.redis.xlen(keys.REQUEST_STREAM) == 1  # only the original


def test_a_re_run_with_the_secret_given_again_is_accepted(api_server: ApiServer) -> None:
    original = run(api_server, "default.login", user="c", password=SECRET)

    response = api_server.http.post(
        f"/api/v1/executions/{original['id']}/re_run", json={"parameters": {"password": SECRET}}
    )

    assert response.status_code == 201, response.text
    assert response.json()["parameters"] == {**original["parameters"], "password": MASK}


def test_re_run_of_an_unknown_execution_is_404(api_server: ApiServer) -> None:
    response = api_server.http.post("/api/v1/executions/6650f0c2a1b2c3d4e5f60a01/re_run", json={})

    assert fault(response, 404).startswith("execution '6650f0c2a1b2c3d4e5f60a01' not found")


# -- DELETE /api/v1/executions/{id}, PUT /api/v1/executions/{id} -------------------------------------


def test_cancel_of_a_requested_execution_cancels_it_at_once(api_server: ApiServer) -> None:
    created = run(api_server, "core.noop")

    response = api_server.http.delete(f"/api/v1/executions/{created['id']}", params={"user": "carol"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "canceled"
    assert body["result"] == {"message": "Action canceled by user.", "user": "carol"}
    again = api_server.http.delete(f"/api/v1/executions/{created['id']}")
    assert again.status_code == 200 and again.json()["status"] == "canceled"  # canceling twice changes nothing


def test_cancel_of_a_finished_execution_answers_stackstorms_200_faultstring(api_server: ApiServer) -> None:
    created = run(api_server, "core.noop")
    api_server.process()
    assert api_server.execution(created["id"])["status"] == "succeeded"

    response = api_server.http.delete(f"/api/v1/executions/{created['id']}")

    assert fault(response, 200) == "Action cannot be canceled. State = succeeded."
    assert api_server.execution(created["id"])["status"] == "succeeded"


def test_cancel_of_an_unknown_execution_is_404(api_server: ApiServer) -> None:
    response = api_server.http.delete("/api/v1/executions/6650f0c2a1b2c3d4e5f60a01")

    assert fault(response, 404).startswith("execution '6650f0c2a1b2c3d4e5f60a01' not found")


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("pausing", "runs runner 'noop', which cannot be paused; only action chains can be paused and resumed"),
        ("resuming", "runs runner 'noop', which cannot be resumed; only action chains can be paused and resumed"),
        ("running", "status must be 'pausing' or 'resuming', not 'running'; cancel with DELETE"),
    ],
)
def test_pause_and_resume_are_for_chains_only(api_server: ApiServer, status: str, message: str) -> None:
    created = run(api_server, "core.noop")

    response = api_server.http.put(f"/api/v1/executions/{created['id']}", json={"status": status})

    assert message in fault(response, 400)
    assert api_server.execution(created["id"])["status"] == "requested"
