"""core.inject_trigger: publish a trigger instance onto the trigger bus."""

from __future__ import annotations

import os
from typing import Any

from st2common.runners.base_action import Action


class InjectTriggerAction(Action):
    def run(self, trigger: str, payload: dict[str, Any] | None = None, trace_tag: str | None = None) -> Any:
        from st2lite.dispatch import publish_trigger

        instance_id = publish_trigger(
            os.environ["ST2LITE_REDIS_URL"],
            trigger,
            payload or {},
            trace_tag=trace_tag or "",
            actor=f"action:{os.environ.get('ST2_ACTION_EXECUTION_ID', '')}",
        )
        return {"trigger_instance": instance_id}
