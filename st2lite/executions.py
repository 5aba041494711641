"""Executions: one run of an action, its record in Redis and its lifecycle.

An execution is a Redis hash (``st2lite:execution:<id>``) with the fields
below, plus one sorted set per filterable field (status, action, rule,
parent, trigger instance) and one of all executions, each scored by creation
time, so listing the newest N with one filter is O(log n + N) whatever the
number stored. Status changes go through one Lua script
(``lua/transition.lua``) that checks the transition table, moves the status
index, appends the log and the audit event and, when asked, emits the action
trigger — all or nothing.

Hash fields: ``doc`` (JSON of the fixed part), ``status``, ``created_ms``,
``log`` (lines ``status|timestamp``), ``result`` (JSON), ``start``, ``end``,
``worker``, ``secrets`` (JSON of secret parameter values; deleted when the
execution completes, never returned by the API), ``parent`` (a child's
chain, for ``transition.lua``) and ``chain`` (a running chain's
:class:`~st2lite.chains.flow.ChainState`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from st2lite import keys
from st2lite.audit import AuditEvent, AuditKind, encode_event, now_iso
from st2lite.batch import add_to_indexes
from st2lite.config import Settings
from st2lite.exceptions import ExecutionNotFoundError, InvalidTransitionError
from st2lite.redisdb import Pipeline, Redis, load_script
from st2lite.statuses import COMPLETED, ExecutionStatus, sources_of
from st2lite.triggers import TriggerInstance

__all__ = [
    "INDEXED_FIELDS",
    "Execution",
    "ExecutionBrief",
    "ExecutionFilter",
    "ExecutionStore",
    "ExecutionTemplate",
    "StatusChange",
    "index_keys",
]

#: Execution fields with an index (``st2lite:executions:<field>:<value>``).
INDEXED_FIELDS = ("status", "action", "rule", "parent")
#: The ``parent`` index value of executions without a parent (StackStorm's ``parent=null`` filter).
TOP_LEVEL = "null"


class StatusChange(BaseModel):
    """One entry of an execution's log."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: ExecutionStatus
    timestamp: str


