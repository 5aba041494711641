"""A stand-in for Slack: its Web API wire format on 127.0.0.1, for slack-sdk's ``WebClient(base_url=...)``.

Served (what the chatops pack and slack-sdk use):

- ``POST /api/auth.test``: who the bot token belongs to;
- ``POST /api/chat.postMessage``: JSON (slack-sdk's way) or a form; the message is kept per channel;
- ``GET|POST /api/files.info?file=F...``: the file object, its ``url_private_download`` pointing at
  ``/files-pri/<team>-<id>/download/<name>`` on this server (Slack's shape);
- ``GET /files-pri/...``: the file's bytes, only with ``Authorization: Bearer <bot token>``; without it, Slack
  answers a redirect to its sign-in page (302), which is what this server does (the page itself is HTML).

The token goes in ``Authorization: Bearer xoxb-...`` or in the body's ``token`` field, as Slack accepts; a
wrong or missing one gives ``{"ok": false, "error": "invalid_auth"}`` / ``not_authed`` (HTTP 200, as Slack).
Every request is recorded (:attr:`StandinSlack.calls`). :func:`sign` signs a body as Slack signs the requests
it sends to an app (``X-Slack-Signature: v0=...`` over ``v0:<timestamp>:<body>``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Call", "SlackFile", "StandinSlack", "sign"]

TEAM = "T0STANDIN"
BOT_USER = "U0BOT"


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends with ``body``: ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature``."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


@dataclass(frozen=True)
class Call:
    """One request the stand-in answered."""

    method: str
    path: str
    headers: dict[str, str]
    args: dict[str, Any]


@dataclass
class SlackFile:
    id: str
    name: str
    content: bytes
    mimetype: str = "text/csv"
    filetype: str = "csv"
    #: False: the download redirects to the sign-in page even with the bot token (as Slack does when the app
    #: lacks files:read or cannot see the file's conversation).
    downloadable: bool = True


@dataclass
class StandinSlack:
    """The server (a thread); ``token`` is the only bot token it accepts."""

    token: str = "xoxb-standin-token"
    #: 0: a free port.
    port: int = 0
    files: dict[str, SlackFile] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> StandinSlack:
        standin = self

        class Handler(_Handler):
            owner = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="standin-slack", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        """The ``base_url`` for ``WebClient`` (Slack's is ``https://slack.com/api/``)."""
        return self.url + "/api/"

    # -- content and records ----------------------------------------------------------------------

    def add_file(
        self, file_id: str, name: str, content: bytes, *, mimetype: str = "text/csv", downloadable: bool = True
    ) -> SlackFile:
        filetype = name.rsplit(".", 1)[-1] if "." in name else "text"
        added = SlackFile(file_id, name, content, mimetype, filetype, downloadable)
        self.files[file_id] = added
        return added

    def record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path == f"/api/{method}"]

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """The ``chat.postMessage`` calls that were accepted (valid token), optionally for one channel."""
        return [
            c.args
            for c in self.calls_to("chat.postMessage")
            if c.headers.get("x-standin-outcome") == "ok" and (channel is None or c.args.get("channel") == channel)
        ]

    def downloads(self) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path.startswith("/files-pri/")]


