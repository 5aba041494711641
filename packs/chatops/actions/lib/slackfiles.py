"""Fetching a file the user posted in Slack: ``files.info`` with slack-sdk, then the download with the bot token."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from csvrows import CsvError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

__all__ = ["SlackFile", "fetch_csv", "is_csv", "slack_client"]

#: What Slack's errors mean for the person who posted the file.
_API_ERRORS = {
    "file_not_found": "Slack has no file {file}; post the CSV again (a deleted file cannot be read)",
    "file_deleted": "file {file} was deleted in Slack; post the CSV again",
    "invalid_auth": "Slack refused the bot token (invalid_auth); store the bot's xoxb- token with "
    "'st2lite key set slack_bot_token xoxb-... --encrypt'",
    "not_authed": "no bot token was sent to Slack; set bot_token in the chatops pack config",
    "missing_scope": "the Slack app lacks the files:read scope; add it and reinstall the app",
}


@dataclass(frozen=True)
class SlackFile:
    id: str
    name: str
    filetype: str
    mimetype: str
    size: int
    download_url: str


def slack_client(config: dict[str, Any]) -> WebClient:
    """A WebClient from the pack config (``slack_api_url``, ``bot_token``, ``timeout``)."""
    return WebClient(
        token=config["bot_token"], base_url=config.get("slack_api_url") or "https://slack.com/api/",
        timeout=int(config.get("timeout") or 30),
    )  # fmt: skip


def is_csv(file: SlackFile) -> bool:
    return file.filetype == "csv" or file.mimetype in ("text/csv", "application/csv") or file.name.endswith(".csv")


def fetch_csv(client: WebClient, file_id: str, *, max_bytes: int) -> tuple[SlackFile, bytes]:
    """The file's metadata and bytes; :class:`CsvError` when it is missing, not a CSV, too big or unreadable."""
    try:
        info = client.files_info(file=file_id)
    except SlackApiError as exc:
        code = str(exc.response.get("error", "")) if exc.response is not None else ""
        message = _API_ERRORS.get(code, "Slack answered files.info with '{code}'")
        raise CsvError(message.format(file=file_id, code=code or exc)) from None
    data = info["file"]
    file = SlackFile(
        id=data["id"], name=data.get("name") or data["id"], filetype=data.get("filetype") or "",
        mimetype=data.get("mimetype") or "", size=int(data.get("size") or 0),
        download_url=data.get("url_private_download") or data.get("url_private") or "",
    )  # fmt: skip
    if not is_csv(file):
        raise CsvError(
            f"'{file.name}' is not a CSV file (Slack says its type is {file.filetype or file.mimetype or 'unknown'}); "
            "post a .csv file"
        )
    if file.size > max_bytes:
        raise CsvError(
            f"'{file.name}' is {file.size} bytes, over the limit of {max_bytes} bytes (max_bytes in the chatops "
            "pack config); split it into smaller files"
        )
    return file, _download(file, str(client.token), max_bytes, int(client.timeout))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect means Slack did not accept the token: report it, do not follow it


def _download(file: SlackFile, token: str, max_bytes: int, timeout: int) -> bytes:
    if not file.download_url:
        raise CsvError(f"Slack gave no download URL for '{file.name}'; post the file again")
    request = urllib.request.Request(file.download_url, headers={"Authorization": f"Bearer {token}"})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            content: bytes = response.read(max_bytes + 1)
            content_type = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            raise CsvError(
                f"Slack sent the download of '{file.name}' to its sign-in page: the bot token may not read this "
                "file; give the app the files:read scope, reinstall it and invite the bot to the channel"
            ) from None
        raise CsvError(f"downloading '{file.name}' from Slack failed with HTTP {exc.code}") from None
    except OSError as exc:
        raise CsvError(f"downloading '{file.name}' from Slack failed: {exc}") from None
    if content_type.startswith("text/html"):
        raise CsvError(f"Slack answered the download of '{file.name}' with a web page, not the file; check the token")
    if len(content) > max_bytes:
        raise CsvError(
            f"'{file.name}' is over the limit of {max_bytes} bytes (max_bytes in the chatops pack config); "
            "split it into smaller files"
        )
    return content
