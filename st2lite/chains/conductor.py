"""The chain conductor: runs action chains one task at a time without a waiting worker.

A chain execution is claimed by a worker like any other; the worker calls
:meth:`ChainConductor.start`, which reads the chain file, renders ``vars``,
creates the first task's execution (``scheduled``, a child of the chain) and
saves the chain's :class:`~st2lite.chains.flow.ChainState` in the chain's
record, then returns: the chain stays ``running`` and no worker waits on it.

When a child ends, ``transition.lua`` appends ``{parent, child, status}`` to
``st2lite:chain-events`` in the same step. Conductors (a thread of every
``st2lite rules``) read that stream as the consumer group ``conductors`` and
call :meth:`ChainConductor.advance`: record the task, publish, pick the next
task and create its execution, or end the chain with its status and result.

Durability: each step (new state + next child + the acknowledgement of the
event) is one ``apply_batch.lua`` call whose group marker
(``st2lite:chain:<id>:<step>``) makes a repeated step a no-op, so a
conductor killed at any point is replaced by another that reclaims the event
and takes the step once; a child's job lost between the write and its
enqueue is queued again by the scheduler's ``requeue_lost``. An event whose
child is not the one the chain waits on (a repeat) is acknowledged and
dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from st2lite import keys
from st2lite.audit import now_iso
from st2lite.batch import WriteBatch, batch_script
from st2lite.chains.flow import ChainState, TaskRecord, chain_result, chain_status, next_task, template_context
from st2lite.chains.spec import ChainSpec, load_chain
from st2lite.config import Settings
from st2lite.datastore import kv_lookup
from st2lite.exceptions import InvalidTransitionError, St2liteError
from st2lite.executions import Execution, ExecutionStore
from st2lite.jobqueue import JobQueue
from st2lite.launch import prepare_execution, schedule_in
from st2lite.parameters import render_data
from st2lite.redisdb import RECOVERABLE, Redis
from st2lite.registry import RegistryCache, RegistryStore
from st2lite.statuses import ExecutionStatus
from st2lite.streams import StreamGroup
from st2lite.templating import kv_context

__all__ = ["ChainConductor", "ChainEvent"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChainEvent:
    """``child`` of chain ``parent`` ended with ``status`` (one entry of ``st2lite:chain-events``)."""

    entry_id: str
    parent: str
    child: str
    status: ExecutionStatus


class _ChainStopped(Exception):
    """The chain cannot go on: it fails with this message (StackStorm's top-level chain error)."""


class ChainConductor:
    """Starts and advances chains; one per process that does either (workers and rules engines)."""

    def __init__(self, settings: Settings, client: Redis, *, name: str) -> None:
        self.settings = settings
        self.name = name
        self._client = client
        self.executions = ExecutionStore.for_settings(client, settings, actor=f"conductor:{name}")
        self.registry = RegistryCache(RegistryStore(client))
        self.jobs = JobQueue(client)
        self.events = StreamGroup(
            client, keys.CHAIN_EVENTS, keys.CONDUCTOR_GROUP, maxlen=settings.trigger_stream_maxlen
        )
        self._script = batch_script(client)
        self._kv = kv_lookup(client)

    # -- the loop -----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Advance chains as their children end, until ``stop``; reclaims events of dead conductors."""
        self.events.ensure_group()
        next_reclaim = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() >= next_reclaim:
                    self._reclaim()
                    next_reclaim = time.monotonic() + max(1.0, self.settings.engine_claim_idle_ms / 2000)
                for event in self._parse(self.events.read(self.name, count=100, block_ms=500)):
                    self.advance(event)
            except RECOVERABLE as exc:  # the thread must outlive a Redis outage
                log.warning("Conductor %s: %s; retrying in 1s", self.name, exc)
                stop.wait(1.0)

    def drain(self) -> int:
        """Advance on every event waiting now, without blocking (tests and benchmarks)."""
        self.events.ensure_group()
        done = 0
        while entries := self.events.read(self.name, count=100, block_ms=None):
            for event in self._parse(entries):
                self.advance(event)
            done += len(entries)
        return done

    def _reclaim(self) -> None:
        while entries := self.events.reclaim(self.name, min_idle_ms=self.settings.engine_claim_idle_ms, count=100):
            log.warning("Conductor %s: reclaimed %d stale chain events", self.name, len(entries))
            for event in self._parse(entries):
                self.advance(event)

    def _parse(self, entries: list[tuple[str, dict[str, str]]]) -> list[ChainEvent]:
        events = []
        for entry_id, fields in entries:
            try:
                events.append(ChainEvent(entry_id, fields["p"], fields["c"], ExecutionStatus(fields["s"])))
            except (KeyError, ValueError):
                log.error("Conductor %s: dropping malformed chain event %s: %r", self.name, entry_id, fields)
                self.events.ack_in(self._client, [entry_id])
        return events

    # -- starting -----------------------------------------------------------------------------

    def start(self, chain: Execution, secrets: dict[str, Any]) -> None:
        """Start ``chain`` (claimed ``running`` by the caller): its first task, or its end."""
        parameters = {**chain.parameters, **secrets}
        state = None
        try:
            spec = self._spec(chain)
            state = ChainState(spec=spec)
            context = self._context(state, parameters, chain)
            state = state.model_copy(update={"vars": self._render(spec.vars, context, "vars")})
            first = spec.start_task()
            if first is None:
                self._finish(chain.id, state, ExecutionStatus.SUCCEEDED)
                return
            self._launch(chain, state, parameters, first, step="start", ack=None)
        except _ChainStopped as stop:
            self._finish(chain.id, state or _empty(), ExecutionStatus.FAILED, error=str(stop))

    def _spec(self, chain: Execution) -> ChainSpec:
        try:
            action = self.registry.current().content.action(chain.action)
            path = _chain_file(action.pack_path, action.entry_point)
            return load_chain(path)
        except St2liteError as exc:
            raise _ChainStopped(f"cannot read the chain of {chain.action}: {exc}") from exc

    # -- advancing ----------------------------------------------------------------------------

    def advance(self, event: ChainEvent) -> None:
        """Take the step that follows ``event`` (a child ended), once."""
        fields = self._client.hgetall(keys.execution(event.parent))
        raw_state = fields.get("chain") if fields else None
        if not fields or fields.get("status") != ExecutionStatus.RUNNING.value or not raw_state:
            self._ack(event)  # the chain ended already (or was canceled): nothing to do
            return
        state = ChainState.model_validate_json(raw_state)
        if state.waiting_on != event.child:
            self._ack(event)  # a repeat of an event already handled
            return
        chain = self.executions.get(event.parent)
        secrets = orjson.loads(fields["secrets"]) if fields.get("secrets") else {}
        parameters = {**chain.parameters, **secrets}
        child = self.executions.get(event.child)
        task_name = state.current or ""
        record = TaskRecord(
            id=task_name,
            name=task_name,
            execution_id=child.id,
            liveaction_id=child.id,
            state=child.status.value,
            created_at=child.created_at,
            updated_at=child.end_timestamp or now_iso(),
            result=child.result,
        )
        state = state.model_copy(update={"tasks": [*state.tasks, record]})
        try:
            if child.status is ExecutionStatus.SUCCEEDED:
                state = self._publish(state, chain, parameters, task_name, child.result)
            following = next_task(state, child.status, self._context(state, parameters, chain))
        except St2liteError as exc:
            self._finish(chain.id, state, ExecutionStatus.FAILED, error=f"task '{task_name}': {exc}", ack=event)
            return
        except _ChainStopped as stop:
            self._finish(chain.id, state, ExecutionStatus.FAILED, error=str(stop), ack=event)
            return
        if following is None:
            self._finish(chain.id, state, chain_status(child.status), ack=event)
            return
        try:
            self._launch(chain, state, parameters, following, step=f"after:{child.id}", ack=event)
        except _ChainStopped as stop:
            self._finish(chain.id, state, ExecutionStatus.FAILED, error=str(stop), ack=event)

    def _publish(
        self, state: ChainState, chain: Execution, parameters: dict[str, Any], task: str, result: Any
    ) -> ChainState:
        spec_task = state.spec.task(task)
        if spec_task is None or not spec_task.publish:
            return state
        context = self._context(state, parameters, chain, task_result=(task, result))
        published = self._render(spec_task.publish, context, f"task '{task}' publish")
        return state.model_copy(update={"vars": {**state.vars, **published}})

    # -- the writes ---------------------------------------------------------------------------

    def _launch(
        self,
        chain: Execution,
        state: ChainState,
        parameters: dict[str, Any],
        task_name: str,
        *,
        step: str,
        ack: ChainEvent | None,
    ) -> None:
        """Create the execution of ``task_name`` and save the state, as one step."""
        task = state.spec.task(task_name)
        if task is None:
            known = ", ".join(t.name for t in state.spec.chain)
            raise _ChainStopped(f"the next task '{task_name}' is not a task of the chain; tasks: {known}")
        snapshot = self.registry.current()
        child_context = {
            "user": chain.context.get("user"),
            "parent": {"execution_id": chain.id, **chain.context},
            "chain": {"name": task.name},
        }
        try:
            action = snapshot.content.action(task.ref)
            prepared = prepare_execution(
                snapshot,
                action,
                task.values,
                context=child_context,
                kv_lookup=self._kv,
                links={"parent": chain.id},
                scheduled=True,
                variables=template_context(state, parameters),
            )
        except St2liteError as exc:
            raise _ChainStopped(f"task '{task.name}' could not start: {exc}") from exc
        state = state.model_copy(update={"current": task.name, "waiting_on": prepared.execution.id})
        batch = WriteBatch()
        batch.group(keys.chain_step(chain.id, step))
        batch.set(keys.chain_step(chain.id, step), "1", ex=self.settings.execution_ttl)
        batch.hset(keys.execution(chain.id), mapping={"chain": state.model_dump_json()})
        schedule_in(batch, prepared, executions=self.executions)
        batch.tail()
        if ack is not None:
            self.events.ack_in(batch, [ack.entry_id])
        jobs = batch.apply(self._script)
        if jobs:
            self.jobs.enqueue(jobs)

    def _finish(
        self,
        chain_id: str,
        state: ChainState,
        status: ExecutionStatus,
        *,
        error: str | None = None,
        ack: ChainEvent | None = None,
    ) -> None:
        result = chain_result(state, display_published=self._display_published(chain_id), error=error)
        if error is not None:
            log.warning("Conductor %s: chain %s failed: %s", self.name, chain_id, error)
        try:
            self.executions.transition(
                chain_id,
                status,
                fields={"result": result, "end": now_iso()},
                allowed_from=[ExecutionStatus.RUNNING, ExecutionStatus.CANCELING],
                lease_until=None,
            )
        except InvalidTransitionError as exc:
            log.info("Conductor %s: chain %s not ended as %s: %s", self.name, chain_id, status.value, exc)
        if ack is not None:
            self._ack(ack)

    def _display_published(self, chain_id: str) -> bool:
        """The chain's ``display_published`` runner parameter (its value is among the parameters)."""
        try:
            return bool(self.executions.get(chain_id).parameters.get("display_published", True))
        except St2liteError:
            return True

    def _ack(self, event: ChainEvent) -> None:
        self.events.ack_in(self._client, [event.entry_id])

    # -- templates ----------------------------------------------------------------------------

    def _context(
        self,
        state: ChainState,
        parameters: dict[str, Any],
        chain: Execution,
        *,
        task_result: tuple[str, Any] | None = None,
    ) -> dict[str, Any]:
        user = str(chain.context.get("user") or "") or None
        st2kv = kv_context(self._kv, user=user)
        return {
            **template_context(state, parameters, task_result=task_result),
            "st2kv": st2kv,
            "system": st2kv["system"],
            "action_context": {**chain.context, "execution_id": chain.id},
            "config_context": {},
        }

    @staticmethod
    def _render(values: dict[str, Any], context: dict[str, Any], what: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in values.items():
            try:
                out[name] = render_data(value, {**context, **out})
            except St2liteError as exc:
                raise _ChainStopped(f"{what}: '{name}' could not be rendered: {exc}") from exc
        return out


def _empty() -> ChainState:
    return ChainState(spec=ChainSpec(chain=[]))


def _chain_file(pack_path: str, entry_point: str) -> Path:
    return Path(pack_path) / "actions" / entry_point
