"""The looker pack end to end: ``st2lite up`` with packs/looker against a stand-in Looker API (real HTTP, Looker's
wire format, the official looker-sdk on our side).

Failed runs of recurring scheduled plans are retried once each (run_once), at most ``max_retries_per_day`` times
per plan; the retries that cannot be made emit ``looker.retry_failed`` with the reason; nothing is retried twice,
not after more polls and not after a restart; one-off runs and successes are left alone; a wrong client secret
shows in the sensor's status with what to fix, and once fixed the sensor carries on by itself.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from st2lite.config import Settings
from st2lite.datastore import KeyValueStore
from st2lite.encryption import generate_key_file
from st2lite.redisdb import connect

from ..conftest import FINAL, Procs, Up, trigger_entries, wait_for
from .standin_looker import Job, StandinLooker, running_looker

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

PACKS = Path(__file__).resolve().parents[3] / "packs"
#: The notify pack (pipeline's), when this checkout has it: looker.retry_failed then goes on to notify.send.
NOTIFY = PACKS / "notify"
SECRET = "standin-secret"


@pytest.fixture
def looker() -> Iterator[tuple[StandinLooker, str]]:
    standin = StandinLooker(client_secret=SECRET)
    with running_looker(standin) as url:
        yield standin, url


class Receiver(BaseHTTPRequestHandler):
    """A JSON webhook on 127.0.0.1 for notify.send (``webhook_url``): keeps every body it receives."""

    bodies: list[dict[str, Any]]

    def do_POST(self) -> None:
        self.bodies.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[list[dict[str, Any]], str]]:
    bodies: list[dict[str, Any]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (Receiver,), {"bodies": bodies}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield bodies, f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


class Site:
    """The folders of one installation: home (datastore key), site, configs; and its Redis."""

    def __init__(self, tmp_path: Path, redis_url: str) -> None:
        self.home = tmp_path / "home"
        self.site = tmp_path / "site"
        self.configs = tmp_path / "configs"
        self.redis_url = redis_url
        self.site.mkdir()
        generate_key_file(self.home / "keys" / "datastore.key")

    def configure(self, base_url: str, **overrides: Any) -> None:
        config = {
            "base_url": base_url,
            "client_id": "standin-client",
            "client_secret": "{{ st2kv.system.looker_client_secret }}",
            "verify_ssl": False,
            "lookback_hours": 24,
            "poll_interval": 1,
            "max_retries_per_day": 2,
            "timezone": "UTC",
            **overrides,
        }
        self.configs.mkdir(exist_ok=True)
        (self.configs / "looker.yaml").write_text(yaml.safe_dump(config))

    def notify_to(self, webhook_url: str) -> None:
        self.configs.mkdir(exist_ok=True)
        (self.configs / "notify.yaml").write_text(yaml.safe_dump({"webhook_url": webhook_url}))

    def set_secret(self, value: str) -> None:
        """``st2lite key set looker_client_secret VALUE --encrypt``, before st2lite runs."""
        settings = Settings(home=self.home, redis_url=self.redis_url, site_dir=self.site)
        client = connect(self.redis_url)
        KeyValueStore.for_settings(client, settings, actor="test").set("looker_client_secret", value, secret=True)
        client.close()

    def up(self, procs: Procs) -> Up:
        return Up.start(
            procs,
            self.home,
            self.site,
            workers=2,
            ST2LITE_REDIS_URL=self.redis_url,
            ST2LITE_PACKS_PATH=":".join(str(p) for p in (PACKS / "looker", NOTIFY) if p.is_dir()),
            ST2LITE_CONFIGS_DIR=self.configs,
        )


def retries(up: Up) -> list[Any]:
    return [e for e in up.executions() if e.action == "looker.retry_delivery"]


def retry_failed(up: Up) -> dict[str, dict[str, Any]]:
    """job id -> payload of the looker.retry_failed trigger instances."""
    client = connect(up.redis_url)
    try:
        return {t["payload"]["job_id"]: t["payload"] for t in trigger_entries(client, "looker.retry_failed")}
    finally:
        client.close()


def emitted(up: Up) -> list[dict[str, Any]]:
    client = connect(up.redis_url)
    try:
        return [t["payload"] for t in trigger_entries(client, "looker.schedule_failed")]
    finally:
        client.close()


def sensor(up: Up) -> dict[str, Any]:
    found: dict[str, Any] = {s["ref"]: s for s in up.get("/api/v1/sensors").json()}["looker.FailedScheduleSensor"]
    return found


def settled(up: Up, count: int) -> list[Any]:
    """The retry executions once there are ``count`` of them and all have ended."""
    return wait_for(
        lambda: (found := retries(up)) and len(found) == count and all(e.status in FINAL for e in found) and found,
        what=f"{count} looker.retry_delivery executions to end",
        timeout=40,
    )


def polls_pass(looker: StandinLooker, count: int) -> None:
    """Wait until the sensor read the job history ``count`` more times."""
    start = len(looker.reads)
    wait_for(lambda: len(looker.reads) >= start + count, what=f"{count} more polls of Looker")


def test_query_mode_retries_each_failure_once_within_the_daily_limit(
    looker: tuple[StandinLooker, str],
    receiver: tuple[list[dict[str, Any]], str],
    procs: Procs,
    tmp_path: Path,
    redis_url: str,
) -> None:
    standin, url = looker
    for plan_id, name in [(101, "Daily sales to #sales"), (102, "Weekly ops"), (103, "Churn"), (104, "Finance xlsx")]:
        standin.add_plan(plan_id, name)
    now = datetime.now(UTC)
    standin.add_job(Job(1, 101, created=now - timedelta(minutes=50)))
    standin.add_job(Job(2, 102, created=now - timedelta(minutes=45)))
    standin.add_job(Job(3, 101, status="success", created=now - timedelta(minutes=40)))
    standin.add_job(Job(4, 102, run_once=True, created=now - timedelta(minutes=35)))  # a "Send now": left alone
    standin.add_job(Job(5, 101, created=now - timedelta(hours=30)))  # before the lookback
    standin.add_job(Job(6, 101, created=now - timedelta(minutes=30)))  # plan A's second failure today: retried
    standin.add_job(Job(8, 103, created=now - timedelta(minutes=15)))  # its plan was deleted since
    standin.add_job(Job(9, 104, created=now - timedelta(minutes=10)))  # Looker refuses its run_once
    standin.deleted.add(103)
    standin.failing[104] = "Slack integration is not enabled"
    site = Site(tmp_path, redis_url)
    site.configure(url)
    site.notify_to(receiver[1])
    site.set_secret(SECRET)
    up = site.up(procs)

    done = settled(up, 5)
    # Failed jobs of recurring plans: one run_once each (plan A failed twice today: K=2 allows both).
    assert sorted(standin.run_once_calls) == [101, 101, 102, 104]  # plan 103 is gone (404); 104 answered an error
    assert {e.result["result"]["job_id"]: e.status for e in done} == {
        "1": "succeeded",
        "2": "succeeded",
        "6": "succeeded",
        "8": "failed",
        "9": "failed",
    }
    assert {e.result["result"]["job_id"]: e.result["result"]["retried"] for e in done if e.status == "succeeded"} == {
        "1": True,
        "2": True,
        "6": True,
    }
    # The policy on plan_id: plan 101's two retries ran one after the other, never at once.
    first, second = sorted((e for e in done if e.parameters["plan_id"] == "101"), key=lambda e: e.start_timestamp)
    assert first.end_timestamp <= second.start_timestamp, (first, second)
    query = standin.queries[0]
    assert (query["model"], query["view"]) == ("system__activity", "scheduled_plan")
    assert query["filters"] == {
        "scheduled_job.status": "failure",
        "scheduled_plan.run_once": "No",
        "scheduled_job.created_time": "24 hours",
    }

    # A third failure of plan A today, after its K=2 retries: no run_once, looker.retry_failed naming the limit.
    standin.add_job(Job(7, 101))
    settled(up, 6)
    assert standin.runs_of(101) == 2

    # The retries that could not be made: looker.retry_failed with the reason.
    reported = wait_for(
        lambda: (found := retry_failed(up)) and len(found) == 3 and found, what="looker.retry_failed for 7, 8 and 9"
    )
    assert set(reported) == {"7", "8", "9"}
    assert reported["7"]["plan_id"] == "101" and reported["7"]["plan_name"] == "Daily sales to #sales"
    assert reported["7"]["reason"].startswith("retry limit reached: scheduled plan 101 was already retried 2 time(s)")
    assert "max_retries_per_day is 2" in reported["7"]["reason"]
    assert reported["8"]["reason"].startswith("plan not found: scheduled plan 103 not found in Looker"), reported
    assert "deleted in Looker" in reported["8"]["reason"]
    assert reported["9"]["reason"].startswith("retry failed: Looker refused to run scheduled plan 104 once")
    assert "Slack integration is not enabled" in reported["9"]["reason"], reported
    if NOTIFY.is_dir():  # with the notify pack, each one is also sent on (the rule looker.notify_retry_failed)
        notes = wait_for(
            lambda: (
                (found := [b for b in receiver[0] if str(b.get("title")).startswith("Looker delivery not retried")])
                and len(found) == 3
                and found
            ),
            what="notify.send to post the three looker.retry_failed",
        )
        assert {n["data"]["job_id"]: n["severity"] for n in notes} == {"7": "error", "8": "error", "9": "error"}
        assert any("retry limit reached" in n["message"] for n in notes), notes

    # More polls, then a restart of st2lite: the same failures are neither emitted nor retried again.
    calls = list(standin.run_once_calls)
    polls_pass(standin, 2)
    assert up.stop() == 0
    up = site.up(procs)
    wait_for(lambda: sensor(up)["state"] == "running", what="the sensor to run again")
    polls_pass(standin, 2)
    assert standin.run_once_calls == calls
    assert len(retries(up)) == 6
    assert sorted(p["job_id"] for p in emitted(up)) == ["1", "2", "6", "7", "8", "9"]
    assert set(retry_failed(up)) == {"7", "8", "9"}
    assert up.stop() == 0


def test_look_mode_and_a_wrong_client_secret(
    looker: tuple[StandinLooker, str], procs: Procs, tmp_path: Path, redis_url: str
) -> None:
    standin, url = looker
    standin.add_plan(201, "Marketing dashboard")
    standin.add_job(Job(11, 201))
    standin.add_job(Job(12, 201, status="success"))
    standin.add_job(Job(13, 201, run_once=True))
    site = Site(tmp_path, redis_url)
    site.configure(url, look_id=standin.look_id)
    site.set_secret("not-the-secret")
    up = site.up(procs)

    # Looker refuses the login: the sensor's status says so and what to fix; nothing is read or retried.
    status = wait_for(
        lambda: (s := sensor(up)) and "refused the login" in (s.get("last_error") or "") and s,
        what="the sensor to report the refused login",
    )
    assert status["last_error"].startswith("setup raised LookerAuthError: Looker at http://127.0.0.1:"), status
    assert "client_id 'standin-client'" in status["last_error"]
    assert "st2lite key set looker_client_secret SECRET --encrypt" in status["last_error"]
    listed = subprocess.run(_cli(up, "sensor", "list", "--json"), capture_output=True, text=True, check=True)
    assert "refused the login of client_id 'standin-client'" in listed.stdout
    assert standin.logins and not any(accepted for _id, accepted in standin.logins)
    assert standin.reads == [] and standin.run_once_calls == []

    # Fix the secret: the sensor, started again with backoff, reads the new value and goes on by itself.
    response = up._http.put(
        up.api_url + "/api/v1/keys/looker_client_secret",
        json={"name": "looker_client_secret", "value": SECRET, "secret": True},
    )
    assert response.status_code == 200, response.text
    wait_for(lambda: standin.runs_of(201) == 1, what="the failed job of the Look to be retried", timeout=60)
    settled(up, 1)
    polls_pass(standin, 2)
    assert standin.run_once_calls == [201]  # the success and the one-off run of the same plan are left alone
    assert set(standin.reads) == {"look"} and standin.queries == []
    assert [(p["job_id"], p["source"]) for p in emitted(up)] == [("11", "look")]
    assert retry_failed(up) == {}
    assert up.stop() == 0


def _cli(up: Up, *args: str) -> list[str]:
    """``st2lite --url <api> --api-key <key> ARGS`` (the CLI of this virtualenv)."""
    script = Path(sys.executable).with_name("st2lite")
    api_key = up._http.headers["St2-Api-Key"]
    return [str(script), "--url", up.api_url, "--api-key", api_key, *args]


# -- the pack's Looker client and pure logic against the stand-in, without st2lite (bad input and its messages) --


@pytest.fixture
def pack_lib() -> Iterator[Any]:
    """The pack's ``looker_pack`` package (packs/looker/lib), imported as the sensor and action import it."""
    sys.path.insert(0, str(PACKS / "looker" / "lib"))
    try:
        import looker_pack.client
        import looker_pack.jobs
        import looker_pack.retries

        yield looker_pack
    finally:
        sys.path.remove(str(PACKS / "looker" / "lib"))


