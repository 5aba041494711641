"""``rules_peer``: the ansible-rulebook workload through one st2lite rules engine.

100,000 peer events (:func:`bench.peer.make_event`) are published to the
trigger stream first (pipelined, not timed). Then one :class:`RulesEngine`
in this process drains them: every matching rule of the pack ``bench_peer``
(the peer's 10 rules as StackStorm rules, see docs/PERFORMANCE.md) creates a
``requested`` execution of ``core.noop``, with its enforcement, trigger
instance record, request stream entry and audit events. The total number of
executions must equal the peer oracle's ``multi`` count.

Baseline ``eda_events_per_s``: ``run.sh 100000`` of the peer, same machine, same run.
"""

from __future__ import annotations

import gc
import sys

from bench.common import PACKS_DIR, Context, Figure, Lab, lab, profile_call, register_packs, timed
from bench.peer import EXPECTED_MULTI, RULE_MAP, expected_per_rule, make_event, run_peer
from st2lite import keys
from st2lite.audit import AuditLog
from st2lite.bus import RedisBus
from st2lite.processes import tune_service_process
from st2lite.rules_engine import RulesEngine
from st2lite.triggers import TriggerInstance

__all__ = ["run"]

EVENTS = 100_000
TRIGGER = "bench_peer.event"
PACK = "bench_peer"


def publish(env: Lab, n: int, *, batch: int = 1_000) -> None:
    """Append events 0..n-1 to the trigger stream (with their audit events), ``batch`` per round trip."""
    bus = RedisBus(
        env.client,
        maxlen=env.settings.trigger_stream_maxlen,
        audit=AuditLog(env.client, maxlen=env.settings.audit_stream_maxlen),
    )
    for start in range(0, n, batch):
        with env.client.pipeline(transaction=False) as pipe:
            for i in range(start, min(n, start + batch)):
                bus.publish_in(pipe, TriggerInstance(trigger=TRIGGER, payload=make_event(i)), actor="bench")
            pipe.execute()


def _per_rule(env: Lab) -> dict[str, int]:
    with env.client.pipeline(transaction=False) as pipe:
        for name in RULE_MAP:
            pipe.zcard(keys.execution_index("rule", f"{PACK}.{name}"))
        counts = pipe.execute()
    return {name: int(c) for name, c in zip(RULE_MAP, counts, strict=True)}


def _checks(n: int, drained: int, executions: int, per_rule: dict[str, int]) -> tuple[list[str], dict[str, object]]:
    failures: list[str] = []
    if drained != n:
        failures.append(f"the engine processed {drained} trigger instances, not {n}")
    oracle = expected_per_rule(n)
    expected = oracle[0] if oracle else EXPECTED_MULTI.get(n)
    if expected is not None and executions != expected:
        failures.append(f"{executions} executions created, the peer oracle expects {expected}")
    if oracle:
        grouped: dict[str, int] = {}
        for ours, theirs in RULE_MAP.items():
            grouped[theirs] = grouped.get(theirs, 0) + per_rule[ours]
        for rule, want in oracle[1].items():
            if grouped.get(rule) != want:
                failures.append(f"rule {rule}: {grouped.get(rule)} executions, the oracle expects {want}")
    source = "expected_matches.py" if oracle else ("recorded figure" if expected is not None else "none")
    return failures, {"expected_executions": expected, "expected_from": source}


def run(ctx: Context) -> list[Figure]:
    n = ctx.size(EVENTS, minimum=1_000)
    if ctx.profile:
        n = min(n, 20_000)
    with lab() as env:
        register_packs(env.client, PACKS_DIR / PACK)
        publish(env, n)
        engine = RulesEngine(env.settings, env.client, name="bench")
        engine.registry.current()  # load and compile the rules before the clock starts
        if ctx.profile:
            profile_call("rules_peer", engine.drain)
            return []
        # Configure the interpreter as the rules process (st2lite rules) does at start, then restore it.
        thresholds, switch = gc.get_threshold(), sys.getswitchinterval()
        tune_service_process()
        try:
            drained, seconds = timed(engine.drain)
        finally:
            gc.unfreeze()
            gc.set_threshold(*thresholds)
            sys.setswitchinterval(switch)
        executions = int(env.client.zcard(keys.EXECUTIONS_ALL))
        per_rule = _per_rule(env)
        memory = env.client.info("memory")["used_memory"]
    failures, expected = _checks(n, drained, executions, per_rule)
    figures = [
        Figure(
            "rules_peer_events_per_s",
            n / seconds,
            "events/s",
            baseline="eda_events_per_s",
            details={
                "events": n,
                "seconds": round(seconds, 3),
                "executions": executions,
                "executions_per_s": round(executions / seconds),
                "per_rule": per_rule,
                "redis_used_memory_mb": round(memory / 2**20, 1),
                "check_failures": failures,
                **expected,
            },
        )
    ]
    if ctx.skip_peer:
        figures.append(Figure("eda_events_per_s", None, "events/s", missing="skipped (--skip-peer)"))
    else:
        peer = run_peer(EVENTS)
        figures.append(
            Figure(
                "eda_events_per_s",
                peer.pop("events_per_s"),
                "events/s",
                missing=str(peer.pop("missing", "")),
                details=peer,
            )
        )
    return figures
