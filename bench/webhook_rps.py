"""``webhook_rps``: webhook requests/s one API process accepts, with its baselines measured alongside.

One API process (``run_api``, as :mod:`bench.latency` starts it) against its own
Redis, with the pack ``bench_webhook`` registered (a rule on url ``bench``); no
rules engine or worker runs, so the API is measured alone. The load generator
(:mod:`bench.loadgen`, its own process: asyncio protocols on raw sockets, HTTP/1.1
keep-alive) keeps ``CONNECTIONS`` connections each sending ``POST
/api/v1/webhooks/bench`` one after the other for ``SECONDS`` after a warm-up
second. Figures: accepted (202) requests/s in the window, and p50/p99 latency
under that load. Check: every 202 the client got (warm-up and tail included) is
one trigger instance on the trigger stream, no more, no less; no other status.

Auth is on (the default): the benchmark creates an admin API key in its Redis
and the load generator sends it as ``St2-Api-Key`` on every request, as a real
client does. ``webhook_auth_cost`` shows what that costs: the same requests
(key included) against the same API started with ``ST2LITE_AUTH_ENABLED=false``
in the same run (``webhook_rps_auth_off``); value = requests/s with auth, ratio
= with / without; the details hold the API's CPU per request of both.

Baselines, same run, same machine, same load generator and settings:

* ``starlette_xadd_rps``: :mod:`bench.bare_webhook`, a bare Starlette endpoint
  on uvicorn (the API's uvicorn options) doing one Redis XADD per request: what
  HTTP plus Redis cost without st2lite.
* ``loadgen_ceiling_rps``: the load generator against a trivial asyncio server
  answering a fixed 202 (``bench.loadgen --serve``): the client's own ceiling on
  this machine while sharing it with a server.
* ``xadd_rps``: one client (redis-py + hiredis) doing one XADD per round trip
  of the bytes st2lite appends: Redis' per-request floor.

The machine has 2 cores: load generator, server and Redis share them, so the
server gets less than two cores (the client's CPU per window is in the details).
"""

from __future__ import annotations

import json
import os
import pstats
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.common import (
    API_KEY_HEADER,
    PACKS_DIR,
    PYTHON,
    REPO,
    RESULTS_DIR,
    Context,
    Figure,
    Lab,
    Process,
    cpu_seconds,
    create_api_key,
    format_profile,
    lab,
    register_packs,
    wait_for,
)
from bench.procs import start_api
from st2lite import keys
from st2lite.embedded_redis import free_port
from st2lite.triggers import TriggerInstance

__all__ = ["run"]

CONNECTIONS = 16
SECONDS = 10.0
WARMUP = 1.0
BODY = '{"seq": 1, "source": "bench", "items": [1, 2, 3]}'
RAW_XADDS = 20_000


def _healthy(url: str, proc: Process, headers: dict[str, str] | None = None) -> bool:
    proc.check_alive()
    try:
        return httpx.post(url, content=BODY, headers=headers, timeout=5).status_code in (200, 202)
    except httpx.TransportError:
        return False


