"""Inquiries end to end: core.ask waits ``pending``, the API lists and answers it, the sweep times it out."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import orjson
import pytest
from conftest import ApiServer, fault, wait_for
from waiting import Waiting

from st2lite import keys
from st2lite.audit import AuditKind
from st2lite.inquiries import DEFAULT_SCHEMA
from st2lite.statuses import COMPLETED, ExecutionStatus

pytestmark = pytest.mark.redis


@pytest.fixture
def waiting(api_server: ApiServer) -> Iterator[Waiting]:
    yield Waiting(api_server)


def test_core_ask_waits_pending_without_a_lease_and_shows_stackstorms_inquiry(waiting: Waiting) -> None:
    before = time.time()
    ask = waiting.pending("core.ask")

    assert ask.result == {"schema": DEFAULT_SCHEMA, "route": "", "users": [], "roles": [], "ttl": 1440}
    assert [c.status for c in ask.log][-2:] == ["running", "pending"]
    assert waiting.client.zscore(keys.RUNNING_LEASES, ask.id) is None  # the reaper will not abandon it
    deadline = waiting.client.zscore(keys.WAIT_DEADLINES, ask.id)
    assert deadline is not None and before + 86_400 <= deadline <= time.time() + 86_400
    assert waiting.reaper.reap(now=time.time() + 3600) == []
    listed = waiting.api.http.get("/api/v1/inquiries")
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "1"
    assert listed.json() == [{"id": ask.id, **ask.result}]
    assert waiting.api.http.get(f"/api/v1/inquiries/{ask.id}").json() == {"id": ask.id, **ask.result}
    [created] = waiting.audit(AuditKind.INQUIRY_CREATED, ask.id)
    assert created["action"] == "core.ask"
    # A rule of the waits pack listens to core.st2.generic.inquiry, so the inquiry announced itself.
    instances = [orjson.loads(fields["t"]) for _id, fields in waiting.client.xrange(keys.TRIGGER_STREAM)]
    [announced] = [i for i in instances if i["trigger"] == "core.st2.generic.inquiry"]
    assert announced["payload"] == {"id": ask.id, "route": ""}


def test_an_answer_is_checked_against_the_schema_and_accepted_once(waiting: Waiting) -> None:
    ask = waiting.pending("waits.approve")
    put = waiting.api.http.put

    wrong_type = put(f"/api/v1/inquiries/{ask.id}", json={"id": ask.id, "response": {"approved": "yes"}})
    assert fault(wrong_type, 400) == (
        f"the response does not match the schema of inquiry '{ask.id}' at approved: 'yes' is not of type "
        "'boolean'; see the schema with 'st2lite inquiry get'"
    )
    missing = put(f"/api/v1/inquiries/{ask.id}", json={"response": {"reason": "why not"}})
    assert "'approved' is a required property" in fault(missing, 400)
    not_an_object = put(f"/api/v1/inquiries/{ask.id}", json={"response": [True]})
    assert fault(not_an_object, 422).startswith("invalid request: response:")
    assert waiting.executions.get(ask.id).status is ExecutionStatus.PENDING  # nothing accepted, nothing lost

    answer = {"approved": True, "reason": "tested"}
    done = put(f"/api/v1/inquiries/{ask.id}", json={"id": ask.id, "response": answer})

    assert done.status_code == 200, done.text
    assert done.json() == {"id": ask.id, "response": answer}
    answered = waiting.executions.get(ask.id)
    assert answered.status is ExecutionStatus.SUCCEEDED
    assert answered.result == {**ask.result, "response": answer}
    assert waiting.client.zscore(keys.WAIT_DEADLINES, ask.id) is None
    assert waiting.api.http.get("/api/v1/inquiries").json() == []
    [event] = waiting.audit(AuditKind.INQUIRY_ANSWERED, ask.id)
    assert event["data"] == {"user": "st2admin"}  # the caller: the user of the test client's API key
    assert event["actor"] == f"api:st2admin (api key {waiting.api.admin_key_id})"

    again = put(f"/api/v1/inquiries/{ask.id}", json={"response": {"approved": False}})
    assert fault(again, 400) == f"inquiry '{ask.id}' was already answered; an inquiry takes one response"
    assert waiting.executions.get(ask.id).result == answered.result
    assert len(waiting.audit(AuditKind.INQUIRY_ANSWERED, ask.id)) == 1


def test_unknown_inquiries_and_executions_that_ask_nothing_are_404(waiting: Waiting) -> None:
    missing = waiting.api.http.put("/api/v1/inquiries/nope", json={"response": {"continue": True}})
    assert fault(missing, 404).startswith("inquiry 'nope' not found; list the waiting ones with 'st2lite inquiry list'")
    noop = waiting.request("core.noop", {})
    waiting.until(noop, COMPLETED)
    assert fault(waiting.api.http.get(f"/api/v1/inquiries/{noop}"), 404).startswith(f"inquiry '{noop}' not found")
    body = {"id": "another", "response": {"continue": True}}
    ask = waiting.pending("core.ask")
    mismatch = waiting.api.http.put(f"/api/v1/inquiries/{ask.id}", json=body)
    assert fault(mismatch, 400) == f"the body's id 'another' is not the inquiry in the URL, '{ask.id}'"


def test_users_are_enforced_and_an_unanswered_inquiry_times_out_after_its_ttl(waiting: Waiting) -> None:
    ask = waiting.pending("waits.approve_as_alice")
    put = waiting.api.http.put

    refused = put(f"/api/v1/inquiries/{ask.id}", json={"response": {"continue": True}, "user": "bob"})
    assert fault(refused, 403) == f"user 'bob' may not answer inquiry '{ask.id}'; it accepts: alice"
    assert waiting.reaper.sweep_waits(now=time.time() + 30) == []  # ttl is 1 minute

    assert waiting.reaper.sweep_waits(now=time.time() + 61) == [ask.id]

    timed_out = waiting.executions.get(ask.id)
    assert timed_out.status is ExecutionStatus.TIMEOUT
    assert timed_out.result["error"] == "the inquiry was not answered within its ttl of 1 minutes"
    assert timed_out.result["users"] == ["alice"]
    assert len(waiting.audit(AuditKind.INQUIRY_TIMED_OUT, ask.id)) == 1
    late = put(f"/api/v1/inquiries/{ask.id}", json={"response": {"continue": True}, "user": "alice"})
    assert "timed out (its ttl ran out)" in fault(late, 400)
    assert waiting.client.zscore(keys.WAIT_DEADLINES, ask.id) is None


def test_a_second_inquiry_answered_by_alice_is_accepted(waiting: Waiting) -> None:
    ask = waiting.pending("waits.approve_as_alice")
    answered = waiting.api.http.put(
        f"/api/v1/inquiries/{ask.id}", json={"response": {"continue": False}, "user": "alice"}
    )
    assert answered.status_code == 200, answered.text
    assert waiting.reaper.sweep_waits(now=time.time() + 120) == []  # its deadline went with the answer


def test_the_cli_lists_shows_and_answers_inquiries(waiting: Waiting) -> None:
    ask = waiting.pending("waits.approve")
    api = waiting.api

    listed = api.cli("inquiry", "list")
    assert listed.returncode == 0, listed.stderr
    assert ask.id in listed.stdout and "ops" in listed.stdout
    shown = api.cli("inquiry", "get", ask.id, "--json")
    assert json.loads(shown.stdout)["schema"]["properties"]["approved"]["type"] == "boolean"
    bad_json = api.cli("inquiry", "respond", ask.id, "-r", "{approved")
    assert bad_json.returncode == 2 and "-r is not valid JSON" in bad_json.stderr
    rejected = api.cli("inquiry", "respond", ask.id, "approved=maybe")
    assert rejected.returncode == 2
    assert "'maybe' is not of type 'boolean'" in rejected.stderr and "(HTTP 400)" in rejected.stderr

    answered = api.cli("inquiry", "respond", ask.id, "approved=true", "reason=looks good")

    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.strip() == f'inquiry {ask.id} answered: {{"approved": true, "reason": "looks good"}}'


def test_a_chain_stops_at_its_question_and_goes_on_with_the_answer_published(waiting: Waiting) -> None:
    chain_id = waiting.request("waits.release", {"version": "1.2"})

    def asked() -> str | None:
        waiting.step()
        children = waiting.executions.get(chain_id).children
        return children[0] if children and waiting.executions.status(children[0]) is ExecutionStatus.PENDING else None

    ask_id: str = wait_for(asked, "the chain's first task to ask")
    for _ in range(3):
        waiting.step()
    chain = waiting.executions.get(chain_id)
    assert chain.status is ExecutionStatus.RUNNING  # st2lite keeps the chain running while a task waits
    assert chain.children == [ask_id]
    assert [i["id"] for i in waiting.api.http.get("/api/v1/inquiries").json()] == [ask_id]

    answer = {"approved": True, "reason": "tested"}
    answered = waiting.api.http.put(f"/api/v1/inquiries/{ask_id}", json={"response": answer})
    assert answered.status_code == 200, answered.text

    done = waiting.until(chain_id, COMPLETED)
    assert done.status is ExecutionStatus.SUCCEEDED
    assert done.result["published"] == {"approved": True}
    ask_record, report = done.result["tasks"]
    assert ask_record["result"]["response"] == answer
    assert report["result"]["stdout"] == "release 1.2 approved=True reason=tested"


def test_a_canceled_inquiry_takes_no_answer_and_its_deadline_is_dropped(waiting: Waiting) -> None:
    ask = waiting.pending("core.ask")

    canceled = waiting.api.http.delete(f"/api/v1/executions/{ask.id}")

    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    late = waiting.api.http.put(f"/api/v1/inquiries/{ask.id}", json={"response": {"continue": True}})
    assert fault(late, 400) == f"inquiry '{ask.id}' is canceled, not waiting for a response"
    assert waiting.reaper.sweep_waits(now=time.time() + 90_000) == []
    assert waiting.client.zscore(keys.WAIT_DEADLINES, ask.id) is None
    assert waiting.executions.get(ask.id).status is ExecutionStatus.CANCELED