def test_client_errors_say_what_to_fix(looker: tuple[StandinLooker, str], pack_lib: Any) -> None:
    standin, url = looker
    client = pack_lib.client
    config = {"base_url": url, "client_id": "standin-client", "client_secret": SECRET, "verify_ssl": False}
    sdk = client.connect(config)

    with pytest.raises(client.LookerNotFound) as missing_look:
        client.run_look(sdk, "7", 10)
    assert str(missing_look.value).startswith("Look 7 not found (or not visible to the API user): Not found")
    assert "fix look_id in configs/looker.yaml" in str(missing_look.value)

    with pytest.raises(client.LookerError) as bad_query:
        client.run_inline_query(sdk, {"model": "system__activity", "view": "scheduled_plan", "fields": ["nope.x"]})
    assert str(bad_query.value) == "the System Activity query failed in Looker: Unknown field(s): nope.x"

    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with pytest.raises(client.LookerError) as unreachable:
        client.connect({**config, "base_url": f"http://127.0.0.1:{port}"})
    assert str(unreachable.value).startswith(f"cannot reach Looker at http://127.0.0.1:{port}: ")
    assert "check base_url in configs/looker.yaml" in str(unreachable.value)

    with pytest.raises(client.LookerAuthError) as no_secret:
        client.connect({**config, "client_secret": ""})
    assert "st2lite key set looker_client_secret SECRET --encrypt" in str(no_secret.value)
    assert standin.run_once_calls == []


