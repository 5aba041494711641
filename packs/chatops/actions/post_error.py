"""chatops.post_error: tell the channel why no job ran, and fail (the chain ends failed)."""

from __future__ import annotations

from typing import Any

from slackfiles import slack_client
from summary import error_text

from st2common.runners.base_action import Action


class PostErrorAction(Action):
    def run(self, channel: str, job: str, csv_file: str, outcome: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        text = error_text(job, csv_file, outcome)
        posted = slack_client(self.config).chat_postMessage(channel=channel, text=text)
        return False, {"error": text, "ts": posted.get("ts")}
