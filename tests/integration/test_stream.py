"""Output streaming and the event stream against real processes: ``st2lite rules`` and ``st2lite worker``
subprocesses run the actions, a uvicorn API serves ``/output`` and the SSE streams, the CLI follows them.

The ``streaming`` fixture pack's actions print, then wait for a gate file the
test creates, so "the first line is visible while the action still runs" is
checked without timing guesses.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from conftest import REPO, ApiServer, fault, serve_api, wait_for

from st2lite import keys
from st2lite.embedded_redis import free_port
from st2lite.registration import register_from_disk
from st2lite.sse import parse_events

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

STREAMING_PACK = REPO / "tests" / "fixtures" / "runnable" / "streaming"
#: The heartbeat of the test's own API (the live API keeps the default, 25 s).
HEARTBEAT = 0.3
#: Streams the test's API serves at once.
MAX_STREAMS = 6


@dataclass
class Streams:
    """The live API (rules engine and worker running) plus a second API on the same Redis with a short heartbeat."""

    live: ApiServer
    url: str
    http: httpx.Client
    gates: Path

    def gate(self, name: str) -> Path:
        return self.gates / name

    def run(self, action: str, **parameters: Any) -> dict[str, Any]:
        response = self.http.post("/api/v1/executions", json={"action": action, "parameters": parameters})
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def status(self, execution_id: str) -> str:
        return str(self.live.execution(execution_id)["status"])

    def output(self, execution_id: str, **params: str) -> str:
        response = self.http.get(f"/api/v1/executions/{execution_id}/output", params=params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return response.text

    def stream_clients(self) -> int:
        """Redis connections the APIs' streams hold now."""
        return sum(1 for c in self.live.redis.client_list() if c.get("name") == keys.STREAM_CLIENT_NAME)

    def no_streams(self) -> int:
        """Wait until the streams of earlier tests closed their connections (they close after their clients)."""
        wait_for(lambda: self.stream_clients() == 0, "the earlier streams' Redis connections to close")
        return 0


@dataclass
class Follower:
    """Reads one SSE endpoint in a thread: ``events`` as ``(event, data, id)``, ``heartbeats`` counted."""

    url: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    events: list[tuple[str, Any, str]] = field(default_factory=list)
    heartbeats: int = 0
    status: int | None = None
    body: bytes = b""
    opened: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    stop: bool = False

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()
        assert self.opened.wait(10), f"{self.url} did not answer"

    def _read(self) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(10.0, read=30.0)) as client,
                client.stream("GET", self.url, params=self.params, headers=self.headers) as response,
            ):
                self.status = response.status_code
                if response.status_code != 200:
                    self.body = response.read()
                    return
                self.opened.set()
                for event in parse_events(self._lines(response)):
                    data = json.loads(event.data) if event.data else None
                    self.events.append((event.event, data, event.id))
                    if self.stop:
                        return
        except httpx.HTTPError:
            pass
        finally:
            self.opened.set()
            self.ended.set()

    def _lines(self, response: httpx.Response) -> Iterator[str]:
        for line in response.iter_lines():
            if line.startswith(":"):
                self.heartbeats += 1
                if self.stop:
                    return
            yield line

    def close(self) -> None:
        """Stop reading (at the next event or heartbeat) and drop the connection."""
        self.stop = True
        assert self.ended.wait(10), f"{self.url} reader did not stop"

    def of(self, execution_id: str) -> list[tuple[str, Any, str]]:
        """The events about ``execution_id`` (execution events by ``id``, output by ``execution_id``)."""
        return [
            e
            for e in self.events
            if isinstance(e[1], dict) and execution_id in (e[1].get("execution_id"), e[1].get("id"))
        ]


@pytest.fixture(scope="module")
def streams(live_api: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Streams]:
    report, _version = register_from_disk(live_api.settings, live_api.redis, [STREAMING_PACK], actor="test")
    assert not report.problems, report.problems
    settings = live_api.settings.model_copy(
        update={"api_port": free_port(), "stream_heartbeat": HEARTBEAT, "stream_max_clients": MAX_STREAMS}
    )
    gates = tmp_path_factory.mktemp("gates")
    headers = {"St2-Api-Key": live_api.admin_key}
    with serve_api(settings) as url, httpx.Client(base_url=url, timeout=10.0, headers=headers) as http:
        yield Streams(live=live_api, url=url, http=http, gates=gates)


def follow(streams: Streams, path: str, **params: str) -> Follower:
    # As browsers and the st2 CLI open streams: the credential in the query string.
    follower = Follower(f"{streams.url}{path}", params={"st2-api-key": streams.live.admin_key, **params})
    assert follower.status == 200, follower.body
    return follower


# -- output while running, and after ------------------------------------------------------------------


