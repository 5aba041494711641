"""An HTTP/1.1 load generator: N keep-alive connections, each sending one request after the other.

``python -m bench.loadgen --port P --path /x --body '{"a": 1}' --connections 32 --seconds 10``
prints one JSON object: requests completed in the window, per status, errors,
requests/s and latency percentiles. It runs in its own process (the benchmark
starts it), on asyncio protocols over raw sockets: building and parsing
HTTP/1.1 by hand costs a few µs per request, where an HTTP client library
(httpx) costs more than the server under test. Only the standard library (and
uvloop when it is installed) is used, so it runs on any machine with st2lite's
dependencies.

Closed loop: each connection has one request in flight at a time, so the
request rate is what the server sustains at that concurrency. A warm-up period
(requests sent, not counted) precedes the window; requests completing after the
window are not counted either. ``--serve`` instead runs a trivial HTTP server
answering every request with a fixed 202, to measure this client's own ceiling.

``--method GET`` sends no body. ``--answers`` also groups every answer
(warm-up and tail included) by status, the values of the ``--answer-header``
headers and a CRC-32 of the body, keeping the first body of each group: a
benchmark can then check every answer of a read whose answer does not change
without this process parsing each one (which would take CPU from the server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
import zlib
from typing import Any, cast

__all__ = ["main"]

_HEADER_END = b"\r\n\r\n"


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _content_length(head: bytes) -> int:
    """The Content-Length of a lower-cased header block, -1 when there is none."""
    at = head.find(b"content-length:")
    if at < 0:
        return -1
    value = head[at + 15 :].split(b"\r\n", 1)[0]
    try:
        return int(value)
    except ValueError:
        return -1


def _header(head: bytes, name: bytes) -> str | None:
    """The value of header ``name`` (lower case) in a lower-cased header block, None when absent."""
    at = head.find(b"\r\n" + name + b":")
    if at < 0:
        return None
    return head[at + len(name) + 3 :].split(b"\r\n", 1)[0].strip().decode("latin-1")


class _Stats:
    def __init__(self, answer_headers: list[bytes] | None = None) -> None:
        #: With ``--answers``: (status, header values, body CRC-32) -> [count, first body].
        self.answers: dict[tuple[Any, ...], list[Any]] | None = None if answer_headers is None else {}
        self.answer_headers = answer_headers or []
        self.counting = False
        self.statuses: dict[int, int] = {}
        #: Every answer, warm-up and tail included (what the server accepted in all).
        self.all_statuses: dict[int, int] = {}
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.warmup_requests = 0


class _Connection(asyncio.Protocol):
    """One keep-alive connection sending ``request`` again as soon as each answer is complete."""

    def __init__(self, request: bytes, stats: _Stats, done: asyncio.Future[None], stop: asyncio.Event) -> None:
        self.request = request
        self.stats = stats
        self.done = done
        self.stop = stop
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.sent_at = 0.0
        self.status = 0
        self.need = -1  # total bytes of the current response once its headers are parsed
        self.body_at = 0
        self.head = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.sent_at = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.need < 0:
                end = self.buffer.find(_HEADER_END)
                if end < 0:
                    return
                head = bytes(self.buffer[:end]).lower()
                length = _content_length(head)
                if not head.startswith(b"http/1.1 ") or length < 0:
                    self._fail(f"not an HTTP/1.1 answer with Content-Length: {bytes(self.buffer[:200])!r}")
                    return
                self.status = int(head[9:12])
                self.need = end + 4 + length
                self.body_at = end + 4
                self.head = head
            if len(self.buffer) < self.need:
                return
            stats = self.stats
            if stats.answers is not None:
                body = bytes(self.buffer[self.body_at : self.need])
                values = tuple(_header(self.head, name) for name in stats.answer_headers)
                key = (self.status, values, zlib.crc32(body))
                group = stats.answers.get(key)
                if group is None:
                    stats.answers[key] = [1, body]
                else:
                    group[0] += 1
            del self.buffer[: self.need]
            self.need = -1
            stats.all_statuses[self.status] = stats.all_statuses.get(self.status, 0) + 1
            if stats.counting:
                stats.statuses[self.status] = stats.statuses.get(self.status, 0) + 1
                stats.latencies.append(time.perf_counter() - self.sent_at)
            else:
                stats.warmup_requests += 1
            if self.stop.is_set():
                self._finish()
                return
            self._send()

    def _fail(self, message: str) -> None:
        self.stats.errors.append(message)
        self._finish()

    def _finish(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            if not self.stop.is_set():
                self.stats.errors.append(f"connection closed by the server: {exc}")
            self.done.set_result(None)


def build_request(host: str, port: int, path: str, body: bytes, headers: list[str], method: str = "POST") -> bytes:
    """The bytes of one request; a GET has no body (nor Content-Type and Content-Length)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    if method == "GET":
        body = b""
    else:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join([*lines, *headers]) + "\r\n\r\n").encode() + body


