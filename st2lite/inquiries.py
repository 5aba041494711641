"""Inquiries: questions an execution asks a person, as pure functions over the ``pending`` execution.

An inquiry is an execution of an ``inquirer`` action (``core.ask``) whose
result, while it is ``pending``, holds the question: ``schema`` (the JSON
schema of the answer), ``route``, ``users``, ``roles`` and ``ttl`` (minutes),
as StackStorm shows it. The answer is checked here; the store moves the
execution (:class:`~st2lite.waits.WaitStore`).
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
from pydantic import BaseModel, ConfigDict, Field

from st2lite.exceptions import InquiryError, InquiryNotFoundError, ResponderNotAllowedError
from st2lite.executions import Execution
from st2lite.statuses import ExecutionStatus
from st2lite.triggers import INQUIRY_TRIGGER, TriggerInstance

__all__ = [
    "DEFAULT_SCHEMA",
    "INQUIRER_RUNNER",
    "Inquiry",
    "answered_result",
    "check_open",
    "check_responder",
    "check_schema",
    "draft4",
    "inquiry_of",
    "inquiry_trigger",
    "validate_response",
]

#: The runner type of inquiries.
INQUIRER_RUNNER = "inquirer"

#: StackStorm's default response schema: one required boolean, ``continue``.
DEFAULT_SCHEMA: dict[str, Any] = {
    "title": "response_data",
    "type": "object",
    "properties": {
        "continue": {"type": "boolean", "description": "Would you like to continue the workflow?", "required": True}
    },
}


class Inquiry(BaseModel):
    """StackStorm's inquiry shape (``GET /api/v1/inquiries/{id}``)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: str
    route: str = ""
    ttl: int = 1440
    users: list[str] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)
    response_schema: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_SCHEMA), alias="schema")

    def public(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


def inquiry_of(execution: Execution) -> Inquiry:
    """The inquiry ``execution`` asks (or asked), or :class:`InquiryNotFoundError` when it is none."""
    result = execution.result
    if execution.runner != INQUIRER_RUNNER or not isinstance(result, dict) or "schema" not in result:
        raise InquiryNotFoundError(execution.id)
    fields = {k: result[k] for k in ("route", "ttl", "users", "roles", "schema") if k in result}
    return Inquiry.model_validate({"id": execution.id, **fields})


def check_open(execution: Execution) -> None:
    """Raise :class:`InquiryError` unless the inquiry still waits for its answer."""
    status = execution.status
    if status is ExecutionStatus.PENDING:
        return
    if status is ExecutionStatus.SUCCEEDED:
        raise InquiryError(f"inquiry '{execution.id}' was already answered; an inquiry takes one response")
    if status is ExecutionStatus.TIMEOUT:
        raise InquiryError(f"inquiry '{execution.id}' timed out (its ttl ran out); run the action again to ask anew")
    raise InquiryError(f"inquiry '{execution.id}' is {status.value}, not waiting for a response")


def draft4(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with StackStorm's draft-3 style ``required: true`` on properties turned into draft-4 lists."""
    out = copy.deepcopy(schema)
    _lift_required(out)
    return out


def _lift_required(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _lift_required(item)
        return
    if not isinstance(node, dict):
        return
    properties = node.get("properties")
    if isinstance(properties, dict):
        lifted = [name for name, sub in properties.items() if isinstance(sub, dict) and sub.get("required") is True]
        for sub in properties.values():
            if isinstance(sub, dict) and isinstance(sub.get("required"), bool):
                del sub["required"]
        if lifted:
            current = node.get("required")
            existing: list[Any] = current if isinstance(current, list) else []
            node["required"] = [*existing, *(n for n in lifted if n not in existing)]
    for value in node.values():
        _lift_required(value)


def check_schema(schema: Any) -> str | None:
    """Why ``schema`` is not a usable response schema, or None."""
    if not isinstance(schema, dict):
        return f"schema must be a JSON schema object, not {type(schema).__name__}"
    try:
        jsonschema.Draft4Validator.check_schema(draft4(schema))
    except jsonschema.SchemaError as exc:
        return f"schema is not a valid JSON schema: {exc.message}"
    return None


def validate_response(inquiry: Inquiry, response: Any) -> None:
    """Raise :class:`InquiryError` when ``response`` does not fit the inquiry's schema."""
    validator = jsonschema.Draft4Validator(draft4(inquiry.response_schema))
    error = jsonschema.exceptions.best_match(validator.iter_errors(response))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise InquiryError(
            f"the response does not match the schema of inquiry '{inquiry.id}' at {where}: {error.message}; "
            "see the schema with 'st2lite inquiry get'"
        )


def check_responder(inquiry: Inquiry, user: str) -> None:
    """Raise :class:`ResponderNotAllowedError` when the inquiry names its ``users`` and ``user`` is not one."""
    if inquiry.users and user not in inquiry.users:
        raise ResponderNotAllowedError(
            f"user '{user}' may not answer inquiry '{inquiry.id}'; it accepts: {', '.join(inquiry.users)}"
        )


def answered_result(execution: Execution, response: dict[str, Any]) -> dict[str, Any]:
    """The result of an answered inquiry: the question and ``response`` (StackStorm keeps both)."""
    base = execution.result if isinstance(execution.result, dict) else {}
    return {**base, "response": response}


def inquiry_trigger(execution_id: str, question: Any) -> TriggerInstance:
    """The ``core.st2.generic.inquiry`` instance of an inquiry that starts waiting (StackStorm's ``{id, route}``)."""
    route = question.get("route", "") if isinstance(question, dict) else ""
    return TriggerInstance(
        trigger=INQUIRY_TRIGGER, payload={"id": execution_id, "route": route}, source=f"execution:{execution_id}"
    )
