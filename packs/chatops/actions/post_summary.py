"""chatops.post_summary: one message with the counts and the failed rows."""

from __future__ import annotations

from typing import Any

from slackfiles import slack_client
from summary import summarize

from st2common.runners.base_action import Action


class PostSummaryAction(Action):
    def run(
        self, channel: str, job: str, file: str, rows: list[list[str]], results: list[Any]
    ) -> tuple[bool, dict[str, Any]]:
        summary = summarize(job, file, rows, results)
        posted = slack_client(self.config).chat_postMessage(channel=channel, text=summary.text)
        outcome = {"total": summary.total, "succeeded": summary.succeeded, "failed": summary.failed,
                   "text": summary.text, "ts": posted.get("ts")}  # fmt: skip
        return not summary.failed, outcome
