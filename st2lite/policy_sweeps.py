"""The scheduler's periodic policy work: wake delayed executions, create due retries, report missed SLAs.

All three read what ``transition.lua`` left in Redis, so nothing is held in
memory and a restarted scheduler (on any host) carries on:

* **waiters** (``action.concurrency``): a released slot wakes the next waiter at
  once, inside ``transition.lua``; this sweep is the safety net (a policy
  removed while executions waited, a wake-up lost). It puts the oldest waiters
  that fit back on the request stream; the scheduler's transition decides.
* **retries** (``action.retry``): ``st2lite:policies:retries`` holds the
  executions to retry, scored by when. Each retry is written by one
  ``apply_batch.lua`` group whose marker is ``st2lite:policies:retried:<id>``,
  so it is created once even when two schedulers take the same entry or one
  dies half way.
* **SLAs** (``action.sla``): ``st2lite:policies:sla`` holds deadlines; the
  ``sla_missed.lua`` script removes each due entry and emits
  ``core.st2.sla_missed`` in the same step, so once per execution.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from st2lite import keys
from st2lite.audit import AuditKind, encode_event, now_iso
from st2lite.batch import WriteBatch, batch_script
from st2lite.config import Settings
from st2lite.exceptions import St2liteError
from st2lite.executions import Execution, ExecutionStore, StatusChange
from st2lite.ids import new_id
from st2lite.policies import PolicyType, retry_context
from st2lite.redisdb import Redis, load_script
from st2lite.registry import Snapshot
from st2lite.requests import RequestQueue
from st2lite.statuses import ExecutionStatus
from st2lite.triggers import SLA_MISSED_TRIGGER, TriggerInstance

__all__ = ["PolicySweeper"]

log = logging.getLogger(__name__)

#: Waiters woken at most per slot prefix and sweep when their policy is gone (no limit applies any more).
_WAKE_UNLIMITED = 100


class PolicySweeper:
    """One per scheduler; :meth:`sweep` runs the three sweeps once."""

    def __init__(self, settings: Settings, client: Redis, executions: ExecutionStore, *, actor: str) -> None:
        self._settings = settings
        self._client = client
        self._executions = executions
        self._actor = actor
        self._requests = RequestQueue(client, maxlen=settings.trigger_stream_maxlen)
        self._idle = load_script(client, "policy_idle")
        self._sla = load_script(client, "sla_missed")
        self._batch = batch_script(client)

    def sweep(self, snapshot: Snapshot, *, count: int = 100) -> dict[str, int]:
        """Run every sweep once; returns how much each did."""
        return {
            "woken": self.wake_waiters(snapshot),
            "retried": len(self.create_retries(snapshot, count=count)),
            "sla_missed": len(self.report_missed_slas(snapshot, count=count)),
        }

    # -- concurrency ------------------------------------------------------------------------------

    def wake_waiters(self, snapshot: Snapshot) -> int:
        """Put the oldest waiters that fit in free slots back on the request stream; returns how many."""
        woken = 0
        for prefix in self._client.smembers(keys.POLICY_WAITING):
            queue = prefix + keys.SLOT_QUEUE_SUFFIX
            policy = snapshot.content.policies.get(keys.policy_of_slots(prefix))
            if policy is not None and policy.enabled and policy.policy_type != PolicyType.RETRY:
                free = int(policy.parameters.get("threshold", 1)) - int(
                    self._client.scard(prefix + keys.SLOT_MEMBERS_SUFFIX)
                )
            else:
                free = _WAKE_UNLIMITED  # the policy is gone: nothing holds its waiters back any more
            waiters = self._client.zrange(queue, 0, free - 1) if free > 0 else []
            if not waiters and not self._client.zcard(queue):
                self._idle(keys=[keys.POLICY_WAITING, queue], args=[prefix])
                continue
            if waiters:
                with self._client.pipeline(transaction=False) as pipe:
                    for eid in waiters:
                        self._requests.add_in(pipe, eid)
                    pipe.execute()
                woken += len(waiters)
        return woken

    # -- retries ----------------------------------------------------------------------------------

    def create_retries(self, snapshot: Snapshot, *, now: float | None = None, count: int = 100) -> list[str]:
        """Create the retries that are due; returns the new executions' ids."""
        due = self._client.zrangebyscore(keys.RETRIES_DUE, "-inf", time.time() if now is None else now, 0, count)
        created = []
        for eid in due:
            new = self._retry(snapshot, eid)
            with self._client.pipeline(transaction=False) as pipe:
                pipe.zrem(keys.RETRIES_DUE, eid)
                pipe.hdel(keys.RETRY_SECRETS, eid)
                pipe.execute()
            if new:
                created.append(new)
        return created

    def _retry(self, snapshot: Snapshot, eid: str) -> str | None:
        try:
            original = self._executions.get(eid)
        except St2liteError:
            return None
        retry = snapshot.policies_for(original.action).retry
        if retry is None:
            log.info("Policies: execution %s is not retried: its action has no retry policy any more", eid)
            return None
        ref, _params = retry
        secrets_raw = self._client.hget(keys.RETRY_SECRETS, eid)
        secrets = dict(orjson.loads(secrets_raw)) if secrets_raw else {}
        now = now_iso()
        execution = Execution(
            id=new_id(),
            action=original.action,
            runner=original.runner,
            parameters=original.parameters,
            context=retry_context(original.context, policy=ref, retried_id=eid),
            created_at=now,
            log=[StatusChange(status=ExecutionStatus.REQUESTED, timestamp=now)],
            rule=original.rule,
            trigger=original.trigger,
            trigger_instance=original.trigger_instance,
            enforcement=original.enforcement,
        )
        batch = WriteBatch()
        batch.group(keys.retried(eid))
        batch.set(keys.retried(eid), execution.id, ex=self._settings.execution_ttl)
        self._executions.create_in(batch, execution, secrets=secrets)
        self._requests.add_in(batch, execution.id)
        batch.xadd(
            keys.AUDIT_STREAM,
            {
                "e": encode_event(
                    AuditKind.POLICY_RETRIED,
                    self._actor,
                    execution=execution.id,
                    action=execution.action,
                    data={"policy": ref, "retried": eid, **execution.context["policies"]["retry"]},
                )
            },
            maxlen=self._settings.audit_stream_maxlen,
        )
        skipped = self._batch(args=batch.payload())
        if skipped:
            return None  # created already, by another scheduler or an earlier attempt
        log.info("Policies: execution %s retried as %s (policy %s)", eid, execution.id, ref)
        return execution.id

    # -- SLAs -------------------------------------------------------------------------------------

    def report_missed_slas(self, snapshot: Snapshot, *, count: int = 100) -> list[str]:
        """Emit ``core.st2.sla_missed`` for executions past their deadline; returns their ids."""
        seconds, micros = self._client.time()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        due = self._client.zrangebyscore(keys.SLA_DUE, "-inf", now_ms, 0, count, withscores=True)
        if not due:
            return []
        args: list[Any] = [keys.execution(""), self._settings.audit_stream_maxlen, self._settings.trigger_stream_maxlen]
        for eid, deadline in due:
            raw = self._client.hget(keys.execution(eid), "doc")
            doc = orjson.loads(raw) if raw else {"action": "", "created_at": ""}
            sla = snapshot.policies_for(doc["action"]).sla
            policy = (sla[0], sla[1].duration) if sla else ("", 0.0)
            instance = TriggerInstance(
                trigger=SLA_MISSED_TRIGGER,
                payload={
                    "execution_id": eid,
                    "action_ref": doc["action"],
                    "status": "__STATUS__",
                    "created_at": doc["created_at"],
                    "duration": policy[1],
                    "policy": policy[0],
                },
                source=f"execution:{eid}",
            )
            received = encode_event(
                AuditKind.TRIGGER_RECEIVED, self._actor, trigger=SLA_MISSED_TRIGGER, trigger_instance=instance.id
            )
            missed = encode_event(
                AuditKind.POLICY_SLA_MISSED,
                self._actor,
                execution=eid,
                action=doc["action"],
                status="__STATUS__",
                trigger_instance=instance.id,
                data={"policy": policy[0], "duration": policy[1], "deadline_ms": int(deadline)},
            )
            args += [eid, orjson.dumps(instance.model_dump(mode="json")), received, missed]
        emitted = list(self._sla(keys=[keys.SLA_DUE, keys.TRIGGER_STREAM, keys.AUDIT_STREAM], args=args))
        for eid in emitted:
            log.warning("Policies: execution %s missed its SLA", eid)
        return emitted
