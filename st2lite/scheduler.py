"""The scheduler: moves ``requested`` executions onto the worker queue as ``scheduled``.

StackStorm's st2scheduler in one small loop, for the executions created
``requested``: those of the API and those of large batches of the rules
engine (small ones it schedules itself, see :mod:`st2lite.rules_engine`). It
reads execution ids from the request stream and, per batch in one transaction, marks them ``scheduled``,
enqueues one RQ job each and acknowledges the entries. Executions no longer
``requested`` (canceled meanwhile) are acknowledged and skipped. A job
enqueued twice (a reclaimed entry whose first scheduler was only slow) is
harmless: the worker's ``scheduled -> running`` step lets one run through.

Policies (docs/policies.md): an execution of an action with a concurrency
policy is moved by a ``transition.lua`` call that takes its slots, or makes it
``delayed`` (or ``canceled``) when one is full, atomically; its job is queued
once that reply says ``scheduled``. An action with an ``action.sla`` policy has
the deadline of each execution recorded here. The rules engine sends every
execution of such actions through here. Every ``POLICY_SWEEP_INTERVAL`` the
scheduler also runs :class:`~st2lite.policy_sweeps.PolicySweeper` (wake-ups,
retries, missed SLAs) and queues again the jobs of ``scheduled`` executions
whose job is gone (:meth:`Scheduler.requeue_lost`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import orjson

from st2lite import keys
from st2lite.config import Settings
from st2lite.executions import ExecutionStore
from st2lite.jobqueue import JobQueue
from st2lite.policy_sweeps import PolicySweeper
from st2lite.redisdb import RECOVERABLE, Redis
from st2lite.registry import RegistryCache, RegistryStore
from st2lite.requests import Request, RequestQueue
from st2lite.statuses import ExecutionStatus

__all__ = ["Scheduler"]

log = logging.getLogger(__name__)

#: Seconds between two runs of the policy sweeps.
POLICY_SWEEP_INTERVAL = 0.5
#: Where a scheduled execution may come from: requested, or delayed and woken.
_SCHEDULABLE = [ExecutionStatus.REQUESTED, ExecutionStatus.DELAYED]


class Scheduler:
    """Consumes the request stream; one per rules engine process."""

    def __init__(self, settings: Settings, client: Redis, redis_url: str, *, name: str) -> None:
        self.settings = settings
        self.name = name
        self._client = client
        self.requests = RequestQueue(client, maxlen=settings.trigger_stream_maxlen)
        self.executions = ExecutionStore.for_settings(client, settings, actor=f"scheduler:{name}")
        self.jobs = JobQueue(redis_url)
        self.registry = RegistryCache(RegistryStore(client))
        self.policies = PolicySweeper(settings, client, self.executions, actor=f"scheduler:{name}")

    def run(self, stop: threading.Event) -> None:
        """Schedule until ``stop`` is set."""
        self.requests.ensure_group()
        next_reclaim = next_sweep = 0.0
        while not stop.is_set():
            if time.monotonic() >= next_reclaim:
                self._reclaim()
                self.requeue_lost(older_than=self.settings.abandon_after)
                next_reclaim = time.monotonic() + max(1.0, self.settings.engine_claim_idle_ms / 2000)
            if time.monotonic() >= next_sweep:
                try:
                    self.policies.sweep(self.registry.current())
                except RECOVERABLE as exc:
                    log.warning("Scheduler %s: policy sweep failed: %s", self.name, exc)
                next_sweep = time.monotonic() + POLICY_SWEEP_INTERVAL
            batch = self.requests.read(
                self.name, count=self.settings.engine_batch_size, block_ms=int(POLICY_SWEEP_INTERVAL * 1000)
            )
            if batch:
                self.schedule(batch)

    def drain(self) -> int:
        """Schedule everything waiting now, without blocking (tests and benchmarks)."""
        self.requests.ensure_group()
        done = 0
        while batch := self.requests.read(self.name, count=self.settings.engine_batch_size, block_ms=None):
            self.schedule(batch)
            done += len(batch)
        return done

    def _reclaim(self) -> None:
        while batch := self.requests.reclaim(
            self.name, min_idle_ms=self.settings.engine_claim_idle_ms, count=self.settings.engine_batch_size
        ):
            log.warning("Scheduler %s: reclaimed %d stale requests", self.name, len(batch))
            self.schedule(batch)

    def requeue_lost(self, *, older_than: float, count: int = 500) -> list[str]:
        """Enqueue again the jobs of ``scheduled`` executions whose job is gone; returns their ids.

        A worker killed after RQ handed it a job but before it claimed the
        execution leaves it ``scheduled`` with no job and no lease. Executions
        created more than ``older_than`` seconds ago and still ``scheduled``
        are checked; one whose job is neither queued nor held by a worker gets
        a new job (the worker's claim makes a duplicate harmless).
        """
        horizon = int((time.time() - older_than) * 1000)
        index = keys.execution_index("status", ExecutionStatus.SCHEDULED.value)
        candidates = self._client.zrangebyscore(index, "-inf", horizon, start=0, num=count)
        lost = [eid for eid in candidates if not self.jobs.pending(eid)]
        if lost:
            with self._client.pipeline(transaction=True) as pipe:
                self.jobs.enqueue_in(pipe, lost)
                pipe.execute()
            log.warning("Scheduler %s: enqueued again %d scheduled executions whose job was lost", self.name, len(lost))
        return lost

    def schedule(self, batch: list[Request]) -> None:
        """Schedule one batch of requests: one transaction, plus one more for executions that took slots."""
        ids = [eid for _entry, eid in batch if eid]
        snapshot = self.registry.current()
        slots, deadlines = self._policies(ids) if snapshot.holds_back else ({}, {})
        plain = [eid for eid in ids if eid not in slots]
        # No status pre-check: an execution no longer 'requested' (canceled meanwhile) is not moved by the
        # transition, and the worker runs only 'scheduled' ones, so its job is skipped.
        with self._client.pipeline(transaction=True) as pipe:
            for eid in [*plain, *slots]:
                self.executions.transition_in(
                    pipe,
                    eid,
                    ExecutionStatus.SCHEDULED,
                    allowed_from=_SCHEDULABLE,
                    slots=slots.get(eid),
                    sla_deadline_ms=deadlines.get(eid),
                )
            self.jobs.enqueue_in(pipe, plain)
            if not slots:
                self.requests.ack_in(pipe, [entry for entry, _eid in batch])
            replies = pipe.execute()
        skipped = sum(1 for reply in replies[: len(plain)] if not int(reply[0]))
        if skipped:
            log.info("Scheduler %s: skipped %d requests no longer 'requested'", self.name, skipped)
        if slots:
            # Jobs only for the executions that took their slots. If this process dies here, they stay
            # 'scheduled' without a job and requeue_lost queues them; the entries come back unacknowledged.
            replies = replies[len(plain) : len(plain) + len(slots)]
            ready = [eid for eid, reply in zip(slots, replies, strict=True) if _reached(reply) == "scheduled"]
            with self._client.pipeline(transaction=True) as pipe:
                self.jobs.enqueue_in(pipe, ready)
                self.requests.ack_in(pipe, [entry for entry, _eid in batch])
                pipe.execute()

    def _policies(self, ids: list[str]) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int]]:
        """The concurrency slots each execution takes (when its action has such policies) and its SLA deadline."""
        snapshot = self.registry.current()
        with self._client.pipeline(transaction=False) as pipe:
            for eid in ids:
                pipe.hmget(keys.execution(eid), ["doc", "created_ms"])
            rows = pipe.execute()
        slots: dict[str, list[dict[str, Any]]] = {}
        deadlines: dict[str, int] = {}
        for eid, (raw, created_ms) in zip(ids, rows, strict=True):
            if not raw:
                continue
            doc = orjson.loads(raw)
            policies = snapshot.policies_for(doc["action"])
            if policies.concurrency:
                slots[eid] = policies.slots(doc["action"], doc.get("parameters") or {})
            if policies.sla is not None:
                deadlines[eid] = int(created_ms) + int(policies.sla[1].duration * 1000)
        return slots, deadlines


def _reached(reply: Any) -> str:
    """The status a ``transition.lua`` call with slots left the execution in ("" when it did not move it)."""
    return str(reply[2]) if int(reply[0]) and len(reply) > 2 else ""
