"""Delivering a notification: a JSON webhook (httpx) and/or Slack's chat.postMessage (slack-sdk)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from .message import Notification, slack_text

__all__ = ["DeliveryError", "Targets", "deliver", "send"]


class DeliveryError(Exception):
    """The notification could not be sent anywhere it should go."""


@dataclass(frozen=True)
class Targets:
    """Where notifications go, from the pack config (``configs/notify.yaml``)."""

    webhook_url: str = ""
    webhook_headers: dict[str, str] = field(default_factory=dict)
    webhook_secret_header: str = "X-Notify-Token"
    webhook_secret: str = ""
    slack_api_url: str = "https://slack.com/api/"
    slack_channel: str = ""
    slack_bot_token: str = ""
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Targets:
        known = {name: config[name] for name in cls.__dataclass_fields__ if config.get(name) is not None}
        return cls(**known)

    def slack_channel_for(self, note: Notification) -> str:
        return note.channel or self.slack_channel


def _post_webhook(targets: Targets, note: Notification, execution_id: str | None) -> dict[str, Any]:
    headers = {str(k): str(v) for k, v in targets.webhook_headers.items()}
    if targets.webhook_secret:
        headers[targets.webhook_secret_header] = targets.webhook_secret
    try:
        response = httpx.post(
            targets.webhook_url, json=note.webhook_body(execution_id), headers=headers, timeout=targets.timeout
        )
    except httpx.TimeoutException as exc:
        raise DeliveryError(
            f"webhook {targets.webhook_url} did not answer within {targets.timeout:g}s ({exc})"
        ) from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook {targets.webhook_url} could not be reached: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryError(
            f"webhook {targets.webhook_url} answered {response.status_code} {response.reason_phrase}: "
            f"{response.text[:300]}"
        )
    return {"target": "webhook", "url": targets.webhook_url, "status_code": response.status_code}


def _post_slack(targets: Targets, note: Notification) -> dict[str, Any]:
    channel = targets.slack_channel_for(note)
    if not targets.slack_bot_token:
        raise DeliveryError(
            "Slack: no bot token; store it with `st2lite key set slack_bot_token xoxb-... --encrypt` "
            "(configs/notify.yaml reads it as slack_bot_token)"
        )
    base = targets.slack_api_url if targets.slack_api_url.endswith("/") else targets.slack_api_url + "/"
    client = WebClient(token=targets.slack_bot_token, base_url=base, timeout=int(max(1, targets.timeout)))
    try:
        answer = client.chat_postMessage(channel=channel, text=slack_text(note), unfurl_links=False)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else str(exc)
        raise DeliveryError(
            f"Slack chat.postMessage to {channel} failed: {error} (HTTP {exc.response.status_code})"
        ) from exc
    except (SlackClientError, OSError) as exc:
        raise DeliveryError(f"Slack chat.postMessage to {channel} via {base} failed: {exc}") from exc
    return {"target": "slack", "channel": answer.get("channel", channel), "ts": answer.get("ts")}


def deliver(targets: Targets, note: Notification, execution_id: str | None) -> tuple[list[dict[str, Any]], list[str]]:
    """Send ``note`` everywhere configured: ``(what was delivered, errors)``. Every target is tried."""
    senders = []
    if targets.webhook_url:
        senders.append(lambda: _post_webhook(targets, note, execution_id))
    if targets.slack_channel_for(note):
        senders.append(lambda: _post_slack(targets, note))
    if not senders:
        raise DeliveryError(
            "nowhere to send the notification: set webhook_url and/or slack_channel (with the slack_bot_token "
            "datastore key) in configs/notify.yaml"
        )
    delivered, errors = [], []
    for send in senders:
        try:
            delivered.append(send())
        except DeliveryError as exc:
            errors.append(str(exc))
    return delivered, errors


def send(config: dict[str, Any], note: Notification) -> Any:
    """Deliver ``note`` as the actions do: their outcome, ``(False, {error, delivered})`` when a target failed."""
    try:
        delivered, errors = deliver(Targets.from_config(config), note, os.environ.get("ST2_ACTION_EXECUTION_ID"))
    except DeliveryError as exc:
        return False, {"error": str(exc), "delivered": []}
    if errors:
        return False, {"error": "; ".join(errors), "delivered": delivered}
    return {"delivered": delivered}
