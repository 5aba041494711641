"""``up``: ``st2lite up`` start-up time and idle memory.

``st2lite up --home DIR --api-port N --workers 2`` is launched in an empty
folder, with no ``ST2LITE_*`` variables (so it starts its embedded Redis).
``startup_s`` runs from launch to the first ``GET /api/v1/health`` answering
200. Then, once the process tree has stopped changing (same processes for 1 s,
at most 15 s), ``idle_rss_mb`` is the summed resident memory of ``st2lite up``
and every descendant: Redis, API, rules engine, workers. ``st2lite up`` is then
stopped with SIGINT (Ctrl-C), which drains and stops everything it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import PYTHON, Context, Figure, Process, tree_rss_kb, wait_for

__all__ = ["run"]

WORKERS = 2


def _command() -> list[str] | str:
    """The ``st2lite`` command, or why it cannot be used."""
    script = Path(PYTHON).parent / "st2lite"
    argv = [str(script)] if script.is_file() else [PYTHON, "-m", "st2lite"]
    try:
        done = subprocess.run([*argv, "up", "--help"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"'st2lite up --help' failed: {exc}"
    if done.returncode != 0 or "--api-port" not in done.stdout:
        return f"no usable 'st2lite up' (exit {done.returncode}): {(done.stderr or done.stdout)[-300:]}"
    return argv


def _healthy(client: httpx.Client, url: str, proc: Process) -> bool:
    proc.check_alive()
    try:
        return client.get(url).status_code == 200
    except httpx.TransportError:
        return False


def _settled(pid: int) -> tuple[int, int]:
    """(rss kB, processes) once the tree kept the same processes for a second (at most 15 s)."""
    deadline = time.monotonic() + 15
    last = tree_rss_kb(pid)
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = tree_rss_kb(pid)
        if now[1] != last[1]:
            stable_since = time.monotonic()
        last = now
        if time.monotonic() - stable_since >= 1.0:
            break
    return last


def run(ctx: Context) -> list[Figure]:
    argv = _command()
    if isinstance(argv, str):
        return [
            Figure("startup_s", None, "s", missing=argv),
            Figure("idle_rss_mb", None, "MB", missing=argv),
        ]
    from st2lite.embedded_redis import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ST2LITE_", "RQ_"))}
    with tempfile.TemporaryDirectory(prefix="st2lite-up-") as tmp, httpx.Client(timeout=2) as client:
        folder = Path(tmp)
        command = [*argv, "up", "--home", str(folder / "home"), "--api-port", str(port), "--workers", str(WORKERS)]
        started = time.perf_counter()
        proc = Process(command, env=env, log_path=folder / "up.log", cwd=folder)
        try:
            wait_for(
                lambda: _healthy(client, f"http://127.0.0.1:{port}/api/v1/health", proc),
                timeout=90,
                what="st2lite up to answer GET /api/v1/health",
                interval=0.02,
            )
            startup = time.perf_counter() - started
            at_ready = tree_rss_kb(proc.pid)
            rss_kb, processes = _settled(proc.pid)
        finally:
            code = proc.stop(signal.SIGINT, timeout=30)
    details = {
        "command": " ".join(command[len(argv) :]),
        "processes": processes,
        "rss_at_ready_mb": round(at_ready[0] / 1024, 1),
        "exit_code_after_sigint": code,
    }
    return [
        Figure("startup_s", startup, "s", details=details),
        Figure("idle_rss_mb", rss_kb / 1024, "MB", details=details),
    ]
