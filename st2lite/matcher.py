"""Which rules a trigger instance fires: pure, no I/O.

Rules are indexed by (trigger type, trigger parameters), so an instance is
only tested against rules bound to the very trigger that fired. Standard
rules are evaluated first; ``backstop`` rules only when no standard rule
matched (StackStorm's second pass). A rule whose criteria raise does not
match and is reported with the reason, so the engine can record a failed
enforcement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from st2lite.criteria import Criteria, compile_criteria
from st2lite.exceptions import St2liteError
from st2lite.rules import Rule
from st2lite.triggers import TriggerInstance

__all__ = ["MatchOutcome", "PatternRenderer", "RuleSet", "trigger_key"]

#: Renders a templated criteria pattern for a payload: ``(pattern, payload) -> typed value``.
PatternRenderer = Callable[[str, Any], Any]


def trigger_key(trigger_type: str, parameters: dict[str, Any]) -> str:
    """The index key of a concrete trigger: its type and canonical parameters."""
    if not parameters:
        return trigger_type
    return trigger_type + "|" + orjson.dumps(parameters, option=orjson.OPT_SORT_KEYS).decode()


@dataclass(frozen=True, slots=True)
class MatchOutcome:
    """A rule that matched, or whose criteria failed with ``error`` (a plain dataclass: one per match)."""

    rule: Rule
    error: str | None = None

    @property
    def matched(self) -> bool:
        return self.error is None


class _Compiled:
    __slots__ = ("criteria", "rule")

    def __init__(self, rule: Rule, criteria: Criteria) -> None:
        self.rule = rule
        self.criteria = criteria


class RuleSet:
    """The enabled rules, compiled and indexed for matching."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._standard: dict[str, list[_Compiled]] = {}
        self._backstop: dict[str, list[_Compiled]] = {}
        self.rules: list[Rule] = []
        for rule in rules:
            if not rule.enabled:
                continue
            compiled = _Compiled(rule, compile_criteria(rule.criteria))
            table = self._backstop if rule.type.ref == "backstop" else self._standard
            table.setdefault(trigger_key(rule.trigger.type, rule.trigger.parameters), []).append(compiled)
            self.rules.append(rule)

    def __len__(self) -> int:
        return len(self.rules)

    def has_rules_for(self, instance: TriggerInstance) -> bool:
        key = trigger_key(instance.trigger, instance.parameters)
        return key in self._standard or key in self._backstop

    def trigger_parameters(self, trigger_type: str) -> list[dict[str, Any]]:
        """The distinct parameter sets of enabled rules bound to ``trigger_type`` (webhook urls...)."""
        seen: dict[str, dict[str, Any]] = {}
        for rule in self.rules:
            if rule.trigger.type == trigger_type:
                seen[trigger_key(trigger_type, rule.trigger.parameters)] = rule.trigger.parameters
        return list(seen.values())

    def match(self, instance: TriggerInstance, render: PatternRenderer | None = None) -> list[MatchOutcome]:
        """Every rule ``instance`` fires, and every rule whose criteria raised."""
        key = trigger_key(instance.trigger, instance.parameters)
        outcomes = self._evaluate(self._standard.get(key, ()), instance.payload, render)
        if not any(o.matched for o in outcomes):
            outcomes += self._evaluate(self._backstop.get(key, ()), instance.payload, render)
        return outcomes

    @staticmethod
    def _evaluate(candidates: Iterable[_Compiled], payload: Any, render: PatternRenderer | None) -> list[MatchOutcome]:
        out: list[MatchOutcome] = []
        for candidate in candidates:
            try:
                if candidate.criteria.evaluate(payload, render):
                    out.append(MatchOutcome(rule=candidate.rule))
            except St2liteError as exc:
                out.append(MatchOutcome(rule=candidate.rule, error=str(exc)))
        return out