def test_python_action_output_is_readable_while_it_runs_and_after(streams: Streams) -> None:
    gate = streams.gate("python")
    created = streams.run("streaming.ticker", gate=str(gate))
    eid = created["id"]
    live = follow(streams, f"/stream/v1/executions/{eid}/output")

    # The first line, through /output and the stream, while the action waits for the gate.
    wait_for(lambda: "tick 1\n" in streams.output(eid), "the first line in /output")
    wait_for(lambda: any(e[1]["data"] == "tick 1\n" for e in live.events), "the first line on the stream")
    assert streams.status(eid) == "running"
    assert "logged 1" in streams.output(eid, output_type="stderr")  # self.logger goes to stderr

    gate.touch()
    assert live.ended.wait(15), "the output stream did not end with the execution"
    final = streams.live.wait_final(eid)
    assert final["status"] == "succeeded"
    assert live.events[-1][0] == "EOF"
    lines = [e[1] for e in live.events[:-1]]
    assert {e[0] for e in live.events[:-1]} == {"st2.execution.output__create"}
    assert [ln["data"] for ln in lines if ln["output_type"] == "stdout"] == ["tick 1\n", "tick 2\n", "tick 3\n"]
    assert all(ln["execution_id"] == eid and ln["timestamp"].endswith("Z") for ln in lines)
    # Stored in order, filterable, and the result keeps its usual shape.
    assert streams.output(eid, output_type="stdout") == "tick 1\ntick 2\ntick 3\n"
    assert streams.output(eid).index("tick 1") < streams.output(eid).index("tick 2")
    assert final["result"]["stdout"] == "tick 1\ntick 2\ntick 3\n"
    assert final["result"]["result"] == {"ticks": 3}
    # After the end the same stream gives the stored lines and EOF at once.
    again = follow(streams, f"/stream/v1/executions/{eid}/output", output_type="stderr")
    assert again.ended.wait(10)
    assert [e[0] for e in again.events][-1] == "EOF"
    assert all(e[1]["output_type"] == "stderr" for e in again.events[:-1])
    assert "logged 1" in "".join(e[1]["data"] for e in again.events[:-1])
    # Output expires with the execution.
    ttl = streams.live.redis.ttl(keys.execution_output(eid))
    assert 0 < ttl <= streams.live.settings.execution_ttl


def test_stream_sends_create_running_output_and_succeeded_in_order(streams: Streams) -> None:
    gate = streams.gate("order")
    live = follow(streams, "/stream/v1/stream", action_refs="streaming.shell_ticker")
    created = streams.run("streaming.shell_ticker", gate=str(gate))
    eid = created["id"]
    wait_for(lambda: any(e[0] == "st2.execution.output__create" for e in live.of(eid)), "the first output event")
    gate.touch()
    wait_for(
        lambda: any(e[0] == "st2.execution__update" and e[1]["status"] == "succeeded" for e in live.of(eid)),
        "the succeeded update",
    )
    live.close()

    events = live.of(eid)
    names = [e[0] for e in events]
    statuses = [e[1]["status"] for e in events if e[0] != "st2.execution.output__create"]
    assert names[0] == "st2.execution__create" and statuses[0] == "requested"
    assert statuses == ["requested", "scheduled", "running", "succeeded"]
    first_output = names.index("st2.execution.output__create")
    assert names[first_output - 1] == "st2.execution__update" and events[first_output - 1][1]["status"] == "running"
    assert names[-1] == "st2.execution__update"
    outputs = [e[1] for e in events if e[0] == "st2.execution.output__create"]
    assert [o["data"] for o in outputs if o["output_type"] == "stdout"] == ["out 1\n", "out 2\n"]
    assert [o["data"] for o in outputs if o["output_type"] == "stderr"] == ["err 1\n", "err 2\n"]
    assert all(o["action_ref"] == "streaming.shell_ticker" for o in outputs)
    # Each update is the execution as of that change, in the shape of GET /api/v1/executions/{id}.
    running = events[first_output - 1][1]
    assert "result" not in running and running["action"]["ref"] == "streaming.shell_ticker"
    assert [entry["status"] for entry in running["log"]] == ["requested", "scheduled", "running"]
    done = events[-1][1]
    assert done == streams.live.execution(eid) | {"elapsed_seconds": done["elapsed_seconds"]}
    assert done["result"]["stdout"] == "out 1\nout 2"
    # Event ids only grow (they are where a reconnecting client resumes).
    ids = [e[2] for e in live.events]
    assert ids == sorted(ids, key=lambda i: [int(p) for part in i.split("_") for p in part.split("-")])


