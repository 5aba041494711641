"""``st2lite rule test``: does this rule match this trigger instance, and why (no Redis needed).

The trigger instance file has StackStorm's format ``{"trigger": "<type ref>",
"payload": {...}}`` (other keys, such as ``id`` or ``occurrence_time``, are
ignored). Every criterion is evaluated, not only up to the first failure, so
the output says which passed and which did not. Datastore lookups
(``st2kv``) render as empty strings here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from st2lite.config import Settings
from st2lite.criteria import CriterionResult, compile_criteria
from st2lite.exceptions import ContentError, PackLoadError, St2liteError
from st2lite.parameters import render_parameters
from st2lite.rules import Rule
from st2lite.templating import kv_context, render_typed
from st2lite.yamlfile import load_yaml

__all__ = ["RuleTestInputError", "RuleVerdict", "test_rule"]


class RuleTestInputError(ContentError):
    """Raised when the rule or trigger instance file given to ``rule test`` is unusable."""


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
        """The ``--json`` shape: ``{"matched", "action": {"ref", "parameters"}, ...}``."""
        return {
            "matched": self.matched,
            "rule": self.rule,
            "reason": self.reason,
            "action": {"ref": self.action_ref, "parameters": self.action_parameters},
            "criteria": [c.model_dump(mode="json") for c in self.criteria],
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


def _no_kv(_scope: str, _name: str) -> str | None:
    return None


def test_rule(rule_file: Path, instance_file: Path, *, settings: Settings | None = None) -> RuleVerdict:
    """Evaluate ``rule_file`` against the trigger instance in ``instance_file``."""
    doc = load_yaml(rule_file)
    if not isinstance(doc.data, dict):
        raise PackLoadError("a rule file must hold a mapping", path=str(rule_file))
    try:
        rule = Rule.model_validate(doc.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise PackLoadError(first["msg"], path=str(rule_file), line=doc.line_of(field), field=field) from exc
    try:
        criteria = compile_criteria(rule.criteria)
    except ContentError as exc:
        raise PackLoadError(str(exc), path=str(rule_file), line=doc.line_of("criteria")) from exc
    try:
        instance = json.loads(instance_file.read_text())
    except (OSError, ValueError) as exc:
        raise RuleTestInputError(f"{instance_file}: cannot read a JSON trigger instance: {exc}") from exc
    if not isinstance(instance, dict) or not isinstance(instance.get("trigger"), str):
        raise RuleTestInputError(
            f'{instance_file}: a trigger instance is a JSON object {{"trigger": "<type ref>", "payload": {{...}}}}'
        )
    trigger = instance["trigger"]
    payload = instance.get("payload", {})
    if not isinstance(payload, dict):
        raise RuleTestInputError(f"{instance_file}: 'payload' must be a JSON object")
    st2kv = kv_context(_no_kv)

    def render(pattern: str, data: Any) -> Any:
        return render_typed(pattern, {"trigger": data, "st2kv": st2kv})

    results = criteria.explain(payload, render)
    base = {"rule": rule.full_ref, "trigger": trigger, "criteria": results, "action_ref": rule.action.ref}
    if trigger != rule.trigger.type:
        reason = f"the rule listens to {rule.trigger.type}, not {trigger}"
        return RuleVerdict(**base, matched=False, reason=reason)
    failed = [r for r in results if not r.passed]
    if failed:
        reason = f"{len(failed)} of {len(results)} criteria failed"
        return RuleVerdict(**base, matched=False, reason=reason)
    reason = f"all {len(results)} criteria passed" if results else "the rule has no criteria"
    try:
        params = render_parameters(
            {},
            rule.action.parameters,
            {
                "trigger": payload,
                "action_context": {"user": "stanley", "rule": {"ref": rule.full_ref, "name": rule.name}},
                "st2kv": st2kv,
                "config_context": {},
            },
        )
    except St2liteError as exc:
        return RuleVerdict(**base, matched=True, reason=reason, render_error=str(exc))
    return RuleVerdict(**base, matched=True, reason=reason, action_parameters=params)
