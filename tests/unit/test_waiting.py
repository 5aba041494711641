"""Inquiries, waits and callback tokens as pure logic; the inquirer and callback runners without Redis."""

from __future__ import annotations

import pytest

from st2lite.callbacks import hash_token, new_token, token_matches
from st2lite.exceptions import InquiryError, InquiryNotFoundError, ResponderNotAllowedError
from st2lite.executions import Execution
from st2lite.inquiries import DEFAULT_SCHEMA, check_open, check_responder, draft4, inquiry_of, validate_response
from st2lite.runners import get_runner
from st2lite.runners.base import RunContext
from st2lite.statuses import ExecutionStatus
from st2lite.waits import Wait, WaitKind, WaitRecord


def _inquiry(status: ExecutionStatus = ExecutionStatus.PENDING, **result: object) -> Execution:
    question = {"schema": DEFAULT_SCHEMA, "route": "", "users": [], "roles": [], "ttl": 1440, **result}
    return Execution(id="q1", action="core.ask", runner="inquirer", status=status, result=question)


def test_stackstorm_required_true_becomes_a_draft4_required_list_at_every_level() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {
            "a": {"type": "string"},
            "b": {"type": "boolean", "required": True},
            "c": {"type": "object", "properties": {"d": {"type": "integer", "required": True}}},
        },
    }
    assert draft4(schema) == {
        "type": "object",
        "required": ["a", "b"],
        "properties": {
            "a": {"type": "string"},
            "b": {"type": "boolean"},
            "c": {"type": "object", "properties": {"d": {"type": "integer"}}, "required": ["d"]},
        },
    }
    assert schema["properties"]["b"] == {"type": "boolean", "required": True}  # the original is untouched


def test_the_default_schema_wants_a_boolean_continue() -> None:
    inquiry = inquiry_of(_inquiry())
    validate_response(inquiry, {"continue": True})
    with pytest.raises(InquiryError, match="at \\(root\\): 'continue' is a required property"):
        validate_response(inquiry, {})
    with pytest.raises(InquiryError, match="at continue: 'no' is not of type 'boolean'"):
        validate_response(inquiry, {"continue": "no"})


def test_only_pending_inquiries_of_the_inquirer_runner_can_be_answered() -> None:
    with pytest.raises(InquiryNotFoundError):
        inquiry_of(Execution(id="x", action="core.noop", runner="noop", result={"schema": {}}))
    check_open(_inquiry())
    with pytest.raises(InquiryError, match="was already answered"):
        check_open(_inquiry(ExecutionStatus.SUCCEEDED))
    with pytest.raises(InquiryError, match="is canceled, not waiting for a response"):
        check_open(_inquiry(ExecutionStatus.CANCELED))


def test_users_restrict_who_answers_only_when_given() -> None:
    check_responder(inquiry_of(_inquiry()), "anyone")
    with pytest.raises(ResponderNotAllowedError, match="user 'bob' may not answer inquiry 'q1'; it accepts: alice"):
        check_responder(inquiry_of(_inquiry(users=["alice"])), "bob")


def test_a_wait_times_out_at_the_earlier_of_its_timeout_and_its_next_heartbeat() -> None:
    record = Wait(kind=WaitKind.CALLBACK, timeout=100, heartbeat=10).record(now=1000)
    assert record.deadline(last_beat=1000) == 1010
    assert record.deadline(last_beat=1095) == 1100
    assert record.timeout_reason(1010).startswith("no heartbeat arrived within 10 seconds")
    assert record.timeout_reason(1100) == "no callback arrived within the timeout of 100 seconds"
    assert WaitRecord(kind=WaitKind.INQUIRY, since=0).deadline(5) is None
    inquiry = Wait(kind=WaitKind.INQUIRY, timeout=90).record(now=0)
    assert inquiry.timeout_reason(90) == "the inquiry was not answered within its ttl of 1.5 minutes"


def test_tokens_are_long_random_and_checked_against_their_hash_only() -> None:
    token = new_token()
    assert len(token) >= 43 and token != new_token()
    stored = hash_token(token)
    assert token not in stored and token_matches(token, stored)
    assert not token_matches(token + "x", stored)
    assert not token_matches("", stored) and not token_matches(token, None)


def _ctx(**runner_parameters: object) -> RunContext:
    return RunContext(
        execution_id="e1",
        action_ref="p.a",
        pack="p",
        runner_parameters=runner_parameters,
        api_url="http://api.example:9101",
    )


def test_the_inquirer_runner_waits_with_the_question_and_refuses_a_bad_schema_or_ttl() -> None:
    runner = get_runner("inquirer")
    outcome = runner.run(_ctx())
    assert outcome.status is ExecutionStatus.PENDING
    assert outcome.result == {"schema": DEFAULT_SCHEMA, "route": "", "users": [], "roles": [], "ttl": 1440}
    assert outcome.wait == Wait(kind=WaitKind.INQUIRY, timeout=86_400)
    bad = runner.run(_ctx(schema={"type": 3}))
    assert bad.status is ExecutionStatus.FAILED and bad.error is not None
    assert bad.error.startswith("schema is not a valid JSON schema: 3 is not valid under any of the given schemas")
    assert runner.run(_ctx(ttl=0)).error == "ttl must be a positive number of minutes, not 0"


def test_the_callback_runner_keeps_only_the_token_hash_and_gives_the_token_to_notify_cmd() -> None:
    outcome = get_runner("callback").run(_ctx(notify_cmd="true", heartbeat=30))
    assert outcome.status is ExecutionStatus.PENDING
    assert outcome.result == {
        "callback_url": "http://api.example:9101/api/v1/callbacks/e1",
        "timeout": 3600,
        "heartbeat": 30,
    }
    wait = outcome.wait
    assert wait is not None and wait.notify is not None
    token = wait.notify.env["ST2_CALLBACK_TOKEN"]
    assert wait.token_hash == hash_token(token)
    assert token not in wait.record(now=0).model_dump_json()
    assert wait.notify.env["ST2_CALLBACK_HEARTBEAT_URL"].endswith("/api/v1/callbacks/e1/heartbeat")
    empty = get_runner("callback").run(_ctx(notify_cmd=" "))
    assert empty.status is ExecutionStatus.FAILED and "notify_cmd is empty" in str(empty.error)