def test_end_event_closes_the_stream_as_st2_execution_tail_expects(streams: Streams) -> None:
    gate = streams.gate("end")
    created = streams.run("streaming.shell_ticker", gate=str(gate), code=1)
    other = streams.run("core.noop")
    eid = created["id"]
    wait_for(lambda: streams.status(eid) == "running", "the execution to run")
    tail = follow(
        streams,
        "/stream/v1/stream",
        end_event="st2.execution__update",
        end_execution_id=eid,
        events="st2.execution__update,st2.execution.output__create",
    )
    only_other = follow(streams, "/stream/v1/stream", execution_ids=other["id"])
    wait_for(lambda: streams.output(eid).startswith(("out 1", "err 1")), "the first line")
    gate.touch()

    assert tail.ended.wait(15), "the stream did not close after the end event"
    assert {e[0] for e in tail.events} <= {"st2.execution__update", "st2.execution.output__create"}
    assert tail.events[-1][0] == "st2.execution__update"
    assert tail.events[-1][1]["id"] == eid and tail.events[-1][1]["status"] == "failed"
    assert {e[1]["data"] for e in tail.events if e[0] == "st2.execution.output__create"} >= {"out 2\n", "err 2\n"}
    assert streams.live.wait_final(other["id"])["status"] == "succeeded"
    only_other.close()
    assert all(e[1].get("id") == other["id"] or e[1].get("execution_id") == other["id"] for e in only_other.events)


def test_events_filter_keeps_only_the_named_events(streams: Streams) -> None:
    gate = streams.gate("filter")
    gate.touch()
    live = follow(streams, "/stream/v1/stream", events="st2.execution.output__create")
    created = streams.run("streaming.shell_ticker", gate=str(gate))
    streams.live.wait_final(created["id"])
    wait_for(lambda: len(live.of(created["id"])) == 4, "the four output lines")
    live.close()
    assert {e[0] for e in live.events} == {"st2.execution.output__create"}


def test_trigger_instances_are_streamed(streams: Streams) -> None:
    live = follow(streams, "/stream/v1/stream", events="st2.trigger_instance__create")
    response = streams.http.post("/api/v1/webhooks/st2", json={"trigger": "core.st2.webhook", "payload": {}})
    assert response.status_code in (200, 202), response.text
    sent = response.json()
    wait_for(lambda: any(e[1].get("id") == sent["id"] for e in live.events), "the trigger instance event")
    live.close()
    [event] = [e for e in live.events if e[1].get("id") == sent["id"]]
    assert event[0] == "st2.trigger_instance__create"
    assert event[1]["trigger"] == "core.st2.webhook" and event[1]["occurrence_time"].endswith("Z")


def test_heartbeat_arrives_on_an_idle_stream(streams: Streams) -> None:
    live = follow(streams, "/stream/v1/stream", events="st2.announcement__chatops")  # never emitted
    wait_for(lambda: live.heartbeats >= 2, "two heartbeats", deadline=HEARTBEAT * 20)
    live.close()
    assert live.events == []


def test_last_event_id_resumes_after_that_event(streams: Streams) -> None:
    gate = streams.gate("resume")
    gate.touch()
    first = follow(streams, "/stream/v1/stream", action_refs="streaming.shell_ticker")
    created = streams.run("streaming.shell_ticker", gate=str(gate))
    streams.live.wait_final(created["id"])
    wait_for(lambda: any(e[1].get("status") == "succeeded" for e in first.of(created["id"])), "the end")
    first.close()
    seen = first.of(created["id"])
    resumed = Follower(
        f"{streams.url}/stream/v1/stream",
        params={"action_refs": "streaming.shell_ticker"},
        headers={"Last-Event-ID": seen[2][2], "St2-Api-Key": streams.live.admin_key},
    )
    wait_for(lambda: len(resumed.of(created["id"])) >= len(seen) - 3, "the events after the third")
    resumed.close()
    assert [e[2] for e in resumed.of(created["id"])] == [e[2] for e in seen[3:]]


