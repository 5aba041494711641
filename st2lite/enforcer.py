"""The rule enforcer: turns "rule R matched trigger instance T" into writes.

For each match it records the enforcement, and either creates an execution,
or, when the action is missing, disabled or its parameters cannot be
rendered, a failed enforcement with the reason (and, for parameter errors, a failed execution,
as StackStorm does). It only queues writes on a :class:`~st2lite.batch.WriteBatch`;
the rules engine applies them.

The execution is created ``requested`` with its entry on the request stream,
for the scheduler, or, when the engine asks for it (``schedule=True``: small
batches, where latency matters more than batching RQ's writes), ``scheduled``
with its job queued as soon as the batch is written: StackStorm's
``requested -> scheduled`` step is then taken in the same write, one stream
hop less. Executions of actions with a concurrency or SLA policy are always
created ``requested``: the scheduler applies those policies.

Rules whose parameters are fixed (no template in them or in the action's
defaults) take a fast path: their executions are written from an
:class:`~st2lite.executions.ExecutionTemplate` built once per rule and
registry version, since only ids, times and the trigger instance differ.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from st2lite.audit import AuditKind, AuditLog, encode_event, now_iso
from st2lite.batch import PLACEHOLDER_START, CommandTemplate, WriteBatch, placeholder
from st2lite.enforcements import EnforcementStatus, EnforcementStore, RuleEnforcement, enforcement_id
from st2lite.exceptions import St2liteError
from st2lite.executions import ExecutionStore, ExecutionTemplate
from st2lite.ids import new_id
from st2lite.launch import failed_execution, prepare_execution, request_in, schedule_in
from st2lite.matcher import MatchOutcome
from st2lite.parameters import mask_secrets
from st2lite.registry import Snapshot
from st2lite.requests import RequestQueue
from st2lite.rules import Rule
from st2lite.statuses import ExecutionStatus
from st2lite.templating import KvLookup
from st2lite.triggers import TriggerInstance

__all__ = ["SYSTEM_USER", "RuleEnforcer"]

log = logging.getLogger(__name__)

#: The user executions started by rules run as (StackStorm's system user is ``stanley``).
SYSTEM_USER = "stanley"


class RuleEnforcer:
    """Enforces matches against one registry snapshot (build a new one when the registry changes)."""

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        executions: ExecutionStore,
        enforcements: EnforcementStore,
        requests: RequestQueue,
        audit: AuditLog,
        kv: KvLookup,
        actor: str,
    ) -> None:
        self.snapshot = snapshot
        self._executions = executions
        self._enforcements = enforcements
        self._requests = requests
        self._audit = audit
        self._kv = kv
        self._actor = actor
        #: rule ref -> its template, or None when its parameters need rendering for each match.
        self._templates: dict[str, ExecutionTemplate | None] = {}
        #: (rule ref, has a trace tag, scheduled) -> the recorded writes of one firing.
        self._recordings: dict[tuple[str, bool, bool], CommandTemplate | None] = {}

    def enforce(
        self, pipe: WriteBatch, instance: TriggerInstance, outcome: MatchOutcome, now_ms: int, *, schedule: bool
    ) -> dict[str, Any]:
        """Queue the writes of one match; returns its summary for the trigger instance record.

        ``schedule``: create the execution ``scheduled`` and queue its job once ``pipe`` is applied,
        rather than ``requested`` for the scheduler.
        """
        rule = outcome.rule
        ref = rule.full_ref
        eid = enforcement_id(instance.id, ref)
        if not outcome.matched:
            return self._failed(pipe, instance, rule, eid, f"criteria could not be evaluated: {outcome.error}", now_ms)
        try:
            action = self.snapshot.content.action(rule.action.ref)
        except St2liteError as exc:
            return self._failed(pipe, instance, rule, eid, str(exc), now_ms)
        if not action.enabled:
            reason = f"action '{action.full_ref}' is disabled; enable it in its metadata file and re-register its pack"
            return self._failed(pipe, instance, rule, eid, reason, now_ms)
        # An action with a concurrency or SLA policy always goes through the scheduler, which applies them.
        schedule = schedule and not self.snapshot.policies_for(action.full_ref).held_back
        recorded = self._recorded(rule, traced=bool(instance.trace_tag), schedule=schedule)
        if recorded is not None:
            execution_id, now = new_id(), now_iso()
            trace = orjson.dumps(instance.trace_tag).decode()[1:-1]  # its text inside a JSON string
            pipe.replay(recorded, [execution_id, now, str(now_ms), instance.id, trace])
            if schedule:
                pipe.enqueue_after(execution_id)
            # What _record returns for this firing (the replay wrote its index entries).
            return {"rule": ref, "execution": execution_id, "status": "succeeded", "enforced_at": now}
        else:
            context = {**self._context(rule, action.pack), **_instance_context(instance)}
            links = {"rule": ref, "trigger": instance.trigger, "trigger_instance": instance.id, "enforcement": eid}
            try:
                prepared = prepare_execution(
                    self.snapshot,
                    action,
                    rule.action.parameters,
                    context=context,
                    kv_lookup=self._kv,
                    trigger_payload=instance.payload,
                    links=links,
                    scheduled=schedule,
                )
            except St2liteError as exc:
                # StackStorm's behaviour: the execution exists, failed, with the reason.
                failed = failed_execution(action, str(exc), context=context, links=links)
                self._executions.create_in(pipe, failed, created_ms=now_ms)
                return self._failed(pipe, instance, rule, eid, str(exc), now_ms, execution_id=failed.id)
            execution_id, now = prepared.execution.id, prepared.execution.created_at
            self._matched(pipe, instance, ref, eid, execution_id, action.full_ref, now)
            if schedule:
                schedule_in(pipe, prepared, executions=self._executions, created_ms=now_ms)
            else:
                request_in(pipe, prepared, executions=self._executions, requests=self._requests, created_ms=now_ms)
        succeeded = EnforcementStatus.SUCCEEDED
        return self._record(pipe, instance, ref, eid, succeeded, now_ms, execution_id=execution_id, at=now)

    def _recorded(self, rule: Rule, *, traced: bool, schedule: bool) -> CommandTemplate | None:
        """The writes of one firing of ``rule``, recorded with placeholders (None: its parameters need rendering).

        Recorded by running the same code as a firing, with :func:`~st2lite.batch.placeholder` values
        for what changes between firings: 1 execution id, 2 time, 3 time in ms, 4 trigger instance id,
        5 trace tag.
        """
        key = (rule.full_ref, traced, schedule)
        if key in self._recordings:
            return self._recordings[key]
        template = self._template(rule)
        recorded = None
        if template is not None and not _holds_marker(rule, template):
            execution_id, now, now_ms, instance_id, trace = (placeholder(n) for n in range(1, 6))
            instance = TriggerInstance.model_construct(
                id=instance_id, trigger=rule.trigger.type, trace_tag=trace if traced else ""
            )
            eid = enforcement_id(instance_id, template.rule)
            recorder = WriteBatch()
            recorder.group()
            self._matched(recorder, instance, template.rule, eid, execution_id, template.action, now)
            self._executions.create_from_template_in(
                recorder,
                template,
                execution_id=execution_id,
                created_at=now,
                created_ms=now_ms,
                trigger_instance=instance_id,
                enforcement=eid,
                trace_tag=instance.trace_tag,
                status=ExecutionStatus.SCHEDULED if schedule else ExecutionStatus.REQUESTED,
            )
            if not schedule:
                self._requests.add_in(recorder, execution_id)
            self._record(
                recorder,
                instance,
                template.rule,
                eid,
                EnforcementStatus.SUCCEEDED,
                now_ms,
                execution_id=execution_id,
                at=now,
            )
            recorded = CommandTemplate.from_recording(recorder)
        self._recordings[key] = recorded
        return recorded

    def _matched(
        self,
        pipe: WriteBatch,
        instance: TriggerInstance,
        ref: str,
        eid: str,
        execution_id: str,
        action: str,
        now: str,
    ) -> None:
        # Written before the execution: the audit log tells that the rule matched, then what it started.
        self._audit.append_encoded(
            encode_event(
                AuditKind.RULE_MATCHED,
                self._actor,
                at=now,
                trigger=instance.trigger,
                trigger_instance=instance.id,
                rule=ref,
                enforcement=eid,
                execution=execution_id,
                action=action,
            ),
            pipe,
        )

    def _record(
        self,
        pipe: WriteBatch,
        instance: TriggerInstance,
        ref: str,
        eid: str,
        status: EnforcementStatus,
        now_ms: int | str,
        *,
        execution_id: str | None,
        reason: str | None = None,
        at: str | None = None,
    ) -> dict[str, Any]:
        """Index the enforcement; return what the trigger instance record keeps of it."""
        enforcement = RuleEnforcement(
            id=eid,
            rule=ref,
            trigger_instance=instance.id,
            trigger=instance.trigger,
            execution=execution_id,
            status=status,
            failure_reason=reason,
            enforced_at=at or now_iso(),
        )
        self._enforcements.index_in(pipe, enforcement, at_ms=now_ms)
        return EnforcementStore.summary(enforcement)

    @staticmethod
    def _context(rule: Rule, pack: str) -> dict[str, Any]:
        ref = rule.full_ref
        return {"user": SYSTEM_USER, "pack": pack, "rule": {"id": ref, "name": rule.name, "ref": ref}}

    def _template(self, rule: Rule) -> ExecutionTemplate | None:
        ref = rule.full_ref
        if ref in self._templates:
            return self._templates[ref]
        action = self.snapshot.content.action(rule.action.ref)
        template = None
        try:
            values = self.snapshot.static_parameters(action, rule.action.parameters)
        except St2liteError:
            values = None  # the general path reports the error for each match, as it should
        if values is not None:
            specs = self.snapshot.parameter_specs(action)
            template = ExecutionTemplate(
                action=action.full_ref,
                runner=action.runner_type,
                parameters=mask_secrets(specs, values),
                secrets={name: values[name] for name, spec in specs.items() if spec.secret and name in values},
                context=self._context(rule, action.pack),
                rule=ref,
                trigger=rule.trigger.type,
            )
        self._templates[ref] = template
        return template

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
        log.warning("RuleEnforcer: rule %s failed for trigger instance %s: %s", ref, instance.id, reason)
        summary = self._record(
            pipe, instance, ref, eid, EnforcementStatus.FAILED, now_ms, execution_id=execution_id, reason=reason
        )
        self._audit.append_encoded(
            encode_event(
                AuditKind.RULE_FAILED,
                self._actor,
                trigger=instance.trigger,
                trigger_instance=instance.id,
                rule=ref,
                enforcement=eid,
                execution=execution_id,
                message=reason,
            ),
            pipe,
        )
        return summary


def _holds_marker(rule: Rule, template: ExecutionTemplate) -> bool:
    """True when the rule or its parameters contain the placeholder marker: such a rule is never recorded."""
    marker = PLACEHOLDER_START.encode()
    return (
        marker in orjson.dumps(rule.model_dump())
        or marker in template.parameters_json
        or marker in (template.secrets or b"")
    )


def _instance_context(instance: TriggerInstance) -> dict[str, Any]:
    return {
        "trigger_instance": {"id": instance.id, "name": None},
        "trace_context": {"trace_tag": instance.trace_tag} if instance.trace_tag else {},
    }
