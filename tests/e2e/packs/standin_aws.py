"""A fault-injecting HTTP proxy in front of ``moto_server``, for the infra pack's tests.

moto answers every AWS call as AWS would when everything works; a rollback step that fails needs AWS to
refuse one call. The proxy forwards each request to moto unchanged and answers a chosen one itself with an
error in the service's own wire format (Route 53's REST XML ``ErrorResponse``), as AWS would for credentials
that lack a permission. Everything else passes through, so boto3 and the pack's code run against it unchanged.
"""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = ["FaultyAws", "Refusal", "faulty_aws"]

#: The access key id in a SigV4 ``Authorization`` header.
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
#: Headers that describe one hop, not the message (RFC 9110 section 7.6.1).
_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"})


@dataclass(frozen=True)
class Refusal:
    """Refuse a request whose path contains ``path`` and whose body contains every part of ``body``."""

    path: str
    body: tuple[bytes, ...]
    status: int
    code: str
    message: str

    def matches(self, path: str, body: bytes) -> bool:
        return self.path in path and all(part in body for part in self.body)

    def route53_error(self) -> bytes:
        return (
            '<?xml version="1.0"?>\n'
            '<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
            f"<Error><Type>Sender</Type><Code>{self.code}</Code><Message>{self.message}</Message></Error>"
            "<RequestId>standin-0000</RequestId></ErrorResponse>"
        ).encode()


@dataclass
class FaultyAws:
    """The proxy's address and its refusals (the test adds them; each request checks the current list)."""

    url: str
    refusals: list[Refusal] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    #: The access key ids the requests were signed with (SigV4's ``Credential=<key id>/...``).
    access_keys: set[str] = field(default_factory=set)


def _handler(upstream: str, state: FaultyAws) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            signed = _CREDENTIAL.search(self.headers.get("Authorization", ""))
            if signed:
                state.access_keys.add(signed.group(1))
            for refusal in list(state.refusals):
                if refusal.matches(self.path, body):
                    state.refused.append(f"{self.command} {self.path}")
                    self._answer(refusal.status, {"Content-Type": "text/xml"}, refusal.route53_error())
                    return
            connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                kept = {k: v for k, v in response.getheaders() if k.lower() not in _HOP | {"content-length"}}
                self._answer(response.status, kept, payload)
            finally:
                connection.close()

        def _answer(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@contextmanager
def faulty_aws(upstream: str) -> Iterator[FaultyAws]:
    """Serve the proxy to ``upstream`` (moto's URL) on a free port of 127.0.0.1 while the block runs."""
    state = FaultyAws(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream, state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="faulty-aws", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
