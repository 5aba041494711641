"""notify.execution_failed: tell someone that an execution failed, naming the action, the execution and the error."""

from __future__ import annotations

import os
from typing import Any

from notify_lib.delivery import send
from notify_lib.message import Notification, failure_reason

from st2common.runners.base_action import Action


class ExecutionFailed(Action):
    def run(
        self,
        execution_id: str,
        action_ref: str,
        status: str,
        result: Any = None,
        severity: str = "error",
        channel: str | None = None,
    ) -> Any:
        reason = failure_reason(result)
        api = os.environ.get("ST2_ACTION_API_URL", "").rstrip("/")
        note = Notification(
            title=f"{action_ref} {status}",
            message=f"{action_ref} {status} (execution {execution_id}): {reason}",
            severity=severity,
            channel=channel or None,
            data={
                "execution_id": execution_id,
                "action_ref": action_ref,
                "status": status,
                "error": reason,
                "execution_url": f"{api}/api/v1/executions/{execution_id}" if api else None,
            },
        )
        return send(self.config, note)
