"""The rules engine: trigger instances in, enforcements and requested executions out.

It reads trigger instances from the bus in batches, matches each against the
enabled rules (:mod:`st2lite.matcher`), renders the matched rules' action
parameters and writes, in **one atomic script call per batch**
(:mod:`st2lite.batch`): the trigger instance records, the enforcements, the
executions (``requested``), their entries on the request stream, the audit
events and the acknowledgement of the bus entries. A rules engine killed at
any moment therefore loses nothing: unacknowledged entries stay pending and
another engine (or this one, restarted) reclaims them. The trigger instance
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
from st2lite.audit import AuditEvent, AuditKind, AuditLog, encode_event
from st2lite.batch import BackgroundApplier, WriteBatch, batch_script
from st2lite.bus import Delivery, RedisBus
from st2lite.config import Settings
from st2lite.datastore import kv_lookup
from st2lite.enforcements import EnforcementStatus, EnforcementStore, RuleEnforcement, enforcement_id
from st2lite.exceptions import St2liteError
from st2lite.executions import ExecutionStore
from st2lite.launch import failed_execution, prepare_execution, request_in
from st2lite.matcher import MatchOutcome
from st2lite.redisdb import Redis
from st2lite.registry import RegistryCache, RegistryStore, Snapshot
from st2lite.requests import RequestQueue
from st2lite.rules import Rule
from st2lite.templating import kv_context, render_typed
from st2lite.triggers import TriggerInstance

__all__ = ["RulesEngine", "default_consumer_name"]

log = logging.getLogger(__name__)

#: Batches read from the stream at once (see ``_read_count``).
READ_AHEAD = 4
#: Batches smaller than this are written at once rather than in the background.
SMALL_BATCH = 32
#: The user executions started by rules run as (StackStorm's system user is ``stanley``).
SYSTEM_USER = "stanley"


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
        self.executions = ExecutionStore(
            client,
            ttl=settings.execution_ttl,
            audit_maxlen=settings.audit_stream_maxlen,
            trigger_maxlen=settings.trigger_stream_maxlen,
            actor=self.actor,
        )
        self.enforcements = EnforcementStore(client, ttl=settings.execution_ttl)
        self.requests = RequestQueue(client, maxlen=settings.trigger_stream_maxlen)
        self.registry = RegistryCache(RegistryStore(client))
        self._kv = kv_lookup(client)
        self._apply_script = batch_script(client)
        # Read several batches at a time: a read waits while Redis runs the script of the batch in flight.
        self._read_count = settings.engine_batch_size * READ_AHEAD
        self._applier = BackgroundApplier(self._apply_script)

    # -- the loop -------------------------------------------------------------------------------

    def run(self, stop: threading.Event, *, idle: Callable[[], None] | None = None) -> None:
        """Process the bus until ``stop`` is set; reclaims stale entries every few seconds."""
        self.bus.ensure_group()
        self.requests.ensure_group()
        next_reclaim = 0.0
        log.info("RulesEngine %s: consuming %s", self.name, keys.TRIGGER_STREAM)
        while not stop.is_set():
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
        batch = WriteBatch()
        for delivery in deliveries:
            instance = delivery.instance
            if instance is not None and keys.trigger_instance(instance.id) in done:
                continue  # an earlier attempt committed it; only the acknowledgement was missing
            batch.group(keys.trigger_instance(instance.id) if instance is not None else "")
            self._enforce_one(batch, snapshot, delivery)
        batch.tail()
        self.bus.ack_in(batch, [d.entry_id for d in deliveries])
        if len(deliveries) < SMALL_BATCH:
            self._applier.flush()
            batch.apply(self._apply_script)  # a trickle: write now, for the lowest latency
        else:
            self._applier.submit(batch)  # a flood: Redis writes this batch while the next one is built

    def flush(self) -> None:
        """Wait until every processed batch is written (and raise if a write failed)."""
        self._applier.flush()

    def _enforce_one(self, pipe: WriteBatch, snapshot: Snapshot, delivery: Delivery) -> None:
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
        render = self._pattern_renderer()
        outcomes = snapshot.ruleset.match(instance, render)
        now_ms = int(time.time() * 1000)
        enforced: list[dict[str, Any]] = []
        for outcome in outcomes:
            enforced.append(self._enforce(pipe, snapshot, instance, outcome, now_ms))
        record = {
            **instance.model_dump(mode="json"),
            "status": "processed",
            "enforcements": enforced,
        }
        pipe.set(keys.trigger_instance(instance.id), orjson.dumps(record), ex=self.settings.execution_ttl)

    def _pattern_renderer(self) -> Callable[[str, Any], Any]:
        st2kv = kv_context(self._kv)

        def render(pattern: str, payload: Any) -> Any:
            return render_typed(pattern, {"trigger": payload, "st2kv": st2kv})

        return render

    def _enforce(
        self, pipe: WriteBatch, snapshot: Snapshot, instance: TriggerInstance, outcome: MatchOutcome, now_ms: int
    ) -> dict[str, Any]:
        rule = outcome.rule
        ref = rule.full_ref
        eid = enforcement_id(instance.id, ref)
        if not outcome.matched:
            return self._failed(pipe, instance, rule, eid, f"criteria could not be evaluated: {outcome.error}", now_ms)
        try:
            action = snapshot.content.action(rule.action.ref)
        except St2liteError as exc:
            return self._failed(pipe, instance, rule, eid, str(exc), now_ms)
        if not action.enabled:
            reason = f"action '{action.full_ref}' is disabled; enable it in its metadata file and re-register its pack"
            return self._failed(pipe, instance, rule, eid, reason, now_ms)
        context = {
            "user": SYSTEM_USER,
            "pack": action.pack,
            "rule": {"id": ref, "name": rule.name, "ref": ref},
            "trigger_instance": {"id": instance.id, "name": None},
            "trace_context": {"trace_tag": instance.trace_tag} if instance.trace_tag else {},
        }
        links = {"rule": ref, "trigger": instance.trigger, "trigger_instance": instance.id, "enforcement": eid}
        try:
            prepared = prepare_execution(
                snapshot,
                action,
                rule.action.parameters,
                context=context,
                kv_lookup=self._kv,
                trigger_payload=instance.payload,
                links=links,
            )
        except St2liteError as exc:
            # StackStorm's behaviour: the execution exists, failed, with the reason.
            failed = failed_execution(action, str(exc), context=context, links=links)
            self.executions.create_in(pipe, failed, created_ms=now_ms)
            return self._failed(pipe, instance, rule, eid, str(exc), now_ms, execution_id=failed.id)
        execution_id = prepared.execution.id
        now = prepared.execution.created_at
        # The rule matched, then the execution exists: the audit log tells it in that order.
        self.audit.append_encoded(
            encode_event(
                AuditKind.RULE_MATCHED,
                self.actor,
                at=now,
                trigger=instance.trigger,
                trigger_instance=instance.id,
                rule=ref,
                enforcement=eid,
                execution=execution_id,
                action=action.full_ref,
            ),
            pipe,
        )
        request_in(pipe, prepared, executions=self.executions, requests=self.requests, created_ms=now_ms)
        self.enforcements.create_in(
            pipe,
            RuleEnforcement(
                id=eid,
                rule=ref,
                trigger_instance=instance.id,
                trigger=instance.trigger,
                execution=execution_id,
                status=EnforcementStatus.SUCCEEDED,
                enforced_at=now,
            ),
            at_ms=now_ms,
        )
        return {"rule": ref, "execution": execution_id, "status": "succeeded"}

    def _failed(
        self,
        pipe: WriteBatch,
        instance: TriggerInstance,
        rule: Rule,
        eid: str,
        reason: str,
        now_ms: int,
        *,
        execution_id: str | None = None,
    ) -> dict[str, Any]:
        ref = rule.full_ref
        log.warning("RulesEngine %s: rule %s failed for trigger instance %s: %s", self.name, ref, instance.id, reason)
        self.enforcements.create_in(
            pipe,
            RuleEnforcement(
                id=eid,
                rule=ref,
                trigger_instance=instance.id,
                trigger=instance.trigger,
                execution=execution_id,
                status=EnforcementStatus.FAILED,
                failure_reason=reason,
            ),
            at_ms=now_ms,
        )
        self.audit.append(
            AuditEvent(
                kind=AuditKind.RULE_FAILED,
                actor=self.actor,
                trigger=instance.trigger,
                trigger_instance=instance.id,
                rule=ref,
                enforcement=eid,
                execution=execution_id,
                message=reason,
            ),
            pipe,
        )
        return {"rule": ref, "execution": execution_id, "status": "failed", "failure_reason": reason}