class Execution(BaseModel):
    """One run of an action. ``parameters`` has secret values masked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    action: str
    runner: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    status: ExecutionStatus = ExecutionStatus.REQUESTED
    result: Any = None
    context: dict[str, Any] = Field(default_factory=dict)
    rule: str | None = None
    trigger: str | None = None
    trigger_instance: str | None = None
    enforcement: str | None = None
    parent: str | None = None
    children: list[str] = Field(default_factory=list)
    created_at: str = Field(default_factory=now_iso)
    start_timestamp: str | None = None
    end_timestamp: str | None = None
    log: list[StatusChange] = Field(default_factory=list)
    worker: str | None = None

    @property
    def elapsed_seconds(self) -> float | None:
        """Seconds from start to end (or to now while it runs)."""
        if not self.start_timestamp:
            return None
        start = datetime.fromisoformat(self.start_timestamp)
        end = datetime.fromisoformat(self.end_timestamp) if self.end_timestamp else datetime.now(start.tzinfo)
        return round((end - start).total_seconds(), 6)


#: The part of an execution stored as one JSON document.
_DOC_FIELDS = (
    "id",
    "action",
    "runner",
    "parameters",
    "context",
    "rule",
    "trigger",
    "trigger_instance",
    "enforcement",
    "parent",
    "created_at",
)


class ExecutionBrief(BaseModel):
    """What an aggregate over many executions needs of each (the dashboard's overview): read without the
    parameters, result and status log, and without validating a whole :class:`Execution`."""

    model_config = ConfigDict(frozen=True)

    id: str
    action: str
    status: ExecutionStatus
    created_at: str
    end_timestamp: str | None = None


class ExecutionFilter(BaseModel):
    """Which executions to list; every given field must match."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: str | None = None
    action: str | None = None
    rule: str | None = None
    parent: str | None = None
    #: Only executions created after this time.
    since: datetime | None = None
    #: Only executions created before this time.
    until: datetime | None = None

    def index_keys(self) -> list[str]:
        return [
            keys.execution_index(name, value) for name in INDEXED_FIELDS if (value := getattr(self, name)) is not None
        ]


def index_keys(*, status: ExecutionStatus, action: str, rule: str | None, parent: str | None) -> list[str]:
    """Every index an execution with these fields belongs to (top-level ones: parent ``null``)."""
    out = [
        keys.EXECUTIONS_ALL,
        keys.execution_index("status", status.value),
        keys.execution_index("action", action),
        keys.execution_index("parent", parent or TOP_LEVEL),
    ]
    if rule is not None:
        out.append(keys.execution_index("rule", rule))
    return out


class ExecutionTemplate:
    """The fixed part of the executions a rule with fixed parameters starts, serialized once.

    Only the id, the times and the trigger instance differ between them, so the
    rules engine builds one of these per rule and registry version and
    :meth:`ExecutionStore.create_from_template_in` fills in the rest.
    """

    __slots__ = (
        "action",
        "context",
        "index_keys",
        "parameters",
        "parameters_json",
        "rule",
        "runner",
        "secrets",
        "trigger",
    )

    def __init__(
        self,
        *,
        action: str,
        runner: str,
        parameters: Mapping[str, Any],
        secrets: Mapping[str, Any],
        context: Mapping[str, Any],
        rule: str,
        trigger: str,
    ) -> None:
        self.action = action
        self.runner = runner
        #: Masked values, serialized once and embedded as they are.
        self.parameters_json = orjson.dumps(dict(parameters))
        self.parameters = orjson.Fragment(self.parameters_json)
        self.secrets = orjson.dumps(dict(secrets)) if secrets else None
        #: The context without ``trigger_instance`` and ``trace_context``.
        self.context = dict(context)
        self.rule = rule
        self.trigger = trigger
        #: Created ``requested`` or, when the rules engine schedules them itself, ``scheduled``.
        self.index_keys = {
            status: index_keys(status=status, action=action, rule=rule, parent=None)
            for status in (ExecutionStatus.REQUESTED, ExecutionStatus.SCHEDULED)
        }


class ExecutionStore:
    """Reads and writes executions in Redis."""

    def __init__(
        self,
        client: Redis,
        *,
        ttl: int,
        audit_maxlen: int,
        trigger_maxlen: int,
        actor: str,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._audit_maxlen = audit_maxlen
        self._trigger_maxlen = trigger_maxlen
        self._actor = actor
        self._transition = load_script(client, "transition")

    @classmethod
    def for_settings(cls, client: Redis, settings: Settings, *, actor: str) -> ExecutionStore:
        """A store with the retention and stream limits of ``settings``."""
        return cls(
            client,
            ttl=settings.execution_ttl,
            audit_maxlen=settings.audit_stream_maxlen,
            trigger_maxlen=settings.trigger_stream_maxlen,
            actor=actor,
        )

    # -- creation -----------------------------------------------------------------------------

    def create_in(
        self,
        pipe: Pipeline,
        execution: Execution,
        *,
        secrets: Mapping[str, Any] | None = None,
        created_ms: int | None = None,
        actor: str | None = None,
    ) -> None:
        """Queue the writes that create ``execution`` (and its audit events, by ``actor``, default the store's)."""
        eid = execution.id
        extra: dict[str, Any] = {}
        if execution.result is not None:
            extra["result"] = orjson.dumps(execution.result)
        if execution.end_timestamp:
            extra["end"] = execution.end_timestamp
        if execution.parent:
            extra["parent"] = execution.parent  # read by transition.lua: a child's end moves its chain on
        self._write_in(
            pipe,
            eid,
            doc=orjson.dumps({name: getattr(execution, name) for name in _DOC_FIELDS}),
            status=execution.status,
            ms=str(created_ms if created_ms is not None else int(time.time() * 1000)),
            log="\n".join(f"{c.status.value}|{c.timestamp}" for c in execution.log),
            index_keys=index_keys(
                status=execution.status, action=execution.action, rule=execution.rule, parent=execution.parent
            ),
            created_event=self._created_event(
                eid,
                execution.action,
                parameters=execution.parameters,
                rule=execution.rule,
                trigger_instance=execution.trigger_instance,
                enforcement=execution.enforcement,
                parent=execution.parent,
                actor=actor,
            ),
            secrets=orjson.dumps(dict(secrets)) if secrets else None,
            extra=extra,
            at=execution.log[-1].timestamp if execution.log else None,
        )

    def create_from_template_in(
        self,
        pipe: Pipeline,
        template: ExecutionTemplate,
        *,
        execution_id: str,
        created_at: str,
        created_ms: int | str,
        trigger_instance: str,
        enforcement: str,
        trace_tag: str = "",
        status: ExecutionStatus = ExecutionStatus.REQUESTED,
    ) -> None:
        """Queue the writes that create an execution of ``template`` (the rules engine's fast path).

        Writes exactly what :meth:`create_in` writes for the same execution;
        ``status`` is ``requested``, or ``scheduled`` (requested and scheduled
        at ``created_at``).
        """
        log = f"requested|{created_at}"
        if status is ExecutionStatus.SCHEDULED:
            log += f"\nscheduled|{created_at}"
        elif status is not ExecutionStatus.REQUESTED:
            raise ValueError(f"an execution is created requested or scheduled, not {status.value}")
        context = {
            **template.context,
            "trigger_instance": {"id": trigger_instance, "name": None},
            "trace_context": {"trace_tag": trace_tag} if trace_tag else {},
        }
        doc = {
            "id": execution_id,
            "action": template.action,
            "runner": template.runner,
            "parameters": template.parameters,
            "context": context,
            "rule": template.rule,
            "trigger": template.trigger,
            "trigger_instance": trigger_instance,
            "enforcement": enforcement,
            "parent": None,
            "created_at": created_at,
        }
        self._write_in(
            pipe,
            execution_id,
            doc=orjson.dumps(doc),
            status=status,
            ms=str(created_ms),
            log=log,
            index_keys=template.index_keys[status],
            created_event=self._created_event(
                execution_id,
                template.action,
                parameters=template.parameters,
                rule=template.rule,
                trigger_instance=trigger_instance,
                enforcement=enforcement,
                parent=None,
                at=created_at,
            ),
            secrets=template.secrets,
            at=created_at,
        )

    def _created_event(
        self,
        execution_id: str,
        action: str,
        *,
        parameters: Any,
        rule: str | None,
        trigger_instance: str | None,
        enforcement: str | None,
        parent: str | None,
        at: str | None = None,
        actor: str | None = None,
    ) -> bytes:
        return encode_event(
            AuditKind.EXECUTION_CREATED,
            actor or self._actor,
            at=at,
            execution=execution_id,
            action=action,
            rule=rule,
            trigger_instance=trigger_instance,
            enforcement=enforcement,
            status=ExecutionStatus.REQUESTED.value,
            data={"parameters": parameters, "parent": parent} if parent else {"parameters": parameters},
        )

    def _write_in(
        self,
        pipe: Pipeline,
        execution_id: str,
        *,
        doc: bytes,
        status: ExecutionStatus,
        ms: str,
        log: str,
        index_keys: Iterable[str],
        created_event: bytes,
        secrets: bytes | None,
        extra: Mapping[str, Any] | None = None,
        at: str | None = None,
    ) -> None:
        """The one place that knows how an execution is laid out in Redis.

        An execution created in another status than ``requested`` (scheduled by
        the rules engine, or failed before it could run) also gets the audit
        event of that status change, at ``at`` (default: now).
        """
        key = keys.execution(execution_id)
        mapping: dict[str, Any] = {"doc": doc, "status": status.value, "created_ms": ms, "log": log}
        if extra:
            mapping.update(extra)
        if secrets:
            mapping["secrets"] = secrets
        pipe.hset(key, mapping=mapping)
        pipe.expire(key, self._ttl)
        add_to_indexes(pipe, list(index_keys), execution_id, ms)
        pipe.xadd(keys.AUDIT_STREAM, {"e": created_event}, maxlen=self._audit_maxlen, approximate=True)
        if status is not ExecutionStatus.REQUESTED:
            changed = encode_event(
                AuditKind.EXECUTION_STATUS,
                self._actor,
                at=at,
                execution=execution_id,
                status=status.value,
                previous_status=ExecutionStatus.REQUESTED.value,
            )
            pipe.xadd(keys.AUDIT_STREAM, {"e": changed}, maxlen=self._audit_maxlen, approximate=True)

    # -- reads --------------------------------------------------------------------------------

    def get(self, execution_id: str) -> Execution:
        """The execution ``execution_id``, or :class:`ExecutionNotFoundError`."""
        with self._client.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.execution(execution_id))
            pipe.zrange(keys.execution_index("parent", execution_id), 0, -1)
            fields, children = pipe.execute()
        if not fields:
            raise ExecutionNotFoundError(execution_id)
        return _decode(fields, children)

    @staticmethod
    def decode(fields: Mapping[str, str], *, children: Iterable[str] = ()) -> Execution:
        """The execution stored in ``fields`` (its hash, as ``HGETALL`` returns it), with ``children`` (ids)."""
        return _decode(fields, list(children))

    def get_many(self, ids: Iterable[str], *, with_children: bool = False) -> list[Execution]:
        """The executions among ``ids`` that still exist, in the given order (``children`` read when asked)."""
        ids = list(ids)
        with self._client.pipeline(transaction=False) as pipe:
            for eid in ids:
                pipe.hgetall(keys.execution(eid))
                if with_children:
                    pipe.zrange(keys.execution_index("parent", eid), 0, -1)
            replies = pipe.execute()
        if not with_children:
            return [_decode(fields, []) for fields in replies if fields]
        pairs = zip(replies[0::2], replies[1::2], strict=True)
        return [_decode(fields, [str(c) for c in children]) for fields, children in pairs if fields]

    def with_descendants(self, top: list[Execution], *, depth: int = -1, limit: int) -> list[Execution]:
        """``top`` in order, each followed by its subtree (depth first, children by creation order).

        A chain's tasks are its children (a nested chain has its own). ``depth``
        levels below ``top`` are read (-1: all), one round trip per level, and at
        most ``limit`` executions in all; ``top`` must have been read ``with_children``.
        """
        found: dict[str, Execution] = {e.id: e for e in top}
        level, levels = top, 0
        while level and levels != depth:
            wanted = list(dict.fromkeys(k for e in level for k in e.children if k not in found))
            level = self.get_many(wanted[: max(0, limit - len(found))], with_children=True)
            found.update((e.id, e) for e in level)
            levels += 1
        ordered: list[Execution] = []
        todo = list(reversed(top))
        seen: set[str] = set()
        while todo:
            execution = todo.pop()
            if execution.id in seen:
                continue
            seen.add(execution.id)
            ordered.append(execution)
            todo += [found[k] for k in reversed(execution.children) if k in found]
        return ordered

    def secrets(self, execution_id: str) -> dict[str, Any]:
        """The clear values of the execution's secret parameters (empty once it completed)."""
        raw = self._client.hget(keys.execution(execution_id), "secrets")
        return dict(orjson.loads(raw)) if raw else {}

    def status(self, execution_id: str) -> ExecutionStatus:
        raw = self._client.hget(keys.execution(execution_id), "status")
        if raw is None:
            raise ExecutionNotFoundError(execution_id)
        return ExecutionStatus(raw)

    def search(
        self, flt: ExecutionFilter, *, limit: int = 50, offset: int = 0, ascending: bool = False
    ) -> tuple[list[Execution], int]:
        """The newest (or, ``ascending``, oldest) executions matching ``flt`` and how many match in all."""
        ids, total = self.search_ids(flt, limit=limit, offset=offset, ascending=ascending)
        return self.get_many(ids), total

    def search_ids(
        self, flt: ExecutionFilter, *, limit: int = 50, offset: int = 0, ascending: bool = False
    ) -> tuple[list[str], int]:
        """:meth:`search`, giving the ids only (read them with :meth:`get_many` or :meth:`briefs`)."""
        low = f"({int(flt.since.timestamp() * 1000)}" if flt.since else "-inf"
        high = f"({int(flt.until.timestamp() * 1000)}" if flt.until else "+inf"
        index_keys = flt.index_keys() or [keys.EXECUTIONS_ALL]
        self._prune(index_keys)
        if len(index_keys) == 1:
            key = index_keys[0]
            with self._client.pipeline(transaction=False) as pipe:
                if ascending:
                    pipe.zrangebyscore(key, low, high, start=offset, num=limit)
                else:
                    pipe.zrevrangebyscore(key, high, low, start=offset, num=limit)
                pipe.zcount(key, low, high)
                ids, total = pipe.execute()
            return [str(i) for i in ids], int(total)
        return self._ids_in_all(index_keys, low, high, limit=limit, offset=offset, ascending=ascending)

    def briefs(self, ids: Iterable[str]) -> list[ExecutionBrief]:
        """The executions among ``ids`` that still exist, in order, as :class:`ExecutionBrief`: three fields of
        each hash and no model validation (10,000 in ~150 ms instead of ~270 ms with :meth:`get_many`)."""
        ids = list(ids)
        with self._client.pipeline(transaction=False) as pipe:
            for eid in ids:
                pipe.hmget(keys.execution(eid), "doc", "status", "end")
            replies = pipe.execute()
        out = []
        for eid, (doc, status, end) in zip(ids, replies, strict=True):
            if doc is None:
                continue  # expired since the index was read
            fields = orjson.loads(doc)
            out.append(
                ExecutionBrief(
                    id=eid,
                    action=fields["action"],
                    status=ExecutionStatus(status),
                    created_at=fields["created_at"],
                    end_timestamp=end or None,
                )
            )
        return out

    def _ids_in_all(
        self, index_keys: list[str], low: Any, high: Any, *, limit: int, offset: int, ascending: bool
    ) -> tuple[list[str], int]:
        # Walk the smallest index newest-first and keep the ids present in all the others.
        with self._client.pipeline(transaction=False) as pipe:
            for key in index_keys:
                pipe.zcard(key)
            sizes = pipe.execute()
        order = sorted(range(len(index_keys)), key=lambda i: sizes[i])
        driver, others = index_keys[order[0]], [index_keys[i] for i in order[1:]]
        page, cursor, matched, total = 5000, 0, [], 0
        while True:
            if ascending:
                ids = self._client.zrangebyscore(driver, low, high, start=cursor, num=page)
            else:
                ids = self._client.zrevrangebyscore(driver, high, low, start=cursor, num=page)
            if not ids:
                break
            cursor += len(ids)
            with self._client.pipeline(transaction=False) as pipe:
                for key in others:
                    pipe.zmscore(key, ids)
                scores = pipe.execute()
            for pos, eid in enumerate(ids):
                if all(col[pos] is not None for col in scores):
                    if offset <= total < offset + limit:
                        matched.append(str(eid))
                    total += 1
        return matched, total

    def _prune(self, index_keys: list[str]) -> None:
        """Drop index entries older than the retention (their hashes have expired)."""
        horizon = int((time.time() - self._ttl) * 1000)
        with self._client.pipeline(transaction=False) as pipe:
            for key in index_keys:
                pipe.zremrangebyscore(key, "-inf", f"({horizon}")
            pipe.execute()

    def prune_all(self) -> int:
        """Prune every execution index (periodic maintenance); returns the entries dropped."""
        dropped = 0
        for key in self._client.scan_iter(match=f"{keys.PREFIX}:executions:*", count=1000):
            if key == keys.RUNNING_LEASES:
                continue
            horizon = int((time.time() - self._ttl) * 1000)
            dropped += int(self._client.zremrangebyscore(key, "-inf", f"({horizon}"))
        return dropped

    # -- status changes -----------------------------------------------------------------------

    def transition(
        self,
        execution_id: str,
        target: ExecutionStatus,
        *,
        fields: Mapping[str, Any] | None = None,
        allowed_from: Iterable[ExecutionStatus] | None = None,
        emit: TriggerInstance | Sequence[TriggerInstance] | None = None,
        lease_until: float | None = None,
        message: str | None = None,
        actor: str | None = None,
        retry_at: float | None = None,
        note: bytes | None = None,
    ) -> ExecutionStatus:
        """Move the execution to ``target``; return the status it had.

        Raises :class:`InvalidTransitionError` when the lifecycle (or
        ``allowed_from``) forbids it, :class:`ExecutionNotFoundError` when it
        does not exist. ``emit`` (one trigger instance or several) is appended to the trigger stream in the
        same step; ``lease_until`` (epoch seconds) keeps a running execution's lease; ``retry_at`` (epoch
        seconds) queues its retry (``action.retry``) when it reaches ``target``; ``note`` is one more
        audit event (from :func:`~st2lite.audit.encode_event`) appended only if the move happens.
        """
        args = self._transition_args(
            execution_id, target, fields, allowed_from, emit, lease_until, message, actor, note=note
        )
        if retry_at is not None:
            args[16] = f"{retry_at:.3f}"
        moved, previous = self._transition(keys=self._transition_keys(execution_id), args=args)
        if not previous:
            raise ExecutionNotFoundError(execution_id)
        if not int(moved):
            raise InvalidTransitionError(execution_id, str(previous), target.value)
        return ExecutionStatus(previous)

    def claim(self, execution_id: str, *, worker: str, lease_until: float) -> tuple[Execution, dict[str, Any]]:
        """Move a ``scheduled`` execution to ``running`` for ``worker``; return it and its secrets, in one step.

        Raises :class:`InvalidTransitionError` when it is not ``scheduled`` (run elsewhere, canceled)
        and :class:`ExecutionNotFoundError` when it does not exist.
        """
        target = ExecutionStatus.RUNNING
        fields = {"start": now_iso(), "worker": worker}
        args = self._transition_args(
            execution_id, target, fields, [ExecutionStatus.SCHEDULED], None, lease_until, None, None
        )
        args[_FETCH_ARG] = "1"  # fetch the fields
        reply = self._transition(keys=self._transition_keys(execution_id), args=args)
        moved, previous = reply[0], reply[1]
        if not previous:
            raise ExecutionNotFoundError(execution_id)
        if not int(moved):
            raise InvalidTransitionError(execution_id, str(previous), target.value)
        flat = reply[2]
        data = dict(zip(flat[::2], flat[1::2], strict=True))
        secrets = dict(orjson.loads(data["secrets"])) if data.get("secrets") else {}
        return _decode(data, []), secrets

    def transition_in(
        self,
        pipe: Pipeline,
        execution_id: str,
        target: ExecutionStatus,
        *,
        fields: Mapping[str, Any] | None = None,
        allowed_from: Iterable[ExecutionStatus] | None = None,
        message: str | None = None,
        slots: list[dict[str, Any]] | None = None,
        sla_deadline_ms: int | None = None,
        emit: TriggerInstance | None = None,
        note: bytes | None = None,
    ) -> None:
        """Queue a transition on ``pipe``; the reply ``[moved, previous]`` comes back from ``execute()``.

        ``slots`` (to ``scheduled`` only): the concurrency slots to take, as ``transition.lua`` reads them
        (``k`` slot key prefix, ``n`` threshold, ``c`` cancel message or "", ``p`` policy ref); the reply
        is then ``[moved, previous, status reached]`` (``delayed`` or ``canceled`` when a slot was full).
        ``sla_deadline_ms``: record the ``action.sla`` deadline, if the execution moves and is not completed.
        """
        args = self._transition_args(execution_id, target, fields, allowed_from, emit, None, message, None, note=note)
        if slots:
            args[14] = orjson.dumps(slots)
        if sla_deadline_ms is not None:
            args[17] = str(sla_deadline_ms)
        self._transition(keys=self._transition_keys(execution_id), args=args, client=pipe)

    @staticmethod
    def _transition_keys(execution_id: str) -> list[str]:
        return [
            keys.execution(execution_id),
            keys.RUNNING_LEASES,
            keys.AUDIT_STREAM,
            keys.TRIGGER_STREAM,
            keys.CHAIN_EVENTS,
            keys.REQUEST_STREAM,
            keys.RETRIES_DUE,
            keys.RETRY_SECRETS,
            keys.SLA_DUE,
            keys.POLICY_WAITING,
            keys.POLICY_ARRIVALS,
            keys.METRICS_EXECUTIONS,
        ]

    def _transition_args(
        self,
        execution_id: str,
        target: ExecutionStatus,
        fields: Mapping[str, Any] | None,
        allowed_from: Iterable[ExecutionStatus] | None,
        emit: TriggerInstance | Sequence[TriggerInstance] | None,
        lease_until: float | None,
        message: str | None,
        actor: str | None,
        *,
        note: bytes | None = None,
    ) -> list[Any]:
        now = now_iso()
        values: dict[str, str] = {}
        for name, value in (fields or {}).items():
            values[name] = value if isinstance(value, str) else orjson.dumps(value).decode()
        # Several instances go one per line (orjson never writes a raw newline inside a document).
        emitted = [] if emit is None else [emit] if isinstance(emit, TriggerInstance) else list(emit)
        audit = encode_event(
            AuditKind.EXECUTION_STATUS,
            actor or self._actor,
            at=now,
            execution=execution_id,
            status=target.value,
            message=message,
            previous_status="__PREVIOUS__",
        )
        return [
            execution_id,
            target.value,
            _allowed_text(target, None if allowed_from is None else frozenset(allowed_from)),
            now,
            orjson.dumps(values),
            audit,
            b"\n".join(orjson.dumps(instance.model_dump(mode="json")) for instance in emitted),
            self._audit_maxlen,
            self._trigger_maxlen,
            keys.execution_index("status", ""),
            "" if lease_until is None else f"{lease_until:.3f}",
            "1" if target in COMPLETED else "0",
            b"\n".join(_received_event(instance, actor or self._actor) for instance in emitted),
            "0",
            "",
            actor or self._actor,
            "",
            "",
            note or "",
        ]

    def renew_lease(self, execution_id: str, until: float) -> None:
        """Extend a running execution's heartbeat lease (only while it holds one)."""
        self._client.zadd(keys.RUNNING_LEASES, {execution_id: until}, xx=True)

    def expired_leases(self, now: float, *, count: int = 100) -> list[str]:
        """Running executions whose lease ended before ``now``."""
        return list(self._client.zrangebyscore(keys.RUNNING_LEASES, "-inf", now, start=0, num=count))

    def drop_lease(self, execution_id: str) -> None:
        self._client.zrem(keys.RUNNING_LEASES, execution_id)


#: Index in the transition script's arguments of the "return the fields" flag (ARGV[14]).
_FETCH_ARG = 13


@lru_cache(maxsize=256)
def _allowed_text(target: ExecutionStatus, allowed_from: frozenset[ExecutionStatus] | None) -> str:
    """The statuses ``target`` may be reached from (within ``allowed_from``), as the script reads them."""
    allowed = sources_of(target) if allowed_from is None else sources_of(target) & allowed_from
    return ",".join(sorted(s.value for s in allowed))


def _received_event(instance: TriggerInstance, actor: str) -> bytes:
    return AuditEvent(
        kind=AuditKind.TRIGGER_RECEIVED, actor=actor, trigger=instance.trigger, trigger_instance=instance.id
    ).encode()


def _decode(fields: Mapping[str, str], children: list[str]) -> Execution:
    doc = orjson.loads(fields["doc"])
    log = []
    for line in (fields.get("log") or "").split("\n"):
        if line:
            status, _, ts = line.partition("|")
            log.append(StatusChange(status=ExecutionStatus(status), timestamp=ts))
    result = orjson.loads(fields["result"]) if fields.get("result") else None
    return Execution.model_validate(
        {
            **doc,
            "status": fields["status"],
            "result": result,
            "start_timestamp": fields.get("start") or None,
            "end_timestamp": fields.get("end") or None,
            "worker": fields.get("worker") or None,
            "log": log,
            "children": children,
        }
    )