def load(
    port: int, path: str, *, seconds: float, warmup: float = WARMUP, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run :mod:`bench.loadgen` against 127.0.0.1:``port`` in its own process; its JSON result."""
    argv = [PYTHON, "-m", "bench.loadgen", "--port", str(port), "--path", path, "--body", BODY]
    argv += ["--connections", str(CONNECTIONS), "--seconds", str(seconds), "--warmup", str(warmup)]
    for name, value in (headers or {}).items():
        argv += ["--header", f"{name}: {value}"]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=seconds + warmup + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench.loadgen failed ({done.returncode}): {done.stderr[-1500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _loaded(
    env: Lab, proc: Process, port: int, path: str, seconds: float, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Load ``proc`` (serving ``path`` on ``port``); the result plus the CPU the server and Redis used."""
    redis_pid = int(env.client.info("server")["process_id"])
    before = {"server": cpu_seconds(proc.pid), "redis": cpu_seconds(redis_pid)}
    result = load(port, path, seconds=seconds, headers=headers)
    proc.check_alive()
    handled = result["all_requests"]
    result["cpu_ms_per_request"] = {
        "server": round((cpu_seconds(proc.pid) - before["server"]) * 1000 / max(handled, 1), 4),
        "redis": round((cpu_seconds(redis_pid) - before["redis"]) * 1000 / max(handled, 1), 4),
        "load generator": round(result["all_client_cpu_s"] * 1000 / max(handled, 1), 4),
    }
    return result


def measure_st2lite(seconds: float, *, profile_dir: Path | None = None, auth: bool = True) -> dict[str, Any]:
    """``auth=False``: the API runs with ``ST2LITE_AUTH_ENABLED=false``; the requests still carry the key."""
    with lab() as env:
        register_packs(env.client, PACKS_DIR / "bench_webhook")
        # The same request bytes either way: with auth off the API ignores the key (and never copies it
        # into the payload), so the two runs differ only by the server's check.
        headers = {API_KEY_HEADER: create_api_key(env.client)}
        port = free_port()
        api = start_api(env, port, profile_dir=profile_dir, auth=auth)
        try:
            url = f"http://127.0.0.1:{port}/api/v1/webhooks/bench"
            wait_for(lambda: _healthy(url, api, headers), timeout=60, what="the API to accept webhooks")
            before = int(env.client.xlen(keys.TRIGGER_STREAM))
            result = _loaded(env, api, port, "/api/v1/webhooks/bench", seconds, headers)
            published = int(env.client.xlen(keys.TRIGGER_STREAM)) - before
        finally:
            # uvicorn re-raises the signal it stopped on: SIGINT becomes KeyboardInterrupt, so a profile is written.
            api.stop(signal.SIGINT if profile_dir is not None else signal.SIGTERM)
    accepted = result["all_statuses"].get("202", 0)
    failures = []
    if published != accepted:
        failures.append(f"{accepted} requests answered 202 but {published} trigger instances were published")
    if set(result["all_statuses"]) - {"202"} or result["error_count"]:
        failures.append(f"statuses {result['all_statuses']}, errors {result['errors'][:3]}")
    result["published_instances"] = published
    result["check_failures"] = failures
    result["auth"] = "on: St2-Api-Key of an admin key" if auth else "off (ST2LITE_AUTH_ENABLED=false)"
    return result


def measure_bare(seconds: float) -> dict[str, Any]:
    with lab() as env:
        port = free_port()
        argv = [PYTHON, "-m", "bench.bare_webhook", str(port), env.url]
        proc = Process(argv, env=env.env(PYTHONPATH=str(REPO)), log_path=env.home / "bare.log")
        try:
            wait_for(lambda: _healthy(f"http://127.0.0.1:{port}/hook", proc), timeout=60, what="the bare server")
            return _loaded(env, proc, port, "/hook", seconds)
        finally:
            proc.stop()


def measure_ceiling(seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="loadgen-") as tmp:
        port = free_port()
        argv = [PYTHON, "-m", "bench.loadgen", "--serve", "--port", str(port)]
        server = Process(argv, env=dict(os.environ), log_path=Path(tmp) / "trivial.log")
        try:
            wait_for(lambda: "serving" in server.tail(), timeout=30, what="the trivial server")
            result = load(port, "/", seconds=seconds)
            result["server_cpu_s"] = round(cpu_seconds(server.pid), 3)
            return result
        finally:
            server.stop()


def measure_xadd(n: int) -> dict[str, Any]:
    """One XADD per round trip of the bytes the API appends (the instance), then pipelined, on a fresh Redis."""
    instance = TriggerInstance(
        trigger="core.st2.webhook",
        parameters={"url": "bench"},
        payload={"headers": {"Host": "127.0.0.1", "Content-Type": "application/json"}, "body": orjson.loads(BODY)},
    )
    fields = {"t": orjson.dumps(instance.__dict__)}
    with lab() as env:
        client = env.client
        for _ in range(1_000):
            client.xadd("bench:xadd", fields)
        started = time.perf_counter()
        for _ in range(n):
            client.xadd("bench:xadd", fields)
        single = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(n // 1_000):
            with client.pipeline(transaction=False) as pipe:
                for _ in range(1_000):
                    pipe.xadd("bench:xadd", fields)
                pipe.execute()
        piped = time.perf_counter() - started
    return {
        "xadds": n,
        "entry_bytes": len(fields["t"]),
        "one_per_round_trip_per_s": n / single,
        "pipelined_1000_per_s": round((n // 1_000) * 1_000 / piped),
    }


def _figure(name: str, result: dict[str, Any], baseline: str | None = None) -> Figure:
    return Figure(name, float(result["requests_per_s"]), "requests/s", baseline=baseline, details=result)


def run(ctx: Context) -> list[Figure]:
    seconds = max(2.0, SECONDS * ctx.scale)
    if ctx.profile:  # with auth (profile_webhook_api.txt) and without (profile_webhook_api_auth_off.txt)
        for auth, suffix in ((True, ""), (False, "_auth_off")):
            with tempfile.TemporaryDirectory(prefix="webhook-prof-") as tmp:
                measure_st2lite(seconds, profile_dir=Path(tmp), auth=auth)
                path = Path(tmp) / "api.prof"
                if path.is_file():
                    text = format_profile(pstats.Stats(str(path)), top=45)
                    (RESULTS_DIR / f"profile_webhook_api{suffix}.txt").write_text(text)
        return []
    ours = measure_st2lite(seconds)
    off = measure_st2lite(seconds, auth=False)  # right after, so that both see the machine alike
    common = {"connections": CONNECTIONS, "window_s": seconds}
    rps, rps_off = (float(r["statuses"].get("202", 0)) / r["seconds"] for r in (ours, off))
    cpu, cpu_off = (r["cpu_ms_per_request"]["server"] for r in (ours, off))
    cost = {
        "api_cpu_ms_per_request": {"auth_on": cpu, "auth_off": cpu_off},
        "api_cpu_us_added_per_request": round((cpu - cpu_off) * 1000, 1),
        "p50_ms": {"auth_on": round(ours["p50_ms"], 3), "auth_off": round(off["p50_ms"], 3)},
        "p99_ms": {"auth_on": round(ours["p99_ms"], 3), "auth_off": round(off["p99_ms"], 3)},
        "method": "webhook_rps (API key checked) against webhook_rps_auth_off (same requests, key included, "
        "API with ST2LITE_AUTH_ENABLED=false), measured one after the other in this run",
    }
    figures = [
        Figure("webhook_rps", rps, "requests/s", baseline="starlette_xadd_rps", details={**ours, **common}),
        Figure("webhook_rps_p50_ms", float(ours["p50_ms"]), "ms", details=common),
        Figure("webhook_rps_p99_ms", float(ours["p99_ms"]), "ms", details=common),
        Figure("webhook_rps_auth_off", rps_off, "requests/s", details={**off, **common}),
        Figure("webhook_auth_cost", rps, "requests/s", baseline="webhook_rps_auth_off", details={**cost, **common}),
    ]
    for name, measure in (("starlette_xadd_rps", measure_bare), ("loadgen_ceiling_rps", measure_ceiling)):
        try:
            figures.append(_figure(name, {**measure(seconds), **common}))
        except (RuntimeError, TimeoutError, subprocess.TimeoutExpired, ValueError) as exc:
            figures.append(Figure(name, None, "requests/s", missing=str(exc)))
    xadd = measure_xadd(ctx.size(RAW_XADDS, minimum=2_000))
    figures.append(Figure("xadd_rps", float(xadd.pop("one_per_round_trip_per_s")), "XADDs/s", details=xadd))
    return figures