def test_rows_the_sensor_keeps_and_config_it_refuses(pack_lib: Any) -> None:
    jobs, retries = pack_lib.jobs, pack_lib.retries
    now = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)

    def row(job: int, **fields: Any) -> dict[str, Any]:
        base = {
            "scheduled_job.id": job,
            "scheduled_job.status": "failure",
            "scheduled_job.created_time": "2026-12-07 08:10:00",
            "scheduled_plan.id": 101,
            "scheduled_plan.name": "Daily sales",
            "scheduled_plan.run_once": "No",
        }
        return {**base, **fields}

    rows = [
        row(1),
        row(2, **{"scheduled_job.status": "success"}),
        row(3, **{"scheduled_plan.run_once": "Yes"}),
        row(4, **{"scheduled_job.created_time": "2026-12-06 08:00:00"}),  # 25.5 h before: outside 24 h
        row(5, **{"scheduled_job.created_time": "2026-12-07 07:00:00"}),
        row(6, **{"scheduled_job.created_time": "not a time"}),  # kept: Looker's own filter applied
    ]
    kept = jobs.failed_jobs(rows, now=now, lookback_hours=24, timezone="UTC")
    assert [j.job_id for j in kept] == ["5", "1", "6"]  # oldest first
    assert kept[1].payload("look") == {
        "job_id": "1", "plan_id": "101", "plan_name": "Daily sales", "status": "failure", "status_detail": "",
        "created_at": "2026-12-07 08:10:00", "finalized_at": "", "source": "look",
    }  # fmt: skip
    # Times are read in the configured time zone: 09:00 is 30 min ago in UTC, 9.5 h ago in Tokyo (UTC+9).
    recent = [row(7, **{"scheduled_job.created_time": "2026-12-07 09:00:00"})]
    assert [j.job_id for j in jobs.failed_jobs(recent, now=now, lookback_hours=2, timezone="UTC")] == ["7"]
    assert jobs.failed_jobs(recent, now=now, lookback_hours=2, timezone="Asia/Tokyo") == []
    assert jobs.missing_fields([{"scheduled_job.id": 1}]) == ["scheduled_job.status", "scheduled_plan.id"]
    assert jobs.missing_fields([]) == []

    assert retries.day_of(datetime(2026, 12, 7, 23, 30, tzinfo=UTC), "Europe/Berlin") == "2026-12-08"
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus' in the looker pack config; use an IANA"):
        retries.day_of(now, "Mars/Olympus")
    assert "max_retries_per_day is 2" in retries.limit_reason("101", 2, 2, "2026-12-07", "UTC")


def test_a_config_of_the_wrong_type_is_refused_at_registration(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "looker.yaml").write_text(
        "base_url: https://acme.cloud.looker.com\nclient_id: abc\nclient_secret: s\nmax_retries_per_day: two\n"
    )
    checked = subprocess.run(
        [str(Path(sys.executable).with_name("st2lite")), "pack", "validate", str(PACKS / "looker")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "ST2LITE_CONFIGS_DIR": str(configs), "ST2LITE_HOME": str(tmp_path / "home")},
    )
    assert checked.returncode == 1, checked
    assert f"{configs / 'looker.yaml'}:4: field 'max_retries_per_day': 'two' is not of type 'integer'" in checked.stdout
