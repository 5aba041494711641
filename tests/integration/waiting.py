"""A harness for executions that wait (inquiries, callback tasks): the ``waits`` fixture pack on a real API.

The pipeline runs in this process, step by step, with test_chains.py's
:class:`Chains` stages (scheduler, a worker runtime running each scheduled
execution once, the chain conductor). The API (``api_server``) answers
inquiries and callbacks; the reaper's sweep is called with a chosen ``now``
so timeouts need no sleeping.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from conftest import REPO, ApiServer, wait_for
from test_chains import Chains

from st2lite.audit import AuditKind, AuditLog
from st2lite.executions import Execution
from st2lite.registration import register_from_disk
from st2lite.statuses import ExecutionStatus
from st2lite.wait_store import WaitStore
from st2lite.worker import Reaper

__all__ = ["WAITS_PACK", "Waiting"]

#: Actions that wait (and a chain that asks), registered next to the API's own content.
WAITS_PACK = REPO / "tests" / "fixtures" / "runnable" / "waits"


class Waiting(Chains):
    """The ``waits`` pack registered on ``api``'s Redis, the stages to move executions by hand, a reaper."""

    def __init__(self, api: ApiServer) -> None:
        super().__init__(api.settings, api.redis)
        self.api = api
        report, _version = register_from_disk(api.settings, api.redis, [WAITS_PACK], actor="test")
        assert not report.problems, report.problems
        self.waits = WaitStore(api.redis, self.executions, actor="test")
        self.reaper = Reaper(self.executions, api.settings, self.waits)

    def until(self, execution_id: str, statuses: Collection[ExecutionStatus]) -> Execution:
        """Step until ``execution_id`` is in one of ``statuses``."""

        def reached() -> Execution | None:
            self.step()
            execution = self.executions.get(execution_id)
            return execution if execution.status in statuses else None

        found: Execution = wait_for(reached, f"{execution_id} to be one of {sorted(statuses)}", every=0.02)
        return found

    def pending(self, action: str, parameters: dict[str, Any] | None = None) -> Execution:
        """Request ``action`` and run it until it waits."""
        return self.until(self.request(action, parameters or {}), {ExecutionStatus.PENDING})

    def audit(self, kind: AuditKind, execution_id: str) -> list[dict[str, Any]]:
        """The audit events of ``kind`` about ``execution_id``."""
        events = AuditLog(self.client, maxlen=100_000).read(count=100_000)
        return [e.model_dump() for e in events if e.kind is kind and e.execution == execution_id]
