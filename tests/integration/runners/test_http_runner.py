"""http-request against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from st2lite.exceptions import RunnerError
from st2lite.runners import get_runner
from st2lite.runners.base import RunContext, RunResult
from st2lite.statuses import ExecutionStatus

S = ExecutionStatus

#: Set at teardown so a request parked on /slow returns.
RELEASE = threading.Event()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean."""

    def _send(self, code: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _echo(self, code: int) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        document = {
            "method": self.command,
            "query": parse_qs(urlsplit(self.path).query),
            "body": self.rfile.read(length).decode(),
            "content_type": self.headers.get("Content-Type"),
            "authorization": self.headers.get("Authorization"),
            "cookie": self.headers.get("Cookie"),
            "x_token": self.headers.get("X-Token"),
        }
        self._send(code, json.dumps(document).encode(), "application/json")

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/echo":
            self._echo(200)
        elif path == "/text":
            self._send(200, b"plain words", "text/plain; charset=utf-8")
        elif path == "/slow":
            RELEASE.wait(5)
            self._send(200, b"late", "text/plain")
        elif path == "/redirect":
            self._send(302, b"", "text/plain", {"Location": "/echo"})
        else:
            self._send(404, b"no such page", "text/plain")

    def do_POST(self) -> None:
        self._echo(201)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    RELEASE.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def _run(**runner_parameters: Any) -> RunResult:
    ctx = RunContext(execution_id="ex-http", action_ref="core.http", pack="core", runner_parameters=runner_parameters)
    return get_runner("http-request").run(ctx)


def test_get_json_with_query_headers_cookies_and_basic_auth(base_url: str) -> None:
    result = _run(
        url=f"{base_url}/echo",
        params={"q": "x", "n": 2},
        headers={"X-Token": "t1"},
        cookies={"session": "abc"},
        username="ann",
        password="pw",
    )
    assert result.status is S.SUCCEEDED, result
    assert result.result["status_code"] == 200
    assert result.result["parsed"] is True
    body = result.result["body"]
    assert body["query"] == {"q": ["x"], "n": ["2"]}
    assert body["x_token"] == "t1"
    assert body["cookie"] == "session=abc"
    assert body["authorization"] == "Basic YW5uOnB3"
    assert result.result["headers"]["content-type"] == "application/json"


def test_post_object_body_is_sent_as_json(base_url: str) -> None:
    result = _run(url=f"{base_url}/echo", method="POST", body={"a": [1, 2]})
    assert result.status is S.SUCCEEDED
    assert result.result["status_code"] == 201
    assert json.loads(result.result["body"]["body"]) == {"a": [1, 2]}
    assert result.result["body"]["content_type"] == "application/json"


def test_post_string_body_is_sent_as_is(base_url: str) -> None:
    result = _run(url=f"{base_url}/echo", method="post", body="k=v", headers={"Content-Type": "text/plain"})
    assert result.result["body"]["body"] == "k=v"
    assert result.result["body"]["method"] == "POST"


def test_text_body_is_not_parsed(base_url: str) -> None:
    result = _run(url=f"{base_url}/text")
    assert result.status is S.SUCCEEDED
    assert result.result["body"] == "plain words"
    assert result.result["parsed"] is False


def test_not_found_fails(base_url: str) -> None:
    result = _run(url=f"{base_url}/missing")
    assert result.status is S.FAILED
    assert result.result["status_code"] == 404
    assert result.result["body"] == "no such page"
    assert result.error == "HTTP 404 Not Found"


def test_redirects_are_not_followed_by_default(base_url: str) -> None:
    assert _run(url=f"{base_url}/redirect").result["status_code"] == 302
    followed = _run(url=f"{base_url}/redirect", allow_redirects=True)
    assert followed.status is S.SUCCEEDED
    assert followed.result["body"]["method"] == "GET"


def test_timeout(base_url: str) -> None:
    result = _run(url=f"{base_url}/slow", timeout=0.3)
    assert result.status is S.TIMEOUT
    assert result.error == "Action failed to complete in 0.3 seconds"
    assert result.result == {"error": "Action failed to complete in 0.3 seconds"}


def test_connection_refused_fails() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x"
    result = _run(url=url)
    assert result.status is S.FAILED
    assert result.error is not None
    assert result.error.startswith(f"GET {url} failed: ")
    assert result.result == {"error": result.error}


def test_unsupported_scheme_fails() -> None:
    result = _run(url="ftp://127.0.0.1/x")
    assert result.status is S.FAILED
    assert result.error == "GET ftp://127.0.0.1/x failed: Request URL has an unsupported protocol 'ftp://'."


def test_missing_url_is_reported() -> None:
    with pytest.raises(RunnerError) as info:
        _run()
    assert str(info.value) == (
        "action 'core.http' (http-request) has no 'url'; "
        "set url in the action metadata or pass it when running the action"
    )
