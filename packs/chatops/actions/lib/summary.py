"""The messages posted back to the channel. Pure: the rows and the jobs' results in, text out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Summary", "error_text", "summarize"]

#: At most this many failed rows are listed in the message (all are in the action's result).
MAX_LISTED = 20


@dataclass(frozen=True)
class Summary:
    total: int
    succeeded: int
    failed: list[dict[str, Any]]
    text: str


def summarize(job: str, file: str, rows: Sequence[Sequence[str]], results: Sequence[Any]) -> Summary:
    """Counts and the failed rows; row numbers as in a spreadsheet (header = row 1)."""
    failed: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        result = results[index] if index < len(results) else None
        if isinstance(result, Mapping) and result.get("succeeded") is True:
            continue
        failed.append({"row": index + 2, "values": list(row), "reason": _reason(result)})
    succeeded = len(rows) - len(failed)
    icon = ":white_check_mark:" if not failed else ":warning:"
    lines = [f"{icon} `{job}` for `{file}`: {succeeded} of {len(rows)} job(s) started, {len(failed)} failed"]
    for item in failed[:MAX_LISTED]:
        lines.append(f"• row {item['row']} ({', '.join(item['values'])}): {item['reason']}")
    if len(failed) > MAX_LISTED:
        lines.append(f"… and {len(failed) - MAX_LISTED} more failed row(s); see the execution's result")
    return Summary(total=len(rows), succeeded=succeeded, failed=failed, text="\n".join(lines))


def _reason(result: Any) -> str:
    if not isinstance(result, Mapping):
        return "did not run"
    if result.get("error"):
        return str(result["error"])[:200]
    stderr = str(result.get("stderr") or "").strip()
    code = result.get("return_code")
    last = stderr.splitlines()[-1][:200] if stderr else ""
    return f"exit {code}: {last}" if last else f"exit {code}"


def error_text(job: str, csv_file: str, outcome: Any) -> str:
    """Why the CSV was refused (from the failed load task's result), for the channel."""
    reason = ""
    if isinstance(outcome, Mapping):
        inner = outcome.get("result")
        if isinstance(inner, Mapping) and inner.get("error"):
            reason = str(inner["error"])
        elif outcome.get("error"):
            reason = str(outcome["error"])
        elif outcome.get("stderr"):
            reason = str(outcome["stderr"]).strip().splitlines()[-1]
    return f":x: `{job}` was not started for file {csv_file}: {reason or 'the CSV could not be read'}. No job ran."
