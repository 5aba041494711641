"""``st2lite rule test``: does this rule match this trigger instance, and why (no Redis needed).

The trigger instance file has StackStorm's format ``{"trigger": "<type ref>",
"payload": {...}}`` (other keys, such as ``id`` or ``occurrence_time``, are
ignored). Every criterion is evaluated, not only up to the first failure, so
the output says which passed and which did not (:func:`st2lite.rule_verdicts.evaluate_rule`,
which the API's rule test uses too). Datastore lookups (``st2kv``) render as empty strings here.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from st2lite.config import Settings
from st2lite.criteria import compile_criteria
from st2lite.exceptions import ContentError, PackLoadError
from st2lite.rule_verdicts import RuleVerdict, evaluate_rule
from st2lite.rules import Rule
from st2lite.yamlfile import load_yaml

__all__ = ["RuleTestInputError", "RuleVerdict", "test_rule"]


class RuleTestInputError(ContentError):
    """Raised when the rule or trigger instance file given to ``rule test`` is unusable."""


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
        compile_criteria(rule.criteria)  # here for the file's line in the error; evaluate_rule compiles again
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
    return evaluate_rule(rule, trigger, payload)
