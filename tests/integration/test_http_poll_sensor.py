"""core.HttpPollSensor against a real threaded HTTP server on 127.0.0.1.

Change detection, conditions, auth from datastore secrets, backoff on errors
and recovery, bad parameters. "Nothing more was emitted" is shown by waiting
until the server has answered several more polls, never by sleeping.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import wait_for
from sensor_harness import FailingDispatch, SensorHarness, make_trigger, running_sensor, sensor_harness

from st2lite.config import Settings
from st2lite.embedded_redis import free_port
from st2lite.redisdb import Redis
from st2lite.sensors.http_poll import HTTP_POLL_TRIGGER, HttpPollSensor

pytestmark = pytest.mark.redis


@dataclass
class Route:
    status: int = 200
    body: bytes = b'{"state": "red"}'
    content_type: str = "application/json"
    #: The Authorization header the route insists on (401 otherwise).
    authorization: str | None = None


@dataclass
class Site:
    """What the test server answers, and the requests it got (path, headers)."""

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for seen, _headers in self.requests if seen == path)

    def wait_polls(self, path: str, more: int) -> None:
        """Wait until ``path`` has been polled ``more`` more times."""
        target = self.count(path) + more
        wait_for(lambda: self.count(path) >= target, f"{more} more polls of {path}")


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with site.lock:
                site.requests.append((self.path, dict(self.headers.items())))
                route = site.routes.get(self.path)
            if route is None:
                self._answer(404, b"no such route", "text/plain")
            elif route.authorization is not None and self.headers.get("Authorization") != route.authorization:
                self._answer(401, b"who are you?", "text/plain")
            else:
                self._answer(route.status, route.body, route.content_type)

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


@contextmanager
def serve(site: Site, port: int = 0) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(site))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def site() -> Site:
    return Site()


@pytest.fixture
def base_url(site: Site) -> Iterator[str]:
    with serve(site) as url:
        yield url


@pytest.fixture
def harness(settings: Settings, redis_client: Redis) -> Iterator[SensorHarness]:
    with sensor_harness(settings, redis_client, "core.HttpPollSensor", "HttpPollSensor") as built:
        yield built


@pytest.fixture
def sensor(harness: SensorHarness) -> Iterator[HttpPollSensor]:
    built = HttpPollSensor(sensor_service=harness.service, config={})
    with running_sensor(built):
        yield built


def poll(url: str, **parameters: Any) -> dict[str, Any]:
    return make_trigger(HTTP_POLL_TRIGGER, {"url": url, "interval": 0.05, **parameters})


def test_emits_the_first_response_and_each_change_only(
    site: Site, base_url: str, harness: SensorHarness, sensor: HttpPollSensor
) -> None:
    site.routes["/status"] = Route(body=b'{"state": "red"}')
    trigger = poll(f"{base_url}/status")
    sensor.add_trigger(trigger)

    first = harness.wait_payloads(trigger, 1, "the first response")[0]
    site.wait_polls("/status", 3)  # the same answer three more times: nothing new
    assert len(harness.payloads(trigger)) == 1

    site.routes["/status"] = Route(status=404, body=b"gone", content_type="text/plain")
    payloads = harness.wait_payloads(trigger, 2, "the changed response")

    assert first["url"] == f"{base_url}/status"
    assert (first["status_code"], first["previous_status_code"], first["body"]) == (200, None, {"state": "red"})
    assert first["headers"]["content-type"] == "application/json" and first["body_truncated"] is False
    assert (payloads[1]["status_code"], payloads[1]["previous_status_code"], payloads[1]["body"]) == (404, 200, "gone")
    assert harness.errors == []


def test_a_restarted_sensor_does_not_report_an_unchanged_answer_again(
    site: Site, base_url: str, harness: SensorHarness
) -> None:
    site.routes["/same"] = Route(body=b'{"v": 1}')
    trigger = poll(f"{base_url}/same")
    with running_sensor(HttpPollSensor(sensor_service=harness.service, config={})) as first:
        first.add_trigger(trigger)
        harness.wait_payloads(trigger, 1, "the first answer")

    with running_sensor(HttpPollSensor(sensor_service=harness.service, config={})) as again:
        again.add_trigger(trigger)
        site.wait_polls("/same", 3)
        assert len(harness.payloads(trigger)) == 1  # the same answer after a restart is no change

        site.routes["/same"] = Route(body=b'{"v": 2}')
        payloads = harness.wait_payloads(trigger, 2, "the change after the restart")
        assert (payloads[1]["body"], payloads[1]["previous_status_code"]) == ({"v": 2}, 200)

        again.remove_trigger(trigger)  # the rule went away: its remembered answer too
    assert harness.service.get_value(f"last_answer.{trigger['id']}") is None
    assert harness.errors == []


def test_an_answer_that_could_not_be_published_is_published_at_the_next_poll(
    site: Site, base_url: str, harness: SensorHarness
) -> None:
    site.routes["/once"] = Route(body=b'{"v": 1}')
    trigger = poll(f"{base_url}/once")
    with running_sensor(HttpPollSensor(sensor_service=FailingDispatch(harness.service), config={})) as sensor:
        sensor.add_trigger(trigger)
        payloads = harness.wait_payloads(trigger, 1, "the answer, published at the second try")

    assert harness.errors[0] == (
        f"trigger '{trigger['ref']}' (core.st2.http_poll): poll raised ConnectionError: Redis went away"
    )
    assert payloads[0]["body"] == {"v": 1}


def test_a_big_body_is_capped_but_changes_beyond_the_cap_count(
    site: Site, base_url: str, harness: SensorHarness, sensor: HttpPollSensor
) -> None:
    site.routes["/big"] = Route(body=b"x" * 100 + b"1", content_type="text/plain")
    trigger = poll(f"{base_url}/big", max_body_bytes=10)
    sensor.add_trigger(trigger)
    harness.wait_payloads(trigger, 1, "the first response")

    site.routes["/big"] = Route(body=b"x" * 100 + b"2", content_type="text/plain")
    payloads = harness.wait_payloads(trigger, 2, "the change after the cap")

    assert [(p["body"], p["body_truncated"]) for p in payloads] == [("x" * 10, True), ("x" * 10, True)]


def test_condition_emits_when_it_becomes_true(
    site: Site, base_url: str, harness: SensorHarness, sensor: HttpPollSensor
) -> None:
    site.routes["/health"] = Route(body=b'{"state": "red"}')
    trigger = poll(f"{base_url}/health", when={"trigger.body.state": {"type": "equals", "pattern": "green"}})
    sensor.add_trigger(trigger)
    site.wait_polls("/health", 3)
    assert harness.payloads(trigger) == []

    site.routes["/health"] = Route(body=b'{"state": "green", "n": 1}')
    harness.wait_payloads(trigger, 1, "green")
    site.routes["/health"] = Route(body=b'{"state": "green", "n": 2}')  # changed, still true: no event
    site.wait_polls("/health", 3)
    assert len(harness.payloads(trigger)) == 1

    site.routes["/health"] = Route(body=b'{"state": "red"}')
    site.wait_polls("/health", 2)
    site.routes["/health"] = Route(body=b'{"state": "green", "n": 3}')
    payloads = harness.wait_payloads(trigger, 2, "green again")

    assert [p["body"]["n"] for p in payloads] == [1, 3]


def test_bearer_token_and_basic_auth_come_from_datastore_secrets(
    site: Site, base_url: str, harness: SensorHarness, sensor: HttpPollSensor
) -> None:
    harness.datastore.set("api_token", "s3cret-token", secret=True)
    harness.datastore.set("svc_password", "pa55", secret=True)
    site.routes["/bearer"] = Route(authorization="Bearer s3cret-token")
    basic = "Basic " + base64.b64encode(b"svc:pa55").decode()
    site.routes["/basic"] = Route(authorization=basic)
    bearer_trigger = poll(f"{base_url}/bearer", bearer_token_key="api_token", headers={"X-Team": "ops"})
    basic_trigger = poll(f"{base_url}/basic", basic_auth={"username": "svc", "password_key": "svc_password"})
    sensor.add_trigger(bearer_trigger)
    sensor.add_trigger(basic_trigger)

    assert harness.wait_payloads(bearer_trigger, 1, "the bearer answer")[0]["status_code"] == 200
    assert harness.wait_payloads(basic_trigger, 1, "the basic answer")[0]["status_code"] == 200
    with site.lock:
        headers = next(h for path, h in site.requests if path == "/bearer")
    assert headers["X-Team"] == "ops"
    assert not any("s3cret" in str(p) for p in harness.payloads(bearer_trigger))


def test_a_missing_secret_is_reported_and_used_once_it_is_set(
    site: Site, base_url: str, harness: SensorHarness, sensor: HttpPollSensor
) -> None:
    site.routes["/keyed"] = Route(authorization="Bearer late")
    trigger = poll(f"{base_url}/keyed", header_keys={"X-Api-Key": "api_key"}, bearer_token_key="later_token")
    harness.datastore.set("api_key", "k", secret=True)
    sensor.add_trigger(trigger)

    error = harness.wait_error(lambda e: "later_token" in e, "the missing key error")
    assert error.startswith(
        f"trigger '{trigger['ref']}' (core.st2.http_poll): datastore key 'later_token' (bearer_token_key) is not set; "
        "set it with: st2lite key set later_token VALUE --encrypt (failure 1; polling again in 0.1s)"
    )
    assert site.count("/keyed") == 0

    harness.datastore.set("later_token", "late", secret=True)
    payload = harness.wait_payloads(trigger, 1, "the answer once the key is set", deadline=15)[0]
    assert payload["status_code"] == 200
    with site.lock:
        assert site.requests[-1][1]["X-Api-Key"] == "k"


def _delays(errors: list[str]) -> list[float]:
    return [float(m.group(1)) for e in errors if (m := re.search(r"polling again in ([0-9.]+)s", e))]


def test_backs_off_on_server_errors_and_recovers(
    site: Site, base_url: str, harness: SensorHarness, sensor: HttpPollSensor
) -> None:
    site.routes["/flaky"] = Route(status=503, body=b"busy", content_type="text/plain")
    trigger = poll(f"{base_url}/flaky", max_backoff=0.4)
    sensor.add_trigger(trigger)

    harness.wait_error(lambda e: "failure 4;" in e, "four failures")
    errors = list(harness.errors)
    assert errors[0] == (
        f"trigger '{trigger['ref']}' (core.st2.http_poll): GET {base_url}/flaky answered 503 Service Unavailable "
        "(failure 1; polling again in 0.1s)"
    )
    assert _delays(errors)[:4] == [0.1, 0.2, 0.4, 0.4]  # doubled per failure, up to max_backoff
    assert harness.payloads(trigger) == []

    site.routes["/flaky"] = Route(body=b'{"ok": true}')
    payload = harness.wait_payloads(trigger, 1, "the answer after recovery")[0]
    assert payload["status_code"] == 200 and payload["previous_status_code"] is None

    # Back on the normal interval: more polls, no new errors.
    count = len(harness.errors)
    site.wait_polls("/flaky", 5)
    assert len(harness.errors) == count


def test_backs_off_on_a_closed_port_and_recovers_when_a_server_listens(
    site: Site, harness: SensorHarness, sensor: HttpPollSensor
) -> None:
    port = free_port()
    trigger = poll(f"http://127.0.0.1:{port}/up", max_backoff=0.2)
    sensor.add_trigger(trigger)

    error = harness.wait_error(lambda e: "failure 2;" in e, "two failures")
    assert f"cannot connect to http://127.0.0.1:{port}/up: " in harness.errors[0]
    assert "(failure 2; polling again in 0.2s)" in error

    site.routes["/up"] = Route(body=b'{"up": true}')
    with serve(site, port):
        payload = harness.wait_payloads(trigger, 1, "the answer once the server listens")[0]
    assert payload["body"] == {"up": True}


def test_remove_trigger_stops_polling(
    site: Site, base_url: str, harness: SensorHarness, sensor: HttpPollSensor
) -> None:
    site.routes["/a"] = Route()
    site.routes["/b"] = Route()
    first, other = poll(f"{base_url}/a"), poll(f"{base_url}/b")
    sensor.add_trigger(first)
    sensor.add_trigger(other)
    site.wait_polls("/a", 2)

    sensor.remove_trigger(first)
    polled = site.count("/a")
    site.wait_polls("/b", 5)

    assert site.count("/a") == polled


# -- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"url": "ftp://example.com/x"}, "parameter 'url': 'ftp://example.com/x' is not an http:// or https:// URL"),
        ({"url": "not a url"}, "parameter 'url': 'not a url' is not an http:// or https:// URL with a host"),
        ({"url": "http://x", "interval": 0}, "parameter 'interval': Input should be greater than or equal to 0.01"),
        ({"url": "http://x", "auth": "me"}, "parameter 'auth': unknown parameter"),
        (
            {"url": "http://x", "basic_auth": {"password_key": "p"}},
            "parameter 'basic_auth': basic_auth needs exactly one of 'username' and 'username_key'",
        ),
        ({"url": "http://x", "when": {"trigger.body": {"type": "equalz", "pattern": 1}}}, "parameter 'when': when: "),
        ({}, "parameter 'url': Field required"),
    ],
)
def test_bad_parameters_are_reported_and_the_other_triggers_keep_working(
    site: Site,
    base_url: str,
    harness: SensorHarness,
    sensor: HttpPollSensor,
    parameters: dict[str, Any],
    message: str,
) -> None:
    site.routes["/good"] = Route()
    good = poll(f"{base_url}/good")
    sensor.add_trigger(good)
    bad = make_trigger(HTTP_POLL_TRIGGER, parameters)

    sensor.add_trigger(bad)

    assert len(harness.errors) == 1
    assert harness.errors[0].startswith(f"trigger '{bad['ref']}' (core.st2.http_poll): invalid parameters: ")
    assert message in harness.errors[0]
    harness.wait_payloads(good, 1, "the good trigger's answer")
