"""The ``inquirer`` runner: ask a person a question and wait, without holding a worker.

Running it only checks the parameters and returns ``pending`` with the
question as the result (StackStorm's ``{schema, route, users, roles, ttl}``)
and a :class:`~st2lite.waits.Wait` of ``ttl`` minutes; the worker parks the
execution (see :mod:`st2lite.wait_store`) and moves on. The answer arrives
through ``PUT /api/v1/inquiries/{id}``.
"""

from __future__ import annotations

from typing import ClassVar

from st2lite.actions import ParameterSpec
from st2lite.inquiries import DEFAULT_SCHEMA, INQUIRER_RUNNER, check_schema
from st2lite.runners.base import OutputCallback, RunContext, Runner, RunResult
from st2lite.statuses import ExecutionStatus
from st2lite.waits import Wait, WaitKind

__all__ = ["InquirerRunner"]


class InquirerRunner(Runner):
    """``inquirer``: StackStorm's inquiries (``core.ask``); see docs/inquiries.md."""

    name: ClassVar[str] = INQUIRER_RUNNER
    parameters: ClassVar[dict[str, ParameterSpec]] = {
        "schema": ParameterSpec(
            type="object", default=DEFAULT_SCHEMA, description="JSON schema the response must match."
        ),
        "route": ParameterSpec(type="string", default="", description="Where to announce the question (free text)."),
        "users": ParameterSpec(type="array", default=[], description="Users who may answer; empty: anyone."),
        "roles": ParameterSpec(
            type="array",
            default=[],
            description="Roles who may answer (kept, not enforced: st2lite has no RBAC).",
        ),
        "ttl": ParameterSpec(
            type="integer", default=1440, description="Minutes to wait for the answer before timing out."
        ),
    }

    def run(self, ctx: RunContext, *, on_output: OutputCallback | None = None) -> RunResult:
        values = self.runner_values(ctx)
        schema = values.get("schema") or DEFAULT_SCHEMA
        problem = check_schema(schema)
        ttl = values.get("ttl")
        if problem is None and (not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0):
            problem = f"ttl must be a positive number of minutes, not {ttl!r}"
        if problem is not None:
            return RunResult(status=ExecutionStatus.FAILED, result={"error": problem}, error=problem)
        assert isinstance(ttl, int)
        question = {
            "schema": schema,
            "route": values.get("route") or "",
            "users": list(values.get("users") or []),
            "roles": list(values.get("roles") or []),
            "ttl": ttl,
        }
        return RunResult(
            status=ExecutionStatus.PENDING, result=question, wait=Wait(kind=WaitKind.INQUIRY, timeout=ttl * 60.0)
        )
