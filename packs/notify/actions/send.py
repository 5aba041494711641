"""notify.send: post a notification to the configured webhook and/or Slack channel."""

from __future__ import annotations

from typing import Any

from notify_lib.delivery import send
from notify_lib.message import Notification

from st2common.runners.base_action import Action


class Send(Action):
    def run(
        self,
        message: str,
        title: str = "",
        severity: str = "warning",
        channel: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Any:
        try:
            note = Notification(
                message=message, title=title or "", severity=severity, channel=channel or None, data=data or {}
            )
        except ValueError as exc:
            return False, {"error": str(exc), "delivered": []}
        return send(self.config, note)
