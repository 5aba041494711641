"""A worker stops promptly on SIGTERM, whenever it arrives, and deregisters.

RQ's teardown used to unsubscribe its command channel and then wait, through
redis-py 8's ``PubSubWorkerThread.stop()``, without a limit for the listener
thread; when the listener had already read the reply to the unsubscribe it
waited 60 s for a new subscription, so about one stop in four took a minute
(``st2lite up`` then looked hung). The first test repeats that shutdown in
this process; the others SIGTERM real worker processes.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from conftest import cli_env, wait_for

from st2lite.config import Settings
from st2lite.jobqueue import COMMANDS_STOP_WAIT, WORKERS_KEY, Worker, workers
from st2lite.redisdb import connect

import rq  # isort: skip  # after st2lite.jobqueue, which sets RQ_KEY_PREFIX
from rq.command import send_shutdown_command  # isort: skip
from rq.serializers import JSONSerializer  # isort: skip

pytestmark = pytest.mark.redis

#: Seconds a worker gets to exit after SIGTERM when it has no job (it takes well under one).
STOP_DEADLINE = 10.0
#: How many points of a worker's start-up get a SIGTERM.
START_UP_POINTS = 6


def test_the_command_listener_lets_go_at_once_every_time(redis_url: str) -> None:
    connection = redis.Redis.from_url(redis_url)
    queue = rq.Queue("stop-test", connection=connection, serializer=JSONSerializer)
    for attempt in range(100):
        worker = Worker([queue], connection=connection, name=f"stop-{attempt}", serializer=JSONSerializer)
        worker.subscribe()
        listener = worker.pubsub_thread
        assert listener is not None and listener.is_alive()
        time.sleep(0.002 * (attempt % 5))  # vary where the listener is when the worker stops
        stopping = threading.Thread(target=worker.unsubscribe, daemon=True)
        stopping.start()
        stopping.join(COMMANDS_STOP_WAIT + 1)
        assert not stopping.is_alive(), f"attempt {attempt}: unsubscribe() still waits for the listener"
        assert not listener.is_alive(), f"attempt {attempt}: the listener outlived unsubscribe()"
        assert connection.pubsub_numsub(worker.pubsub_channel_name) == [(worker.pubsub_channel_name.encode(), 0)]
    connection.close()


def _start_worker(settings: Settings, tmp_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "st2lite.services", "worker"],
        env=cli_env(settings),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _live_workers(settings: Settings) -> list[tuple[str, str]]:
    client = connect(settings.redis_url)
    try:
        return [(name, state) for name, _beat, state in workers(client, client.smembers(WORKERS_KEY))]
    finally:
        client.close()


def _stop(worker: subprocess.Popen[bytes], when: str) -> int:
    """SIGTERM ``worker``; its exit code (fails unless it exits within :data:`STOP_DEADLINE`)."""
    worker.send_signal(signal.SIGTERM)
    try:
        return worker.wait(timeout=STOP_DEADLINE)
    except subprocess.TimeoutExpired:
        worker.kill()
        _, err = worker.communicate()
        pytest.fail(f"a worker sent SIGTERM {when} did not exit within {STOP_DEADLINE:.0f}s; stderr:\n{err.decode()}")


def test_an_idle_worker_stops_at_once_and_deregisters(settings: Settings, tmp_path: Path) -> None:
    for attempt in range(2):
        worker = _start_worker(settings, tmp_path)
        wait_for(lambda: any(state == "idle" for _, state in _live_workers(settings)), "the worker to be idle")
        code = _stop(worker, f"while idle (attempt {attempt + 1})")
        assert code == 0, worker.communicate()[1].decode()
        assert _live_workers(settings) == []


def test_a_worker_stops_whenever_sigterm_arrives_while_it_starts(settings: Settings, tmp_path: Path) -> None:
    # How long this machine takes to start one (the points below are spread over that time).
    started = time.monotonic()
    worker = _start_worker(settings, tmp_path)
    wait_for(lambda: _live_workers(settings), "the worker to register")
    start_up = time.monotonic() - started
    assert _stop(worker, "once registered") == 0

    codes = []
    for point in range(START_UP_POINTS):
        worker = _start_worker(settings, tmp_path)
        time.sleep(start_up * point / START_UP_POINTS)  # the point of its start-up that the signal hits
        code = _stop(worker, f"{point}/{START_UP_POINTS} into its start-up")
        # Killed by the signal before it began to connect, or stopped cleanly: never a traceback, never hung.
        assert code in (0, -signal.SIGTERM), (point, code, worker.communicate()[1].decode())
        assert _live_workers(settings) == [], f"a worker stopped {point}/{START_UP_POINTS} into its start-up"
        codes.append(code)
    assert -signal.SIGTERM in codes  # the early points were reached (the later ones exit 0 or are killed)


def test_rq_shutdown_command_still_stops_a_worker(settings: Settings, tmp_path: Path) -> None:
    worker = _start_worker(settings, tmp_path)
    [(name, _state)] = wait_for(lambda: _live_workers(settings), "the worker to register")
    connection = redis.Redis.from_url(settings.redis_url)
    try:
        send_shutdown_command(connection, name)
    finally:
        connection.close()
    assert worker.wait(timeout=STOP_DEADLINE) == 0
    assert _live_workers(settings) == []
