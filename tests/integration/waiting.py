"""A harness for executions that wait (inquiries, callback tasks): the ``waits`` fixture pack on a real API.

The pipeline runs in this process, step by step, as in test_chains.py: the
scheduler, a worker runtime running each scheduled execution once, the chain
conductor. The API (``api_server``) answers inquiries and callbacks; the
reaper's sweep is called with a chosen ``now`` so timeouts need no sleeping.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from conftest import REPO, ApiServer, wait_for

from st2lite.audit import AuditKind, AuditLog
from st2lite.chains.conductor import ChainConductor
from st2lite.datastore import kv_lookup
from st2lite.executions import Execution, ExecutionStore
from st2lite.launch import prepare_execution, request_in
from st2lite.registration import register_from_disk
from st2lite.registry import RegistryStore
from st2lite.requests import RequestQueue
from st2lite.scheduler import Scheduler
from st2lite.statuses import ExecutionStatus
from st2lite.wait_store import WaitStore
from st2lite.worker import Reaper, build_runtime, run_execution

__all__ = ["WAITS_PACK", "Waiting"]

#: Actions that wait (and a chain that asks), registered next to the API's own content.
WAITS_PACK = REPO / "tests" / "fixtures" / "runnable" / "waits"


class Waiting:
    """The ``waits`` pack registered on ``api``'s Redis, and the stages to move executions by hand."""

    def __init__(self, api: ApiServer) -> None:
        self.api = api
        settings, client = api.settings, api.redis
        report, _version = register_from_disk(settings, client, [WAITS_PACK], actor="test")
        assert not report.problems, report.problems
        self.client = client
        self.executions = ExecutionStore.for_settings(client, settings, actor="test")
        self.scheduler = Scheduler(settings, client, settings.redis_url, name="scheduler-test")
        self.worker = build_runtime(settings, settings.redis_url, name="worker-test")
        self.conductor = ChainConductor(settings, client, name="conductor-test")
        self.requests = RequestQueue(client, maxlen=10_000)
        self.requests.ensure_group()
        self.waits = WaitStore(client, self.executions, actor="test")
        self.reaper = Reaper(self.executions, settings, self.waits)

    def request(self, action: str, parameters: dict[str, Any] | None = None) -> str:
        snapshot = RegistryStore(self.client).load()
        prepared = prepare_execution(
            snapshot,
            snapshot.content.action(action),
            parameters or {},
            context={"user": "tester"},
            kv_lookup=kv_lookup(self.client),
        )
        with self.client.pipeline(transaction=True) as pipe:
            request_in(pipe, prepared, executions=self.executions, requests=self.requests)
            pipe.execute()
        return prepared.execution.id

    def step(self) -> None:
        """Schedule, run every scheduled execution once (as a worker would), let the conductor advance."""
        self.scheduler.drain()
        queued = self.scheduler.jobs.queued_ids()
        self.scheduler.jobs.empty()
        for eid in queued:
            run_execution(self.worker, eid)
        self.conductor.drain()

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
        return self.until(self.request(action, parameters), {ExecutionStatus.PENDING})

    def audit(self, kind: AuditKind, execution_id: str) -> list[dict[str, Any]]:
        """The audit events of ``kind`` about ``execution_id``."""
        events = AuditLog(self.client, maxlen=100_000).read(count=100_000)
        return [e.model_dump() for e in events if e.kind is kind and e.execution == execution_id]
