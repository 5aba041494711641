"""One sentence per criterion result saying why it passed or failed (pure; the rule test's ``reason``).

``trigger.body.status is 'failed', which does not equal 'ok'``,
``trigger.x is missing from the payload``, or the evaluation error. Used by
``st2lite rule test`` and ``POST /api/v1/rules/{ref}/test`` (:mod:`st2lite.rule_verdicts`).
"""

from __future__ import annotations

import json
from typing import Any, Final

from st2lite.criteria import CriterionResult

__all__ = ["criterion_reason", "shown"]

#: Longest rendering of a value or pattern in a reason.
_MAX: Final = 80

#: operator -> (what holds when it passes, what holds when it fails), each read after "<value>, which".
_PHRASES: Final[dict[str, tuple[str, str]]] = {
    "equals": ("equals {p}", "does not equal {p}"),
    "nequals": ("differs from {p}", "equals {p}"),
    "iequals": ("equals {p} ignoring case", "does not equal {p}, even ignoring case"),
    "contains": ("contains {p}", "does not contain {p}"),
    "ncontains": ("does not contain {p}", "contains {p}"),
    "icontains": ("contains {p} ignoring case", "does not contain {p}, even ignoring case"),
    "incontains": ("does not contain {p}, even ignoring case", "contains {p} ignoring case"),
    "startswith": ("starts with {p}", "does not start with {p}"),
    "istartswith": ("starts with {p} ignoring case", "does not start with {p}, even ignoring case"),
    "endswith": ("ends with {p}", "does not end with {p}"),
    "iendswith": ("ends with {p} ignoring case", "does not end with {p}, even ignoring case"),
    "lessthan": ("is less than {p}", "is not less than {p}"),
    "greaterthan": ("is greater than {p}", "is not greater than {p}"),
    "matchwildcard": ("matches the wildcard {p}", "does not match the wildcard {p}"),
    "matchregex": ("matches the regex {p}", "does not match the regex {p}"),
    "regex": ("matches the regex {p}", "does not match the regex {p}"),
    "iregex": ("matches the regex {p} ignoring case", "does not match the regex {p}, even ignoring case"),
    "timediff_lt": ("is less than {p} seconds old", "is not less than {p} seconds old"),
    "timediff_gt": ("is more than {p} seconds old", "is not more than {p} seconds old"),
    "inside": ("is one of {p}", "is not one of {p}"),
    "ninside": ("is not one of {p}", "is one of {p}"),
}


def shown(value: Any) -> str:
    """``value`` as a reason shows it: strings quoted, the rest as JSON, cut to :data:`_MAX` characters."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, default=str, sort_keys=True)
        except ValueError:  # a circular structure cannot come from JSON, but a template may build one
            text = repr(value)
    return text if len(text) <= _MAX else text[: _MAX - 3] + "..."


def criterion_reason(result: CriterionResult) -> str:
    """Why ``result`` passed or failed, as one sentence naming the key, the value and the pattern."""
    key, op, value = result.key, result.operator, result.value
    if result.error is not None:
        return f"{key} could not be evaluated: {result.error}"
    if op == "exists":
        return f"{key} is present in the payload" if result.passed else f"{key} is missing from the payload"
    if op == "nexists":
        return f"{key} is missing from the payload" if result.passed else f"{key} is present in the payload"
    if op == "search":
        verdict = "matches" if result.passed else "does not match"
        return f"{key} {verdict} the search's child criteria"
    if value is None and not result.passed and op != "nequals":
        return f"{key} is missing from the payload"
    passed, failed = _PHRASES.get(op, (f"passes {op} {{p}}", f"does not pass {op} {{p}}"))
    phrase = (passed if result.passed else failed).format(p=shown(result.pattern))
    return f"{key} is {shown(value)}, which {phrase}"
