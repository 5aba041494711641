"""Two small real HTTP servers on 127.0.0.1 for the notify pack's tests.

* :class:`WebhookReceiver`: a generic JSON webhook. It keeps every POST (path, headers, JSON body) and answers
  with :attr:`WebhookReceiver.status` (200 unless a test sets another).
* :class:`MiniSlack`: Slack's Web API method ``chat.postMessage`` only, in Slack's wire format: ``POST
  /api/chat.postMessage`` with ``Authorization: Bearer <token>`` and a JSON (or form) body; HTTP 200 with
  ``{"ok": true, "channel", "ts", "message"}``, or ``{"ok": false, "error": "invalid_auth"}`` for a token it
  does not know, ``channel_not_found`` for a channel not starting with ``#`` or ``C``. (A fuller Slack stand-in
  lives in standin_slack.py; this one is named apart so both can exist.)
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["MiniSlack", "Received", "WebhookReceiver"]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: Any


class _Server:
    """A ThreadingHTTPServer in a daemon thread; ``received`` holds what came in."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if "json" in headers.get("content-type", ""):
                    body: Any = json.loads(raw or b"null")
                else:
                    body = dict(parse_qsl(raw.decode()))
                with owner._lock:
                    owner.received.append(Received(self.path, headers, body))
                status, answer = owner.answer(self.path, headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def answer(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        raise NotImplementedError

    def __enter__(self) -> _Server:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def bodies(self) -> list[Any]:
        with self._lock:
            return [r.body for r in self.received]


class WebhookReceiver(_Server):
    def __init__(self) -> None:
        super().__init__()
        self.status = 200

    def answer(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        return self.status, {"ok": self.status < 300}


class MiniSlack(_Server):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def answer(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        if path != "/api/chat.postMessage":
            return 404, {"ok": False, "error": "unknown_method"}
        if headers.get("authorization") != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}
        channel = str(body.get("channel") or "")
        if not channel.startswith(("#", "C")):
            return 200, {"ok": False, "error": "channel_not_found"}
        ts = f"{time.time():.6f}"
        message = {"type": "message", "text": body.get("text"), "ts": ts, "bot_id": "B0STANDIN"}
        return 200, {
            "ok": True,
            "channel": "C0STANDIN" if channel.startswith("#") else channel,
            "ts": ts,
            "message": message,
        }

    def posts(self) -> list[dict[str, Any]]:
        """The bodies of the chat.postMessage calls (accepted or not)."""
        with self._lock:
            return [r.body for r in self.received if r.path == "/api/chat.postMessage"]
