"""Callback tasks end to end: the token reaches notify_cmd only, the API checks it, heartbeats and timeouts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ApiServer, fault
from waiting import Waiting

from st2lite import keys
from st2lite.audit import AuditKind
from st2lite.executions import Execution
from st2lite.statuses import ExecutionStatus

pytestmark = pytest.mark.redis


@pytest.fixture
def waiting(api_server: ApiServer) -> Iterator[Waiting]:
    yield Waiting(api_server)


def _told(waiting: Waiting, tmp_path: Path, **parameters: int) -> tuple[Execution, str, str]:
    """A pending ``waits.external_job``, the URL and the token its notify_cmd received."""
    token_file = tmp_path / "told.txt"
    job = waiting.pending("waits.external_job", {"token_file": str(token_file), **parameters})
    url, token = token_file.read_text().split()
    return job, url, token


def test_the_token_goes_to_notify_cmd_alone_and_a_callback_with_it_ends_the_task_once(
    waiting: Waiting, tmp_path: Path
) -> None:
    job, url, token = _told(waiting, tmp_path)
    path = f"/api/v1/callbacks/{job.id}"

    assert url == waiting.api.url + path
    assert job.result == {"callback_url": url, "timeout": 600, "heartbeat": 0}
    assert waiting.client.zscore(keys.RUNNING_LEASES, job.id) is None
    stored = waiting.client.hgetall(keys.execution(job.id))
    assert len(token) >= 43 and not any(token in value for value in stored.values())  # only its hash is kept
    [waiting_event] = waiting.audit(AuditKind.CALLBACK_WAITING, job.id)
    assert token not in str(waiting_event)

    post = waiting.api.http.post
    wrong = post(path, json={"token": token[:-2] + "xx", "status": "succeeded", "result": {"hacked": True}})
    assert fault(wrong, 403) == (
        f"the token does not match execution '{job.id}'; post the token its notify_cmd received (ST2_CALLBACK_TOKEN)"
    )
    assert fault(post(path, json={"status": "succeeded"}), 403).startswith("the token does not match")
    unknown_status = post(path, json={"token": token, "status": "done"})
    assert fault(unknown_status, 422).startswith("invalid request: status: Input should be 'succeeded' or 'failed'")
    not_json = post(path, content=b"{status: succeeded", headers={"content-type": "application/json"})
    assert fault(not_json, 422).startswith("invalid request:")
    assert waiting.executions.get(job.id).status is ExecutionStatus.PENDING  # nothing changed

    done = post(path, json={"token": token, "status": "succeeded", "result": {"build": 42}})

    assert done.status_code == 200, done.text
    assert done.json() == {"id": job.id, "status": "succeeded"}
    finished = waiting.executions.get(job.id)
    assert finished.status is ExecutionStatus.SUCCEEDED and finished.result == {"build": 42}
    assert len(waiting.audit(AuditKind.CALLBACK_RECEIVED, job.id)) == 1
    again = post(path, json={"token": token, "status": "failed", "result": {}})
    assert fault(again, 409) == f"execution '{job.id}' already ended (succeeded); a callback task takes one outcome"
    assert waiting.executions.get(job.id).result == {"build": 42}
    assert fault(post(f"{path}/heartbeat", json={"token": token}), 409).startswith(f"execution '{job.id}' already")


def test_a_failed_callback_fails_the_task(waiting: Waiting, tmp_path: Path) -> None:
    job, _url, token = _told(waiting, tmp_path)
    reply = waiting.api.http.post(
        f"/api/v1/callbacks/{job.id}", json={"token": token, "status": "failed", "result": {"error": "disk full"}}
    )
    assert reply.status_code == 200, reply.text
    failed = waiting.executions.get(job.id)
    assert failed.status is ExecutionStatus.FAILED and failed.result == {"error": "disk full"}


def test_a_task_whose_heartbeats_stop_times_out(waiting: Waiting, tmp_path: Path) -> None:
    job, _url, token = _told(waiting, tmp_path, heartbeat=5)
    entered = waiting.client.zscore(keys.WAIT_DEADLINES, job.id)
    assert entered is not None and entered <= time.time() + 5

    beat = waiting.api.http.post(f"/api/v1/callbacks/{job.id}/heartbeat", json={"token": token})

    assert beat.status_code == 200, beat.text
    moved = beat.json()["deadline"]
    assert moved > entered
    assert waiting.reaper.sweep_waits(now=(entered + moved) / 2) == []  # past the first deadline, not the new one
    refused = waiting.api.http.post(f"/api/v1/callbacks/{job.id}/heartbeat", json={"token": "nope"})
    assert fault(refused, 403).startswith("the token does not match")
    assert waiting.reaper.sweep_waits(now=time.time() + 6) == [job.id]
    timed_out = waiting.executions.get(job.id)
    assert timed_out.status is ExecutionStatus.TIMEOUT
    assert timed_out.result["error"] == "no heartbeat arrived within 5 seconds; the outside system is presumed gone"
    assert len(waiting.audit(AuditKind.CALLBACK_TIMED_OUT, job.id)) == 1


def test_a_task_nobody_calls_back_times_out_after_its_timeout(waiting: Waiting, tmp_path: Path) -> None:
    job, _url, _token = _told(waiting, tmp_path, timeout=30)
    assert waiting.reaper.sweep_waits(now=time.time() + 31) == [job.id]
    assert waiting.executions.get(job.id).result["error"] == "no callback arrived within the timeout of 30 seconds"


def test_a_notify_cmd_that_fails_fails_the_task(waiting: Waiting) -> None:
    job = waiting.until(waiting.request("waits.unreachable_job", {}), {ExecutionStatus.FAILED})
    assert job.result["error"] == "notify_cmd exited with 3; the outside system was not told where to call back"
    assert job.result["notify"] == {"return_code": 3, "stdout": "", "stderr": "queue unreachable"}
    assert [c.status for c in job.log][-2:] == ["pending", "failed"]
    assert waiting.client.zscore(keys.WAIT_DEADLINES, job.id) is None
