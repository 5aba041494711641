"""Why a run failed, from the chain's task results (what ``{{ __results }}`` holds)."""

from __future__ import annotations

from typing import Any

__all__ = ["failure_reason", "task_error"]

#: The chain's steps in order; the reason is taken from the first that failed.
STEPS = ("split", "process", "merge", "archive")


def task_error(result: Any) -> str | None:
    """The error of one task's result (a Python action's, or a ``with-items`` list of them); None if it succeeded."""
    if isinstance(result, list):
        for index, item in enumerate(result):
            error = task_error(item)
            if error is not None:
                return error if "chunk" in error or "line" in error else f"item {index}: {error}"
        return None
    if not isinstance(result, dict):
        return None
    inner = result.get("result")
    if isinstance(inner, dict) and inner.get("error"):
        return str(inner["error"])
    if result.get("error"):
        return str(result["error"])
    code = result.get("exit_code")
    if code not in (None, 0):
        lines = [line for line in str(result.get("stderr") or "").splitlines() if line.strip()]
        return lines[-1] if lines else f"the action exited with code {code}"
    return None


def failure_reason(results: dict[str, Any]) -> str:
    """The error of the first failed step in ``results``, prefixed with the step's name."""
    for step in STEPS:
        if step in results:
            error = task_error(results[step])
            if error is not None:
                return f"{step}: {error}"
    return "the run failed; see the chain's task results"
