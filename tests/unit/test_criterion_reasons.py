"""The reason sentence of each kind of criterion result."""

from __future__ import annotations

from typing import Any

import pytest

from st2lite.criteria import CriterionResult
from st2lite.criterion_reasons import criterion_reason


def result(operator: str, pattern: Any, value: Any, passed: bool, error: str | None = None) -> CriterionResult:
    return CriterionResult(key="trigger.x", operator=operator, pattern=pattern, value=value, passed=passed, error=error)


@pytest.mark.parametrize(
    ("found", "reason"),
    [
        (result("equals", "ok", "failed", False), "trigger.x is 'failed', which does not equal 'ok'"),
        (result("equals", "ok", "ok", True), "trigger.x is 'ok', which equals 'ok'"),
        (result("equals", "ok", None, False), "trigger.x is missing from the payload"),
        (result("nequals", "ok", None, True), "trigger.x is null, which differs from 'ok'"),
        (result("greaterthan", 2, 1, False), "trigger.x is 1, which is not greater than 2"),
        (result("inside", [1, 2], 3, False), "trigger.x is 3, which is not one of [1, 2]"),
        (result("exists", None, None, False), "trigger.x is missing from the payload"),
        (result("nexists", None, 1, False), "trigger.x is present in the payload"),
        (result("search", {}, [1], True), "trigger.x matches the search's child criteria"),
        (result("lessthan", 1, "a", False, "boom"), "trigger.x could not be evaluated: boom"),
        (result("contains", "x" * 100, "y", False), f"trigger.x is 'y', which does not contain '{'x' * 76}..."),
    ],
)
def test_reason(found: CriterionResult, reason: str) -> None:
    assert criterion_reason(found) == reason