def _answers(stats: _Stats, names: list[str]) -> list[dict[str, Any]]:
    """The groups of answers, largest first; the first body of the 10 largest (UTF-8, replaced)."""
    groups = sorted((stats.answers or {}).items(), key=lambda item: -item[1][0])
    return [
        {
            "status": status,
            "headers": dict(zip(names, values, strict=True)),
            "body_crc32": crc,
            "count": count,
            "body": body.decode(errors="replace") if rank < 10 else None,
        }
        for rank, ((status, values, crc), (count, body)) in enumerate(groups)
    ]


async def _load(args: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    cpu_at_start = time.process_time()
    request = build_request(args.host, args.port, args.path, args.body.encode(), args.header, args.method)
    names = [n.lower() for n in args.answer_header]
    stats = _Stats([n.encode() for n in names] if args.answers else None)
    stop = asyncio.Event()
    dones: list[asyncio.Future[None]] = []
    for _ in range(args.connections):
        done: asyncio.Future[None] = loop.create_future()
        await loop.create_connection(lambda d=done: _Connection(request, stats, d, stop), args.host, args.port)
        dones.append(done)
    await asyncio.sleep(args.warmup)
    stats.counting = True
    started = time.perf_counter()
    cpu_started = time.process_time()
    await asyncio.sleep(args.seconds)
    stats.counting = False
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    stop.set()
    await asyncio.wait_for(asyncio.gather(*dones), timeout=30)
    total = sum(stats.statuses.values())
    extra = {"answers": _answers(stats, names)} if args.answers else {}
    return {
        "connections": args.connections,
        "seconds": round(elapsed, 3),
        "requests": total,
        "requests_per_s": total / elapsed,
        "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
        "all_requests": sum(stats.all_statuses.values()),
        "all_statuses": {str(k): v for k, v in sorted(stats.all_statuses.items())},
        "errors": stats.errors[:20],
        "error_count": len(stats.errors),
        "warmup_requests": stats.warmup_requests,
        "p50_ms": _percentile(stats.latencies, 50) * 1000,
        "p90_ms": _percentile(stats.latencies, 90) * 1000,
        "p99_ms": _percentile(stats.latencies, 99) * 1000,
        "max_ms": max(stats.latencies, default=math.nan) * 1000,
        "client_cpu_s": round(cpu, 3),
        "all_client_cpu_s": round(time.process_time() - cpu_at_start, 3),
        "loop": type(loop).__module__,
        **extra,
    }


class _Trivial(asyncio.Protocol):
    """Answers each complete request (headers + Content-Length body) with a fixed 202."""

    ANSWER = b'HTTP/1.1 202 Accepted\r\ncontent-length: 11\r\ncontent-type: application/json\r\n\r\n{"id":"ok"}'

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        answers = 0
        while True:
            end = self.buffer.find(_HEADER_END)
            if end < 0:
                break
            length = max(0, _content_length(bytes(self.buffer[:end]).lower()))
            if len(self.buffer) < end + 4 + length:
                break
            del self.buffer[: end + 4 + length]
            answers += 1
        if answers and self.transport is not None:
            self.transport.write(self.ANSWER * answers)


async def _serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Trivial, args.host, args.port)
    print(json.dumps({"serving": args.port}), flush=True)
    async with server:
        await server.serve_forever()


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # optional: the faster loop when installed
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--method", choices=("POST", "GET"), default="POST")
    parser.add_argument("--body", default="{}")
    parser.add_argument("--header", action="append", default=[], help="an extra 'Name: value' request header")
    parser.add_argument("--answers", action="store_true", help="group every answer by status, headers, body")
    parser.add_argument("--answer-header", action="append", default=[], help="a header --answers groups by")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--serve", action="store_true", help="run the trivial 202 server on --port instead")
    args = parser.parse_args(argv)
    with asyncio.Runner(loop_factory=_new_loop) as runner:
        if args.serve:
            runner.run(_serve(args))
            return 0
        result = runner.run(_load(args))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
