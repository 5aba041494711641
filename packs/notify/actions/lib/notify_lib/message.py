"""What a notification is and says; no I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["SEVERITIES", "Notification", "failure_reason", "slack_text"]

SEVERITIES = ("info", "warning", "error")
_ICONS = {"info": ":information_source:", "warning": ":warning:", "error": ":rotating_light:"}
#: Longest reason kept in a failure message (a traceback's last lines are what matters).
MAX_REASON = 1500


@dataclass(frozen=True)
class Notification:
    message: str
    title: str = ""
    severity: str = "warning"
    channel: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {self.severity!r}")
        if not self.message.strip():
            raise ValueError("message is empty; say what happened")

    def webhook_body(self, execution_id: str | None) -> dict[str, Any]:
        """The JSON a generic webhook receives."""
        return {
            "title": self.title,
            "message": self.message,
            "severity": self.severity,
            "channel": self.channel,
            "data": self.data,
            "source": "st2lite",
            "execution_id": execution_id,
        }


def slack_text(note: Notification) -> str:
    """The Slack message text (mrkdwn): the severity's icon, the title in bold, then the message."""
    head = f"{_ICONS[note.severity]} *{note.title}*\n" if note.title else f"{_ICONS[note.severity]} "
    return head + note.message


def _last_line(text: str) -> str | None:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else None


def _reason(result: Any, depth: int) -> str | None:
    if depth > 8:
        return None
    if isinstance(result, list):
        for item in result:
            found = _reason(item, depth + 1)
            if found:
                return found
        return None
    if not isinstance(result, dict):
        return None
    if isinstance(result.get("error"), str) and result["error"]:
        return str(result["error"])
    tasks = result.get("tasks")
    if isinstance(tasks, list):  # an action chain: the last task that did not succeed
        for record in reversed(tasks):
            if isinstance(record, dict) and record.get("state") not in (None, "succeeded"):
                found = _reason(record.get("result"), depth + 1)
                return f"task '{record.get('name')}' {record.get('state')}: {found or 'no error message'}"
    inner = result.get("result")
    found = _reason(inner, depth + 1) if isinstance(inner, dict | list) else None
    if found:
        return found
    code = result.get("exit_code", result.get("return_code"))
    if code not in (None, 0):
        return _last_line(str(result.get("stderr") or "")) or f"exited with code {code}"
    if isinstance(result.get("status_code"), int):
        return f"HTTP status {result['status_code']}"
    return None


def failure_reason(result: Any) -> str:
    """The error an execution's ``result`` carries, whatever its runner (shell, Python, HTTP, chain)."""
    found = _reason(result, 0) or "no error message in the result; see the execution"
    return found if len(found) <= MAX_REASON else found[: MAX_REASON - 3] + "..."