def test_a_client_that_goes_away_frees_its_redis_connection_at_once(streams: Streams) -> None:
    before = streams.no_streams()
    # The live API keeps the default 25 s heartbeat: the stream is blocked in Redis when the client leaves.
    where = urlparse(streams.live.url)
    sock = socket.create_connection((where.hostname, where.port), timeout=10)
    try:
        key = streams.live.admin_key
        sock.sendall(f"GET /stream/v1/stream?st2-api-key={key} HTTP/1.1\r\nHost: {where.netloc}\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        wait_for(lambda: streams.stream_clients() == before + 1, "the stream's Redis connection")
    finally:
        sock.close()
    wait_for(lambda: streams.stream_clients() == before, "the Redis connection to be closed", deadline=5.0)


def test_a_process_serves_at_most_stream_max_clients(streams: Streams) -> None:
    before = streams.no_streams()
    open_ = [follow(streams, "/stream/v1/stream") for _ in range(MAX_STREAMS)]
    try:
        refused = streams.http.get("/stream/v1/stream")
        message = fault(refused, 503)
        assert "stream_max_clients" in message and str(MAX_STREAMS) in message
    finally:
        for follower in open_:
            follower.close()
    wait_for(lambda: streams.stream_clients() == before, "the streams' connections to close")
    again = follow(streams, "/stream/v1/stream")
    again.close()


def test_stopping_the_api_ends_its_open_streams(streams: Streams) -> None:
    settings = streams.live.settings.model_copy(update={"api_port": free_port()})  # heartbeat 25 s
    with serve_api(settings) as url:
        follower = Follower(f"{url}/stream/v1/stream", headers={"St2-Api-Key": streams.live.admin_key})
        assert follower.status == 200
        stopping = time.monotonic()
    # uvicorn waits for running requests: without ending the streams it would still be waiting.
    assert time.monotonic() - stopping < 8
    assert follower.ended.wait(5)
    streams.no_streams()


# -- bad input ------------------------------------------------------------------------------------------


def test_unknown_execution_is_a_404_on_both_output_endpoints(streams: Streams) -> None:
    before = streams.no_streams()
    message = fault(streams.http.get("/api/v1/executions/nope/output"), 404)
    assert "execution 'nope' not found" in message
    message = fault(streams.http.get("/stream/v1/executions/nope/output"), 404)
    assert "execution 'nope' not found" in message
    assert streams.stream_clients() == before  # the refused stream gave its connection back


@pytest.mark.parametrize(
    ("path", "params", "expected"),
    [
        ("/stream/v1/stream", {"events": "st2.execution__update,st2.bogus"}, "unknown event 'st2.bogus' in events"),
        ("/stream/v1/stream", {"end_event": "st2.execution__update"}, "end_event and end_execution_id go together"),
        ("/stream/v1/stream", {"end_event": "st2.nope", "end_execution_id": "x"}, "unknown event 'st2.nope'"),
        ("/api/v1/executions/{id}/output", {"output_type": "both"}, "output_type must be one of stdout, stderr"),
        ("/stream/v1/executions/{id}/output", {"output_type": "both"}, "output_type must be one of stdout, stderr"),
    ],
)
def test_bad_stream_requests_are_400_and_lose_nothing(
    streams: Streams, path: str, params: dict[str, str], expected: str
) -> None:
    gate = streams.gate("bad")
    gate.touch()
    created = streams.run("streaming.shell_ticker", gate=str(gate))
    streams.live.wait_final(created["id"])
    before = streams.output(created["id"])

    message = fault(streams.http.get(path.format(id=created["id"]), params=params), 400)

    assert expected in message
    assert streams.output(created["id"]) == before and "out 2" in before


def test_bad_last_event_id_is_a_400(streams: Streams) -> None:
    message = fault(streams.http.get("/stream/v1/stream", headers={"Last-Event-ID": "yesterday"}), 400)
    assert "Last-Event-ID 'yesterday'" in message and "reconnect without it" in message


# -- st2lite execution tail -----------------------------------------------------------------------------


def tail_process(streams: Streams, execution_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "st2lite", "execution", "tail", execution_id],
        env={**streams.live.env, "ST2LITE_API_URL": streams.url},
        cwd=streams.live.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_execution_tail_follows_a_running_execution_and_exits_1_when_it_fails(streams: Streams) -> None:
    gate = streams.gate("tail")
    created = streams.run("streaming.shell_ticker", gate=str(gate), code=3)
    eid = created["id"]
    process = tail_process(streams, eid)
    assert process.stdout is not None
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(process.stdout.readline() if process.stdout else ""))
    reader.start()
    reader.join(15)
    assert first == ["out 1\n"], first  # printed while the action waits for its gate
    assert streams.status(eid) == "running"
    gate.touch()
    rest, stderr = process.communicate(timeout=15)
    assert process.returncode == 1, stderr
    assert rest == "out 2\n"
    assert "err 1\nerr 2\n" in stderr
    assert f"Execution {eid} has completed (status=failed)." in stderr


def test_execution_tail_of_a_finished_execution_prints_its_output_and_exits_0(streams: Streams) -> None:
    gate = streams.gate("tail-done")
    gate.touch()
    created = streams.run("streaming.shell_ticker", gate=str(gate))
    streams.live.wait_final(created["id"])
    done = streams.live.cli("execution", "tail", created["id"], env={"ST2LITE_API_URL": streams.url})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "out 1\nout 2\n"
    assert "err 1\nerr 2\n" in done.stderr and "(status=succeeded)" in done.stderr


def test_execution_tail_of_an_unknown_execution_says_so(streams: Streams) -> None:
    done = streams.live.cli("execution", "tail", "nope", env={"ST2LITE_API_URL": streams.url})
    assert done.returncode == 1
    assert "execution 'nope' not found" in done.stderr and "HTTP 404" in done.stderr