class _Handler(BaseHTTPRequestHandler):
    owner: StandinSlack
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the calls are recorded instead

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    # -- dispatch ---------------------------------------------------------------------------------

    def _serve(self, verb: str) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        args = _args(parsed.query, raw, self.headers.get("Content-Type", ""))
        headers = {k.lower(): v for k, v in self.headers.items()}
        if parsed.path.startswith("/files-pri/"):
            outcome = self._download(parsed.path, headers)
        elif parsed.path.startswith("/api/"):
            outcome = self._api(parsed.path[len("/api/") :], headers, args)
        else:
            outcome = "not_found"
            self._send(404, b"not found", "text/plain")
        self.owner.record(Call(verb, parsed.path, {**headers, "x-standin-outcome": outcome}, args))

    def _api(self, method: str, headers: dict[str, str], args: dict[str, Any]) -> str:
        token = _bearer(headers) or str(args.get("token") or "")
        if not token:
            return self._reply({"ok": False, "error": "not_authed"})
        if not hmac.compare_digest(token, self.owner.token):
            return self._reply({"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            return self._reply(
                {"ok": True, "url": "https://standin.slack.com/", "team": "Standin", "user": "csvbot",
                 "team_id": TEAM, "user_id": BOT_USER, "bot_id": "B0BOT"}
            )  # fmt: skip
        if method == "chat.postMessage":
            return self._post_message(args)
        if method == "files.info":
            return self._files_info(args)
        return self._reply({"ok": False, "error": "unknown_method"})

    def _post_message(self, args: dict[str, Any]) -> str:
        channel = str(args.get("channel") or "")
        if not channel:
            return self._reply({"ok": False, "error": "channel_not_found"})
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            return self._reply({"ok": False, "error": "no_text"})
        ts = f"{time.time():.6f}"
        message = {"type": "message", "user": BOT_USER, "bot_id": "B0BOT", "text": args.get("text", ""), "ts": ts}
        return self._reply({"ok": True, "channel": channel, "ts": ts, "message": message})

    def _files_info(self, args: dict[str, Any]) -> str:
        found = self.owner.files.get(str(args.get("file") or ""))
        if found is None:
            return self._reply({"ok": False, "error": "file_not_found"})
        base = f"{self.owner.url}/files-pri/{TEAM}-{found.id}"
        file = {
            "id": found.id,
            "created": 1_700_000_000,
            "timestamp": 1_700_000_000,
            "name": found.name,
            "title": found.name,
            "mimetype": found.mimetype,
            "filetype": found.filetype,
            "pretty_type": found.filetype.upper(),
            "user": "U0ANALYST",
            "mode": "hosted",
            "is_external": False,
            "is_public": False,
            "size": len(found.content),
            "url_private": f"{base}/{found.name}",
            "url_private_download": f"{base}/download/{found.name}",
            "permalink": f"https://standin.slack.com/files/U0ANALYST/{found.id}/{found.name}",
        }
        return self._reply({"ok": True, "file": file, "comments": [], "response_metadata": {"next_cursor": ""}})

    def _download(self, path: str, headers: dict[str, str]) -> str:
        token = _bearer(headers)
        parts = path.split("/")  # /files-pri/<team>-<id>/download/<name>
        file_id = parts[2].split("-", 1)[-1] if len(parts) > 2 else ""
        found = self.owner.files.get(file_id)
        allowed = found is None or found.downloadable
        if not token or not hmac.compare_digest(token, self.owner.token) or not allowed:
            # Slack sends a browser without a session to its sign-in page.
            self.send_response(302)
            self.send_header("Location", f"{self.owner.url}/?redir={urllib.parse.quote(path)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return "unauthorized"
        if found is None:
            self._send(404, b"file not found", "text/plain")
            return "not_found"
        self._send(200, found.content, found.mimetype)
        return "ok"

    # -- answers ----------------------------------------------------------------------------------

    def _reply(self, body: dict[str, Any]) -> str:
        self._send(200, json.dumps(body).encode(), "application/json; charset=utf-8")
        return "ok" if body.get("ok") else str(body.get("error"))

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _bearer(headers: dict[str, str]) -> str:
    value = headers.get("authorization", "")
    return value[len("Bearer ") :].strip() if value.startswith("Bearer ") else ""


def _args(query: str, raw: bytes, content_type: str) -> dict[str, Any]:
    """The method's arguments: query string, then a JSON or form body (Slack reads all three)."""
    args: dict[str, Any] = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    if not raw:
        return args
    if content_type.startswith("application/json"):
        body = json.loads(raw)
        if isinstance(body, dict):
            args.update(body)
    else:
        args.update(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
    return args
