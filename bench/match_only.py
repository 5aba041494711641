"""``match_only``: criteria matching alone, 100 rules over 10 trigger types, no Redis.

Ten trigger types (``bench_match.t0`` .. ``t9``) carry ten rules each, built
as StackStorm rule documents and loaded through :class:`Rule`; their criteria
cover equality, inequality, regex (plain and case-insensitive, anchored),
numeric comparisons, ``inside``, ``contains``, ``startswith`` on a nested key and
``exists``. Events are the peer benchmark's events plus a nested ``meta``
object, spread round-robin over the ten types; each is tested only against the
ten rules of its type (the rule index), as the rules engine does. Timed: one
loop calling :meth:`RuleSet.match` on pre-built trigger instances.
"""

from __future__ import annotations

from typing import Any

from bench.common import Context, Figure, profile_call, timed
from bench.peer import make_event
from st2lite.matcher import RuleSet
from st2lite.rules import Rule
from st2lite.triggers import TriggerInstance

__all__ = ["build_rules", "run"]

EVENTS = 200_000
TYPES = 10


def _criteria(kind: int, t: int) -> dict[str, Any]:
    """The criteria of rule ``kind`` (0-9) on trigger type ``t``."""
    table: list[dict[str, Any]] = [
        {"trigger.severity": {"type": "equals", "pattern": "critical"}},
        {
            "trigger.host": {"type": "equals", "pattern": f"web-{t:02d}"},
            "trigger.severity": {"type": "nequals", "pattern": "low"},
        },
        {"trigger.msg": {"type": "regex", "pattern": "took 9[0-9][0-9] ms"}},
        {"trigger.host": {"type": "iregex", "pattern": f"^WEB-{t % 5}"}},
        {"trigger.latency_ms": {"type": "greaterthan", "pattern": 950}},
        {
            "trigger.region": {"type": "inside", "pattern": ["eu-west-1", "ap-south-1"]},
            "trigger.mod7": {"type": "equals", "pattern": t % 7},
        },
        {
            "trigger.tags": {"type": "contains", "pattern": "t2"},
            "trigger.mod10": {"type": "equals", "pattern": t},
        },
        {"trigger.latency_ms": {"type": "lessthan", "pattern": 20}},
        {"trigger.meta.team": {"type": "startswith", "pattern": "ops"}},
        {"trigger.missing_field": {"type": "exists"}},
    ]
    return table[kind]


def build_rules() -> list[Rule]:
    """The 100 rules (10 per trigger type), every one enabled and running ``core.noop``."""
    return [
        Rule.model_validate(
            {
                "name": f"t{t}_r{kind}",
                "pack": "bench_match",
                "enabled": True,
                "trigger": {"type": f"bench_match.t{t}"},
                "criteria": _criteria(kind, t),
                "action": {"ref": "core.noop"},
            }
        )
        for t in range(TYPES)
        for kind in range(10)
    ]


def _event(i: int) -> dict[str, Any]:
    return {**make_event(i), "meta": {"team": ("ops-eu", "ops-us", "dev")[i % 3], "source": f"s{i % 17}"}}


def run(ctx: Context) -> list[Figure]:
    n = ctx.size(EVENTS, minimum=1_000)
    ruleset = RuleSet(build_rules())
    instances = [TriggerInstance(trigger=f"bench_match.t{i % TYPES}", payload=_event(i)) for i in range(n)]

    def match_all() -> int:
        matched = 0
        for instance in instances:
            matched += len(ruleset.match(instance))
        return matched

    match_all()  # warm-up: compiled regexes, caches
    if ctx.profile:
        profile_call("match_only", match_all)
        return []
    matched, seconds = timed(match_all)
    return [
        Figure(
            "match_only_events_per_s",
            n / seconds,
            "events/s",
            details={
                "events": n,
                "rules": len(ruleset),
                "trigger_types": TYPES,
                "rules_per_event": len(ruleset) // TYPES,
                "matches": matched,
                "seconds": round(seconds, 3),
                "criteria_evaluations_per_s": round(n * len(ruleset) / TYPES / seconds),
            },
        )
    ]
