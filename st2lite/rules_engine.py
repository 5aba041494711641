"""The rules engine: trigger instances in, enforcements and executions out.

It reads trigger instances from the bus in batches, matches each against the
enabled rules (:mod:`st2lite.matcher`), renders the matched rules' action
parameters and writes, in **one atomic script call per batch**
(:mod:`st2lite.batch`): the trigger instance records, the enforcements, the
executions, the audit events and the acknowledgement of the bus entries.
Executions of a large batch are written ``requested`` with their entries on
the request stream: the scheduler (:mod:`st2lite.scheduler`) queues their
RQ jobs in batches. Those of a small batch (a trickle of events, where
latency matters) are written ``scheduled`` and the engine queues their jobs
right after the write, one stream hop less. A rules engine killed at any
moment therefore loses nothing: unacknowledged entries stay pending and
another engine (or this one, restarted) reclaims them, and an execution
written ``scheduled`` whose job was not queued yet is queued by the
scheduler's :meth:`~st2lite.scheduler.Scheduler.requeue_lost`. The trigger instance
records double as "already processed" markers that the script checks inside
Redis before writing an instance's effects, so two engines that both hold an
entry can never both enforce it.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

from st2lite import keys
from st2lite.audit import AuditEvent, AuditKind, AuditLog
from st2lite.batch import BackgroundApplier, WriteBatch, batch_script
from st2lite.bus import Delivery, RedisBus
from st2lite.config import Settings
from st2lite.datastore import install_decrypt_kv, kv_lookup
from st2lite.encryption import DatastoreKey
from st2lite.enforcements import EnforcementStore
from st2lite.enforcer import RuleEnforcer
from st2lite.executions import ExecutionStore
from st2lite.heartbeats import Heartbeat
from st2lite.jobqueue import JobQueue
from st2lite.redisdb import Redis
from st2lite.registry import RegistryCache, RegistryStore, Snapshot
from st2lite.requests import RequestQueue
from st2lite.templating import kv_context, render_typed
from st2lite.trigger_instances import index_in

__all__ = ["SMALL_BATCH", "RulesEngine", "default_consumer_name"]

log = logging.getLogger(__name__)

#: Batches read from the stream at once (see ``_read_count``).
READ_AHEAD = 4
#: Batches smaller than this are written at once rather than in the background.
SMALL_BATCH = 32


def default_consumer_name() -> str:
    """A consumer name unique to this process: ``<host>:<pid>``."""
    import os

    return f"{socket.gethostname()}:{os.getpid()}"


class RulesEngine:
    """Consumes the trigger bus; one instance per process."""

    def __init__(self, settings: Settings, client: Redis, *, name: str | None = None) -> None:
        self.settings = settings
        self.name = name or default_consumer_name()
        self.actor = f"rules_engine:{self.name}"
        self._client = client
        self.audit = AuditLog(client, maxlen=settings.audit_stream_maxlen)
        self.bus = RedisBus(client, maxlen=settings.trigger_stream_maxlen, audit=self.audit)
        self.executions = ExecutionStore.for_settings(client, settings, actor=self.actor)
        self.enforcements = EnforcementStore(client, ttl=settings.execution_ttl)
        self.requests = RequestQueue(client, maxlen=settings.trigger_stream_maxlen)
        self.jobs = JobQueue(client)
        self.registry = RegistryCache(RegistryStore(client))
        self._kv = kv_lookup(client)
        install_decrypt_kv(DatastoreKey(settings.datastore_key_path))
        self._current_enforcer: RuleEnforcer | None = None
        self._apply_script = batch_script(client)
        # Read several batches at a time: a read waits while Redis runs the script of the batch in flight.
        self._read_count = settings.engine_batch_size * READ_AHEAD
        self._applier = BackgroundApplier(self._apply_script)
        #: Read by ``/api/v1/health`` (``st2lite:heartbeats:rules``).
        self.heartbeat = Heartbeat(client, "rules", self.name)

    # -- the loop -------------------------------------------------------------------------------

    def run(self, stop: threading.Event, *, idle: Callable[[], None] | None = None) -> None:
        """Process the bus until ``stop`` is set; reclaims stale entries every few seconds."""
        self.bus.ensure_group()
        self.requests.ensure_group()
        next_reclaim = 0.0
        log.info("RulesEngine %s: consuming %s", self.name, keys.TRIGGER_STREAM)
        while not stop.is_set():
            self.heartbeat.maybe_beat()
            if time.monotonic() >= next_reclaim:
                self.reclaim_stale()
                next_reclaim = time.monotonic() + max(1.0, self.settings.engine_claim_idle_ms / 2000)
            deliveries = self.bus.consume(self.name, count=self._read_count, block_ms=None)
            if deliveries:
                self.process(deliveries)
                continue
            self.flush()  # nothing waiting: make sure the last batch is written before blocking
            if idle is not None:
                idle()
            deliveries = self.bus.consume(self.name, count=self._read_count, block_ms=500)
            if deliveries:
                self.process(deliveries)
        self.flush()
        self.heartbeat.leave()

    def reclaim_stale(self) -> int:
        """Process entries another engine left pending too long; returns how many."""
        total = 0
        while True:
            deliveries = self.bus.reclaim(
                self.name, min_idle_ms=self.settings.engine_claim_idle_ms, count=self.settings.engine_batch_size
            )
            if not deliveries:
                return total
            log.warning("RulesEngine %s: reclaimed %d stale trigger instances", self.name, len(deliveries))
            self.process(deliveries)
            self.flush()
            total += len(deliveries)

    def drain(self) -> int:
        """Process everything currently waiting, without blocking (tests and benchmarks)."""
        self.bus.ensure_group()
        self.requests.ensure_group()
        done = 0
        while deliveries := self.bus.consume(self.name, count=self._read_count, block_ms=None):
            self.process(deliveries)
            done += len(deliveries)
        self.flush()
        return done

    # -- one batch ------------------------------------------------------------------------------

    def process(self, deliveries: list[Delivery]) -> None:
        """Enforce deliveries in batches of ``engine_batch_size``, each acknowledged in one atomic write."""
        size = self.settings.engine_batch_size
        for start in range(0, len(deliveries), size):
            self._process_batch(deliveries[start : start + size])

    def _process_batch(self, deliveries: list[Delivery]) -> None:
        """Enforce one batch and acknowledge it, in one atomic write (see :mod:`st2lite.batch`)."""
        snapshot = self.registry.current()
        # Only reclaimed entries can have been processed already: skip their work early (the script checks all).
        markers = [keys.trigger_instance(d.instance.id) for d in deliveries if d.instance is not None and d.reclaimed]
        replies = self._client.mget(markers) if markers else []
        done = {key for key, value in zip(markers, replies, strict=True) if value}
        # A trickle is written at once and its executions scheduled here, for the lowest latency; a flood is
        # written in the background while the next batch is built, and scheduled by the scheduler in batches.
        trickle = len(deliveries) < SMALL_BATCH
        batch = WriteBatch()
        for delivery in deliveries:
            instance = delivery.instance
            if instance is not None and keys.trigger_instance(instance.id) in done:
                continue  # an earlier attempt committed it; only the acknowledgement was missing
            batch.group(keys.trigger_instance(instance.id) if instance is not None else "")
            self._enforce_one(batch, snapshot, delivery, schedule=trickle)
        batch.tail()
        self.bus.ack_in(batch, [d.entry_id for d in deliveries])
        if trickle:
            self._applier.flush()
            jobs = batch.apply(self._apply_script)
            if jobs:
                self.jobs.enqueue(jobs)
        else:
            self._applier.submit(batch)

    def flush(self) -> None:
        """Wait until every processed batch is written (and raise if a write failed)."""
        self._applier.flush()

    def _enforce_one(self, pipe: WriteBatch, snapshot: Snapshot, delivery: Delivery, *, schedule: bool) -> None:
        instance = delivery.instance
        if instance is None:
            self.audit.append(
                AuditEvent(
                    kind=AuditKind.TRIGGER_REJECTED,
                    actor=self.actor,
                    message=f"bus entry {delivery.entry_id} dropped: {delivery.error}",
                ),
                pipe,
            )
            return
        outcomes = snapshot.ruleset.match(instance, self._render)
        now_ms = int(time.time() * 1000)
        enforcer = self._enforcer(snapshot)
        enforced = [enforcer.enforce(pipe, instance, outcome, now_ms, schedule=schedule) for outcome in outcomes]
        record = {
            **instance.__dict__,  # orjson writes the fields (and the time, RFC 3339) directly
            "status": "processed",
            "enforcements": enforced,
        }
        pipe.set(keys.trigger_instance(instance.id), orjson.dumps(record), ex=self.settings.execution_ttl)
        index_in(pipe, instance)

    def _render(self, pattern: str, payload: Any) -> Any:
        """Render a templated criteria pattern (``trigger`` and ``st2kv.system`` in scope)."""
        return render_typed(pattern, {"trigger": payload, "st2kv": kv_context(self._kv)})

    def _enforcer(self, snapshot: Snapshot) -> RuleEnforcer:
        if self._current_enforcer is None or self._current_enforcer.snapshot is not snapshot:
            self._current_enforcer = RuleEnforcer(
                snapshot,
                executions=self.executions,
                enforcements=self.enforcements,
                requests=self.requests,
                audit=self.audit,
                kv=self._kv,
                actor=self.actor,
            )
        return self._current_enforcer
