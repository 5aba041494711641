"""The chain conductor: runs action chains without a waiting worker.

A chain execution is claimed by a worker like any other; the worker calls
:meth:`ChainConductor.start`, which reads the chain file, renders ``vars``,
creates the first task's execution(s) (``scheduled``, children of the chain)
and saves the chain's :class:`~st2lite.chains.flow.ChainState` in the chain's
record, then returns: the chain stays ``running`` and no worker waits on it.

When a child ends, ``transition.lua`` appends ``{parent, child, status}`` to
``st2lite:chain-events`` in the same step. Conductors (a thread of every
``st2lite rules``) read that stream as the consumer group ``conductors`` and
call :meth:`ChainConductor.advance`: record the task, retry it, start the
next item, publish and pick the next task, or end the chain with its status
and result. Retries that wait are kept in the sorted set
``st2lite:chain-retries`` (due time) and started by :meth:`ChainConductor.sweep_retries`.

Durability: each step (new state + new children + retry entries + the
acknowledgement of the event) is one ``apply_batch.lua`` call whose group
marker (``st2lite:chain:<id>:<step>``) makes a repeated step a no-op, so a
conductor killed at any point is replaced by another that reclaims the event
and takes the step once; a child's job lost between the write and its
enqueue is queued again by the scheduler's ``requeue_lost``. An event whose
child the chain does not wait for (a repeat) is acknowledged and dropped.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from st2lite import keys
from st2lite.action_triggers import ending_triggers
from st2lite.actions import ParameterSpec
from st2lite.audit import AuditLog, now_iso
from st2lite.batch import WriteBatch, batch_script
from st2lite.bus import RedisBus
from st2lite.cancel import cancel
from st2lite.chains.flow import (
    ChainState,
    ItemsProgress,
    Run,
    TaskRecord,
    chain_result,
    chain_status,
    default_notify_message,
    items_outcome,
    next_task,
    notify_sections,
    retry_delay,
    template_context,
)
from st2lite.chains.spec import ChainSpec, ChainTask, concurrency_limit, load_chain
from st2lite.config import Settings
from st2lite.datastore import kv_lookup
from st2lite.exceptions import InvalidTransitionError, St2liteError
from st2lite.executions import Execution, ExecutionStore
from st2lite.jobqueue import JobQueue
from st2lite.launch import Prepared, prepare_execution, request_in, schedule_in
from st2lite.pack_configs import config_context
from st2lite.parameters import render_data
from st2lite.redisdb import RECOVERABLE, Redis
from st2lite.registry import RegistryCache, RegistryStore, Snapshot
from st2lite.requests import RequestQueue
from st2lite.statuses import ExecutionStatus
from st2lite.streams import StreamGroup
from st2lite.templating import kv_context
from st2lite.triggers import NOTIFY_TRIGGER, TriggerInstance

__all__ = ["ChainConductor", "ChainEvent"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChainEvent:
    """``child`` of chain ``parent`` ended with ``status`` (one entry of ``st2lite:chain-events``)."""

    entry_id: str
    parent: str
    child: str
    status: ExecutionStatus


@dataclass(frozen=True, slots=True)
class _Step:
    """One step of one chain: what it answers (an event, a due retry) and its marker."""

    chain: Execution
    parameters: dict[str, Any]
    marker: str
    ack: ChainEvent | None = None
    #: The ``st2lite:chain-retries`` member this step consumes.
    retry_member: str | None = None
    #: The chain's status when the step began (``pausing``/``paused``: new runs are held back).
    status: ExecutionStatus = ExecutionStatus.RUNNING
    #: Written with the step, next to the state: task records to append, item results, item lists.
    records: list[TaskRecord] = field(default_factory=list)
    item_results: list[tuple[str, int, Any]] = field(default_factory=list)
    item_inputs: dict[str, list[Any]] = field(default_factory=dict)
    #: ``core.st2.generic.notifytrigger`` instances for the task that ended (its ``notify``).
    notifications: list[TriggerInstance] = field(default_factory=list)


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
        self.requests = RequestQueue(client, maxlen=settings.trigger_stream_maxlen)
        self.bus = RedisBus(
            client, maxlen=settings.trigger_stream_maxlen, audit=AuditLog(client, maxlen=settings.audit_stream_maxlen)
        )
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
                self.sweep_retries()
                for event in self._parse(self.events.read(self.name, count=100, block_ms=200)):
                    self.advance(event)
            except RECOVERABLE as exc:  # the thread must outlive a Redis outage
                log.warning("Conductor %s: %s; retrying in 1s", self.name, exc)
                stop.wait(1.0)

    def drain(self) -> int:
        """Advance on every event waiting now and start due retries, without blocking (tests, benchmarks)."""
        self.events.ensure_group()
        done = self.sweep_retries()
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
        step = _Step(chain, {**chain.parameters, **secrets}, marker="start")
        state = ChainState(spec=ChainSpec(chain=[]))
        try:
            state = ChainState(spec=self._spec(chain))
            state = state.model_copy(update={"vars": self._render(state.spec.vars, self._context(state, step), "vars")})
            first = state.spec.start_task()
            rerun = chain.context.get("re-run") or {}
            if rerun.get("tasks"):
                state, first, kept = self._resumed(state, str(rerun["ref"]), str(rerun["tasks"][0]))
                step.records.extend(kept)
            self._enter(step, state, first, last=None)
        except _ChainStopped as stopped:
            self._finish(step, state, ExecutionStatus.FAILED, error=str(stopped))

    def _resumed(self, state: ChainState, original_id: str, start: str) -> tuple[ChainState, str, list[TaskRecord]]:
        """A re-run from ``start``: the tasks the original chain ran before it, their results and variables."""
        try:
            original = self.executions.get(original_id)
        except St2liteError as exc:
            raise _ChainStopped(f"cannot re-run from execution {original_id}: {exc}") from exc
        result = original.result if isinstance(original.result, dict) else {}
        records = [TaskRecord.model_validate(t) for t in result.get("tasks", [])]
        cut = next((i for i, r in enumerate(records) if r.name == start), None)
        if cut is None:
            raise _ChainStopped(f"task '{start}' did not run in execution {original_id}; cannot re-run from it")
        kept = records[:cut]
        results: dict[str, Any] = {r.name: r.result for r in kept if r.item is None}
        for name in {r.name for r in kept if r.item is not None}:
            by_item = {r.item: r.result for r in kept if r.name == name and r.item is not None}
            results[name] = [by_item[i] for i in sorted(by_item)]
        published = result.get("published")
        variables = {**state.vars, **(published if isinstance(published, dict) else {})}
        return state.model_copy(update={"results": results, "vars": variables}), start, kept

    def _spec(self, chain: Execution) -> ChainSpec:
        try:
            action = self.registry.current().content.action(chain.action)
            return load_chain(Path(action.pack_path) / "actions" / action.entry_point)
        except St2liteError as exc:
            raise _ChainStopped(f"cannot read the chain of {chain.action}: {exc}") from exc

    # -- advancing ----------------------------------------------------------------------------

    def advance(self, event: ChainEvent) -> None:
        """Take the step that follows ``event`` (a child ended, or the chain was canceled, paused, resumed), once."""
        loaded = self._load(event.parent)
        if loaded is None or (event.child and event.child not in loaded[2].running):
            self._ack(event)  # the chain ended, or a repeat of an event already handled
            return
        chain, parameters, state, status = loaded
        marker = f"after:{event.child}" if event.child else f"{event.status.value}:{event.entry_id}"
        step = _Step(chain, parameters, marker, ack=event, status=status)
        if not event.child:
            self._control(step, state, event.status)
            return
        run = state.running[event.child]
        child = self.executions.get(event.child)
        record = TaskRecord(
            id=run.task,
            name=run.task,
            execution_id=child.id,
            liveaction_id=child.id,
            state=child.status.value,
            created_at=child.created_at,
            updated_at=child.end_timestamp or now_iso(),
            result=child.result,
            item=run.item,
            attempt=run.attempt,
        )
        running = {eid: r for eid, r in state.running.items() if eid != child.id}
        state = state.model_copy(update={"running": running})
        step.records.append(record)
        step.notifications.extend(self._notifications(step, state, run.task, child))
        if status is ExecutionStatus.CANCELING:
            self._wind_down(step, state)
            return
        try:
            self._after_run(step, state, run, child)
        except _ChainStopped as stopped:
            self._finish(step, state, ExecutionStatus.FAILED, error=str(stopped))

    def _control(self, step: _Step, state: ChainState, what: ExecutionStatus) -> None:
        """The chain itself was canceled, paused or resumed (see :mod:`st2lite.cancel`)."""
        chain_id = step.chain.id
        if what is ExecutionStatus.CANCELING and step.status is ExecutionStatus.CANCELING:
            for child_id in state.running:
                with contextlib.suppress(St2liteError):  # it ended meanwhile: its event is on the way
                    cancel(self.executions, self._client, child_id, user=f"chain {chain_id}")
            for key in state.retries:
                self._client.zrem(keys.CHAIN_RETRIES, f"{chain_id}|{key}")
            self._wind_down(step, state.model_copy(update={"retries": {}, "deferred": []}))
        elif what is ExecutionStatus.PAUSING and step.status is ExecutionStatus.PAUSING:
            if not state.running:
                self._move(chain_id, ExecutionStatus.PAUSED, ExecutionStatus.PAUSING)
            self._ack(step.ack)
        elif what is ExecutionStatus.RESUMING and step.status is ExecutionStatus.RESUMING:
            self._move(chain_id, ExecutionStatus.RUNNING, ExecutionStatus.RESUMING)
            resumed = _Step(step.chain, step.parameters, step.marker, ack=step.ack)
            try:
                self._commit(resumed, state.model_copy(update={"deferred": []}), state.deferred)
            except _ChainStopped as stopped:
                self._finish(resumed, state, ExecutionStatus.FAILED, error=str(stopped))
        else:
            self._ack(step.ack)  # an outdated request (the chain moved on since)

    def _wind_down(self, step: _Step, state: ChainState) -> None:
        """A canceled chain: wait for its running tasks to end, then end ``canceled``."""
        if state.running:
            self._commit(step, state, [])
        else:
            self._finish(step, state, ExecutionStatus.CANCELED)

    def _move(self, chain_id: str, target: ExecutionStatus, current: ExecutionStatus) -> None:
        try:
            self.executions.transition(chain_id, target, allowed_from=[current])
        except InvalidTransitionError as exc:
            log.info("Conductor %s: chain %s not moved to %s: %s", self.name, chain_id, target.value, exc)

    def _after_run(self, step: _Step, state: ChainState, run: Run, child: Execution) -> None:
        task = self._task(state, run.task)
        delay = retry_delay(task, child.status, run.attempt)
        if delay is not None:
            again = run.model_copy(update={"attempt": run.attempt + 1})
            if delay <= 0:
                self._commit(step, state, [again])
            else:
                key = ChainState.retry_key(again)
                state = state.model_copy(update={"retries": {**state.retries, key: again}})
                self._commit(step, state, [], retry_at=(key, time.time() + delay))
            return
        if run.item is None:
            self._task_ended(step, state, run.task, child.status, child.result)
            return
        progress = state.items[run.task].record(run.item, child.status)
        step.item_results.append((run.task, run.item, child.result))
        if progress.next < progress.total:  # a slot freed: start the next item
            started = Run(task=run.task, item=progress.next)
            progress = progress.model_copy(update={"next": progress.next + 1})
            self._commit(step, _with_items(state, run.task, progress), [started])
        elif not progress.done:
            self._commit(step, _with_items(state, run.task, progress), [])
        else:
            stored = self._client.hgetall(keys.chain_part(step.chain.id, f"results:{run.task}"))
            by_index = {int(i): orjson.loads(raw) for i, raw in stored.items()}
            by_index.update({i: result for task, i, result in step.item_results if task == run.task})
            status, results = items_outcome(progress, by_index)
            items = {name: p for name, p in state.items.items() if name != run.task}
            self._task_ended(step, state.model_copy(update={"items": items}), run.task, status, results)

    def _task_ended(
        self, step: _Step, state: ChainState, name: str, status: ExecutionStatus, result: Any, *, depth: int = 0
    ) -> None:
        """A task is over (all its items, all its retries): publish, then go where it leads."""
        state = state.model_copy(update={"results": {**state.results, name: result}})
        task = self._task(state, name)
        try:
            if status is ExecutionStatus.SUCCEEDED and task.publish:
                context = self._context(state, step, task_result=(name, result))
                published = self._render(task.publish, context, f"task '{name}' publish")
                state = state.model_copy(update={"vars": {**state.vars, **published}})
            following = next_task(state.spec, name, status, self._context(state, step))
        except St2liteError as exc:
            raise _ChainStopped(f"task '{name}': {exc}") from exc
        self._enter(step, state, following, last=status, depth=depth)

    def _enter(
        self, step: _Step, state: ChainState, name: str | None, *, last: ExecutionStatus | None, depth: int = 0
    ) -> None:
        """Start task ``name`` (or end the chain when None); a ``with-items`` task with no items ends at once."""
        if name is None:
            self._finish(step, state, chain_status(last))
            return
        task = self._task(state, name)
        if task.with_items is None:
            self._commit(step, state, [Run(task=name)])
            return
        context = self._context(state, step)
        items = self._items(task, context)
        if items:
            first = min(self._concurrency(task, context) or len(items), len(items))
            progress = ItemsProgress(total=len(items), next=first)
            step.item_inputs[name] = items
            self._commit(step, _with_items(state, name, progress), [Run(task=name, item=i) for i in range(first)])
            return
        if depth > len(state.spec.chain):
            raise _ChainStopped(f"task '{name}': tasks with no items lead back to one another without running anything")
        self._task_ended(step, state, name, ExecutionStatus.SUCCEEDED, [], depth=depth + 1)

    # -- due retries --------------------------------------------------------------------------

    def sweep_retries(self, now: float | None = None) -> int:
        """Start the retries whose time has come; returns how many were looked at."""
        due = self._client.zrangebyscore(keys.CHAIN_RETRIES, "-inf", now or time.time(), start=0, num=100)
        for member in due:
            chain_id, _, key = member.partition("|")
            loaded = self._load(chain_id)
            run = loaded[2].retries.get(key) if loaded is not None else None
            if loaded is None or run is None:
                self._client.zrem(keys.CHAIN_RETRIES, member)  # its chain ended meanwhile
                continue
            chain, parameters, state, status = loaded
            if status is not ExecutionStatus.RUNNING:
                continue  # paused (or being canceled, which drops it): started once the chain runs again
            step = _Step(chain, parameters, f"retry:{key}", retry_member=member)
            state = state.model_copy(update={"retries": {k: r for k, r in state.retries.items() if k != key}})
            try:
                self._commit(step, state, [run])
            except _ChainStopped as stopped:
                self._finish(step, state, ExecutionStatus.FAILED, error=str(stopped))
        return len(due)

    # -- the writes ---------------------------------------------------------------------------

    def _commit(
        self, step: _Step, state: ChainState, runs: list[Run], *, retry_at: tuple[str, float] | None = None
    ) -> None:
        """Create the executions of ``runs`` and save the state, as one step (a pausing chain holds runs back)."""
        held = step.status in (ExecutionStatus.PAUSING, ExecutionStatus.PAUSED)
        if held:
            state = state.model_copy(update={"deferred": [*state.deferred, *runs]})
            runs = []
        snapshot = self.registry.current()
        prepared = [self._prepare(snapshot, step, state, run) for run in runs]
        running = {**state.running, **{p.execution.id: run for p, run in zip(prepared, runs, strict=True)}}
        state = state.model_copy(update={"running": running})
        batch = WriteBatch()
        marker = keys.chain_step(step.chain.id, step.marker)
        batch.group(marker)
        batch.set(marker, "1", ex=self.settings.execution_ttl)
        batch.hset(keys.execution(step.chain.id), mapping={"chain": state.model_dump_json()})
        self._write_data(batch, step)
        for one in prepared:
            if one.execution.status is ExecutionStatus.SCHEDULED:
                schedule_in(batch, one, executions=self.executions)
            else:  # its action has a concurrency or SLA policy: the scheduler applies it
                request_in(batch, one, executions=self.executions, requests=self.requests)
        if retry_at is not None:
            batch.zadd(keys.CHAIN_RETRIES, {f"{step.chain.id}|{retry_at[0]}": retry_at[1]})
        self._tail(batch, step)
        jobs = batch.apply(self._script)
        if jobs:
            self.jobs.enqueue(jobs)
        if held and not state.running and step.status is ExecutionStatus.PAUSING:
            self._move(step.chain.id, ExecutionStatus.PAUSED, ExecutionStatus.PAUSING)

    def _prepare(self, snapshot: Snapshot, step: _Step, state: ChainState, run: Run) -> Prepared:
        task = self._task(state, run.task)
        chain = step.chain
        context: dict[str, Any] = {
            "user": chain.context.get("user"),
            "parent": {"execution_id": chain.id, **chain.context},
        }
        context["chain"] = {"name": task.name} if run.item is None else {"name": task.name, "item": run.item}
        variables = template_context(state, step.parameters)
        if run.item is not None:
            variables.update(item=self._item(step, run.task, run.item), item_index=run.item)
        try:
            action = snapshot.content.action(task.ref)
            values = task.values
            if task.timeout is not None:
                values["timeout"] = _timeout_value(task, snapshot.parameter_specs(action))
            return prepare_execution(
                snapshot,
                action,
                values,
                context=context,
                kv_lookup=self._kv,
                links={"parent": chain.id},
                scheduled=not snapshot.policies_for(action.full_ref).held_back,
                variables=variables,
            )
        except St2liteError as exc:
            raise _ChainStopped(f"task '{task.name}' could not start: {exc}") from exc

    def _finish(self, step: _Step, state: ChainState, status: ExecutionStatus, *, error: str | None = None) -> None:
        chain = step.chain
        stored = self._client.lrange(keys.chain_part(chain.id, "tasks"), 0, -1)
        records = [TaskRecord.model_validate_json(raw) for raw in stored] + step.records
        display = bool(step.parameters.get("display_published", True))
        result = chain_result(records, state.vars, display_published=display, error=error)
        if error is not None:
            log.warning("Conductor %s: chain %s failed: %s", self.name, chain.id, error)
        if step.notifications:  # the last task's notify, once (the marker), before the chain says it ended
            first = WriteBatch()
            marker = keys.chain_step(chain.id, step.marker)
            first.group(marker)
            first.set(marker, "1", ex=self.settings.execution_ttl)
            for instance in step.notifications:
                self.bus.publish_in(first, instance, actor=f"conductor:{self.name}")
            first.apply(self._script)
        snapshot = self.registry.current()
        delay = snapshot.policies_for(chain.action).retry_after(status, chain.context, top_level=chain.parent is None)
        end = now_iso()
        # A chain that ended emits what any execution does (rules react to a failed chain), in the same step.
        emit = ending_triggers(self.settings, snapshot, chain, status, result, end)
        try:
            self.executions.transition(
                chain.id,
                status,
                fields={"result": result, "end": end},
                emit=emit,
                retry_at=None if delay is None else time.time() + delay,
                allowed_from=sorted(_UNDER_WAY - {ExecutionStatus.PAUSED}),
            )
        except InvalidTransitionError as exc:
            log.info("Conductor %s: chain %s not ended as %s: %s", self.name, chain.id, status.value, exc)
        batch = WriteBatch()
        self._tail(batch, step)
        if len(batch):
            batch.apply(self._script)

    def _write_data(self, batch: WriteBatch, step: _Step) -> None:
        """The step's records, item lists and item results, next to the state (see :func:`keys.chain_part`)."""
        chain_id, ttl = step.chain.id, self.settings.execution_ttl
        written = []
        if step.records:
            key = keys.chain_part(chain_id, "tasks")
            batch.rpush(key, *(record.model_dump_json() for record in step.records))
            written.append(key)
        for task, items in step.item_inputs.items():
            key = keys.chain_part(chain_id, f"items:{task}")
            batch.rpush(key, *(orjson.dumps(item) for item in items))
            written.append(key)
        for task, index, result in step.item_results:
            key = keys.chain_part(chain_id, f"results:{task}")
            batch.hset(key, mapping={str(index): orjson.dumps(result)})
            written.append(key)
        for key in dict.fromkeys(written):
            batch.expire(key, ttl)
        for instance in step.notifications:
            self.bus.publish_in(batch, instance, actor=f"conductor:{self.name}")

    def _notifications(self, step: _Step, state: ChainState, task_name: str, child: Execution) -> list[TriggerInstance]:
        """The notify triggers of a task that ended (none for tasks in the chain's ``skip_notify``)."""
        task = state.spec.task(task_name)
        skipped = step.parameters.get("skip_notify") or []
        if task is None or not task.notify or task_name in skipped:
            return []
        context = {
            "action_parameters": child.parameters,
            "action_context": child.context,
            "action_results": child.result,
            "st2kv": kv_context(self._kv),
        }
        out = []
        for section, spec in notify_sections(task.notify, child.status):
            try:
                message = render_data(spec.get("message") or default_notify_message(section, child.action), context)
                data = render_data(spec.get("data") or {}, context)
            except St2liteError as exc:
                log.warning("Conductor %s: notify of task '%s' not rendered: %s", self.name, task_name, exc)
                continue
            for route in spec.get("routes") or spec.get("channels") or []:
                payload = {
                    "execution_id": child.id,
                    "status": child.status.value,
                    "start_timestamp": child.start_timestamp,
                    "end_timestamp": child.end_timestamp,
                    "action_ref": child.action,
                    "runner_ref": child.runner,
                    "channel": route,
                    "route": route,
                    "message": message,
                    "data": data,
                }
                out.append(TriggerInstance(trigger=NOTIFY_TRIGGER, payload=payload, source=f"execution:{child.id}"))
        return out

    def _item(self, step: _Step, task: str, index: int) -> Any:
        """Item ``index`` of a ``with-items`` task (entered in this step, or read from its stored list)."""
        if task in step.item_inputs:
            return step.item_inputs[task][index]
        raw = self._client.lindex(keys.chain_part(step.chain.id, f"items:{task}"), index)
        if raw is None:
            raise _ChainStopped(f"task '{task}': item {index} is gone (expired with the chain's data?)")
        return orjson.loads(raw)

    def _tail(self, batch: WriteBatch, step: _Step) -> None:
        """What a step always does, applied or repeated: acknowledge its event, drop its due retry."""
        batch.tail()
        if step.ack is not None:
            self.events.ack_in(batch, [step.ack.entry_id])
        if step.retry_member is not None:
            batch.zrem(keys.CHAIN_RETRIES, step.retry_member)

    def _ack(self, event: ChainEvent | None) -> None:
        if event is not None:
            self.events.ack_in(self._client, [event.entry_id])

    def _load(self, chain_id: str) -> tuple[Execution, dict[str, Any], ChainState, ExecutionStatus] | None:
        """The chain, its parameters (secrets in clear: kept while it runs), state and status, read once;
        None once it ended (or never started)."""
        fields = self._client.hgetall(keys.execution(chain_id))
        raw = fields.get("chain") if fields else None
        if not fields or not raw or fields.get("status") not in _UNDER_WAY:
            return None
        chain = ExecutionStore.decode(fields)
        secrets = orjson.loads(fields["secrets"]) if fields.get("secrets") else {}
        return chain, {**chain.parameters, **secrets}, ChainState.model_validate_json(raw), chain.status

    # -- templates ----------------------------------------------------------------------------

    def _context(self, state: ChainState, step: _Step, *, task_result: tuple[str, Any] | None = None) -> dict[str, Any]:
        chain = step.chain
        st2kv = kv_context(self._kv, user=str(chain.context.get("user") or "") or None)
        return {
            **template_context(state, step.parameters, task_result=task_result),
            "st2kv": st2kv,
            "system": st2kv["system"],
            "action_context": {**chain.context, "execution_id": chain.id},
            "config_context": config_context(
                self.registry.current().content.packs.get(chain.action.partition(".")[0]), lookup=self._kv
            ),
        }

    @staticmethod
    def _task(state: ChainState, name: str) -> ChainTask:
        task = state.spec.task(name)
        if task is None:
            known = ", ".join(t.name for t in state.spec.chain)
            raise _ChainStopped(f"the next task '{name}' is not a task of the chain; tasks: {known}")
        return task

    def _items(self, task: ChainTask, context: dict[str, Any]) -> list[Any]:
        source = task.with_items
        try:
            items = render_data(source, context) if isinstance(source, str) else source
        except St2liteError as exc:
            raise _ChainStopped(f"task '{task.name}': with-items could not be rendered: {exc}") from exc
        if not isinstance(items, list):
            raise _ChainStopped(
                f"task '{task.name}': with-items gave {type(items).__name__} {items!r:.80}, not a list; "
                "give it a list or a template that renders one"
            )
        return items

    @staticmethod
    def _concurrency(task: ChainTask, context: dict[str, Any]) -> int | None:
        """How many items run at once (``None``: all); a template is rendered when the task starts."""
        if not isinstance(task.concurrency, str):
            return task.concurrency
        try:
            return concurrency_limit(render_data(task.concurrency, context))
        except (St2liteError, ValueError) as exc:
            raise _ChainStopped(f"task '{task.name}': {exc}") from exc

    @staticmethod
    def _render(values: dict[str, Any], context: dict[str, Any], what: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in values.items():
            try:
                out[name] = render_data(value, {**context, **out})
            except St2liteError as exc:
                raise _ChainStopped(f"{what}: '{name}' could not be rendered: {exc}") from exc
        return out


#: The statuses of a chain that has started and not ended.
_UNDER_WAY = frozenset(
    {
        ExecutionStatus.RUNNING,
        ExecutionStatus.CANCELING,
        ExecutionStatus.PAUSING,
        ExecutionStatus.PAUSED,
        ExecutionStatus.RESUMING,
    }
)


def _with_items(state: ChainState, task: str, progress: ItemsProgress) -> ChainState:
    return state.model_copy(update={"items": {**state.items, task: progress}})


def _timeout_value(task: ChainTask, specs: Mapping[str, ParameterSpec]) -> float | int:
    """The task's ``timeout`` as the action's ``timeout`` parameter takes it (an integer: rounded up)."""
    spec = specs.get("timeout")
    if spec is None or task.timeout is None:
        raise _ChainStopped(
            f"task '{task.name}': action '{task.ref}' has no 'timeout' parameter; remove the task's timeout"
        )
    return math.ceil(task.timeout) if spec.type == "integer" else task.timeout
