"""core.alias_execute: run the action alias a chat command matches (see st2lite.alias_execution)."""

from __future__ import annotations

import os
from typing import Any

from st2common.runners.base_action import Action


class AliasExecuteAction(Action):
    def run(
        self,
        command: str,
        user: str = "",
        source_channel: str = "",
        source_context: dict[str, Any] | None = None,
        notification_route: str = "",
    ) -> Any:
        from st2lite.alias_execution import AliasRequest, run_core_alias_execute
        from st2lite.exceptions import St2liteError

        request = AliasRequest(
            command=command,
            user=user or "",
            source_channel=source_channel or "",
            source_context=source_context or {},
            notification_route=notification_route or "",
        )
        try:
            return run_core_alias_execute(
                os.environ["ST2LITE_REDIS_URL"], os.environ.get("ST2_ACTION_EXECUTION_ID", ""), request
            )
        except St2liteError as exc:
            return (False, {"error": str(exc), "command": command})
