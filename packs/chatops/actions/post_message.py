"""chatops.post_message: one message to a channel (the alias's ack, or why a command matched nothing)."""

from __future__ import annotations

from typing import Any

from slackfiles import slack_client

from st2common.runners.base_action import Action


class PostMessageAction(Action):
    def run(self, channel: str, text: str) -> dict[str, Any]:
        posted = slack_client(self.config).chat_postMessage(channel=channel, text=text)
        return {"channel": posted.get("channel"), "ts": posted.get("ts")}
