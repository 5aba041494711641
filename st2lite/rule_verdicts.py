"""Does this rule match this trigger instance, and why: the one evaluation behind every rule test.

:func:`evaluate_rule` is pure apart from the datastore lookup it is given:
``st2lite rule test`` (files, no Redis, :mod:`st2lite.rule_testing`) passes
one that finds nothing; ``POST /api/v1/rules/{ref}/test`` one that reads the
real datastore with secrets masked. Every criterion is evaluated, not only up
to the first failure, so the verdict says which passed and which did not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from st2lite.criteria import CriterionResult, compile_criteria
from st2lite.criterion_reasons import criterion_reason
from st2lite.exceptions import St2liteError
from st2lite.parameters import Specs, finalize_parameters, mask_secrets, render_parameters
from st2lite.rules import Rule
from st2lite.templating import KvLookup, kv_context, render_typed

__all__ = ["RuleVerdict", "evaluate_rule", "no_kv"]

#: The user a rule's action runs as when nothing else says (``action_context.user``).
RULE_USER = "stanley"


class RuleVerdict(BaseModel):
    """The outcome of a rule test."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    trigger: str
    matched: bool
    reason: str
    criteria: list[CriterionResult]
    action_ref: str
    action_parameters: dict[str, Any] | None = None
    render_error: str | None = None

    def public(self) -> dict[str, Any]:
        """The ``--json`` and API shape: ``{"matched", "rule", "trigger", "reason", "criteria", "action", ...}``.

        Each criterion carries a ``reason`` sentence (:func:`st2lite.criterion_reasons.criterion_reason`).
        """
        return {
            "matched": self.matched,
            "rule": self.rule,
            "trigger": self.trigger,
            "reason": self.reason,
            "action": {"ref": self.action_ref, "parameters": self.action_parameters},
            "criteria": [{**c.model_dump(mode="json"), "reason": criterion_reason(c)} for c in self.criteria],
            **({"render_error": self.render_error} if self.render_error else {}),
        }

    def explain_lines(self) -> list[str]:
        lines = [f"rule {self.rule}: {'MATCHED' if self.matched else 'NOT MATCHED'} ({self.reason})"]
        for c in self.criteria:
            mark = "pass" if c.passed else "FAIL"
            detail = f" error: {c.error}" if c.error else ""
            lines.append(f"  [{mark}] {c.key} {c.operator} {c.pattern!r} (value: {c.value!r}){detail}")
        if self.matched:
            lines.append(f"action {self.action_ref} with parameters {json.dumps(self.action_parameters)}")
        if self.render_error:
            lines.append(f"action parameters could not be rendered: {self.render_error}")
        return lines


def no_kv(_scope: str, _name: str) -> str | None:
    """A datastore lookup that finds nothing (``st2kv`` renders as empty strings)."""
    return None


def evaluate_rule(
    rule: Rule,
    trigger: str,
    payload: Any,
    *,
    kv: KvLookup = no_kv,
    specs: Specs | None = None,
    config_context: Mapping[str, Any] | None = None,
) -> RuleVerdict:
    """Evaluate ``rule`` against a trigger instance of type ``trigger`` with ``payload``.

    Args:
        kv: reads the datastore for ``st2kv`` in criteria patterns and action parameters.
        specs: the action's (merged) parameter specs; when given, the parameters are rendered, cast and
            validated as for a real execution (defaults included) and secret ones masked. Without them only
            the rule's own parameters are rendered.
        config_context: what templates see as ``config_context`` (the action's pack config).

    Raises:
        ContentError: the rule's criteria do not compile.
    """
    criteria = compile_criteria(rule.criteria)
    st2kv = kv_context(kv)

    def render(pattern: str, data: Any) -> Any:
        return render_typed(pattern, {"trigger": data, "st2kv": st2kv})

    results = criteria.explain(payload, render)
    base: dict[str, Any] = {
        "rule": rule.full_ref,
        "trigger": trigger,
        "criteria": results,
        "action_ref": rule.action.ref,
    }
    if trigger != rule.trigger.type:
        reason = f"the rule listens to {rule.trigger.type}, not {trigger}"
        return RuleVerdict(**base, matched=False, reason=reason)
    failed = [r for r in results if not r.passed]
    if failed:
        reason = f"{len(failed)} of {len(results)} criteria failed"
        return RuleVerdict(**base, matched=False, reason=reason)
    reason = f"all {len(results)} criteria passed" if results else "the rule has no criteria"
    context = {
        "trigger": payload,
        "action_context": {"user": RULE_USER, "rule": {"ref": rule.full_ref, "name": rule.name}},
        "st2kv": kv_context(kv, user=RULE_USER),
        "config_context": config_context if config_context is not None else {},
    }
    try:
        if specs is None:
            params = render_parameters({}, rule.action.parameters, context)
        else:
            values = finalize_parameters(specs, rule.action.parameters, context, action_ref=rule.action.ref)
            params = mask_secrets(specs, values)
    except St2liteError as exc:
        return RuleVerdict(**base, matched=True, reason=reason, render_error=str(exc))
    return RuleVerdict(**base, matched=True, reason=reason, action_parameters=params)
