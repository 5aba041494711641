"""``api_rps``: requests/s of the executions API on one API process, against its health endpoint.

One API process (:func:`bench.procs.start_api`) against its own Redis with the
core pack registered and ``STORED`` executions of ``core.noop`` written
straight into the store the way :mod:`bench.list_executions` writes them (85 %
succeeded, 10 % failed...). No rules engine, scheduler or worker runs: the API
is measured alone, and the executions it creates stay ``requested`` (their
requests wait on ``st2lite:requests`` for a scheduler). The load generator
(:mod:`bench.loadgen`, its own process, HTTP/1.1 keep-alive on raw sockets)
keeps ``CONNECTIONS`` connections each sending one request after the other for
``SECONDS`` after a warm-up second, three times on the same process:

* ``api_health_rps`` (the baseline): ``GET /api/v1/health``, one Redis round trip
  through the same uvicorn, FastAPI routing and runtime dependency: what a
  request costs this process before any execution work.
* ``executions_list_rps``: ``GET /api/v1/executions?limit=50``, the newest 50
  of ``STORED``. Check: every answer (warm-up and tail included) is 200 with
  ``X-Total-Count`` = ``STORED`` and the same body, a list of 50 executions
  (the store does not change while it runs, so one body checked is all checked).
* ``executions_create_rps``: ``POST /api/v1/executions`` ``{"action":
  "core.noop"}``. Check: every answer is 201, and afterwards exactly that many
  more executions exist, all ``requested``.

Auth is on (the default): the benchmark creates an admin API key in its Redis
and every request carries it as ``St2-Api-Key``, as a real client's would
(health is open and ignores it; the two executions routes check it).

Each throughput figure has p50/p99 latency under that load. The machine has 2
cores: load generator, API and Redis share them (the CPU each used per request
is in the details).
"""

from __future__ import annotations

import json
import pstats
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    API_KEY_HEADER,
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
from bench.list_executions import populate
from bench.procs import start_api
from st2lite.embedded_redis import free_port
from st2lite.executions import ExecutionFilter, ExecutionStore

__all__ = ["run"]

CONNECTIONS = 16
SECONDS = 8.0
WARMUP = 1.0
STORED = 10_000
LIMIT = 50
LIST_PATH = f"/api/v1/executions?limit={LIMIT}"
CREATE_BODY = '{"action": "core.noop"}'


def _healthy(url: str, proc: Process) -> bool:
    proc.check_alive()
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def load(
    port: int,
    path: str,
    *,
    method: str,
    seconds: float,
    body: str = "",
    answers: bool = False,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run :mod:`bench.loadgen` against 127.0.0.1:``port``; its JSON result."""
    argv = [PYTHON, "-m", "bench.loadgen", "--port", str(port), "--path", path, "--method", method, "--body", body]
    argv += ["--connections", str(CONNECTIONS), "--seconds", str(seconds), "--warmup", str(WARMUP)]
    for name, value in (headers or {}).items():
        argv += ["--header", f"{name}: {value}"]
    if answers:
        argv += ["--answers", "--answer-header", "X-Total-Count"]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=seconds + WARMUP + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench.loadgen failed ({done.returncode}): {done.stderr[-1500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _loaded(env: Lab, api: Process, port: int, path: str, **options: Any) -> dict[str, Any]:
    """Load ``path``; the result plus the CPU milliseconds API, Redis and load generator used per request."""
    redis_pid = int(env.client.info("server")["process_id"])
    before = {"api": cpu_seconds(api.pid), "redis": cpu_seconds(redis_pid)}
    result = load(port, path, **options)
    api.check_alive()
    handled = max(result["all_requests"], 1)
    result["cpu_ms_per_request"] = {
        "api": round((cpu_seconds(api.pid) - before["api"]) * 1000 / handled, 4),
        "redis": round((cpu_seconds(redis_pid) - before["redis"]) * 1000 / handled, 4),
        "load generator": round(result["all_client_cpu_s"] * 1000 / handled, 4),
    }
    return result


def _check_statuses(result: dict[str, Any], status: str) -> list[str]:
    if result["error_count"] or set(result["all_statuses"]) != {status}:
        return [f"statuses {result['all_statuses']} (expected only {status}), errors {result['errors'][:3]}"]
    return []


def _check_list(result: dict[str, Any], stored: int) -> list[str]:
    failures = []
    groups = result.pop("answers")
    if len(groups) != 1:
        failures.append(f"{len(groups)} different answers, not 1: {[(g['status'], g['count']) for g in groups]}")
    for group in groups[:1]:
        total = group["headers"].get("x-total-count")
        if total != str(stored):
            failures.append(f"X-Total-Count {total!r}, not {stored}")
        items = json.loads(group["body"]) if group["status"] == 200 else None
        if not isinstance(items, list) or len(items) != LIMIT or not all("id" in x for x in items):
            failures.append(f"the answer is not a list of {LIMIT} executions: {str(group['body'])[:200]}")
        result["answer_bytes"] = len(group["body"].encode())
    return failures


def _count(store: ExecutionStore, status: str | None = None) -> int:
    return store.search(ExecutionFilter(status=status), limit=1)[1]


LOADS = ("health", "list", "create")


def measure(
    seconds: float,
    stored: int,
    *,
    loads: tuple[str, ...] = LOADS,
    profile_dir: Path | None = None,
    auth: bool = True,
) -> dict[str, dict[str, Any]]:
    """``loads`` one after the other on one API process; each result with its ``check_failures``.

    ``auth=False`` (not part of the suite; for comparisons) starts the API with
    ``ST2LITE_AUTH_ENABLED=false``; the requests carry the key either way.
    """
    results: dict[str, dict[str, Any]] = {}
    with lab() as env:
        register_packs(env.client)
        populate(env, stored)
        store = ExecutionStore.for_settings(env.client, env.settings, actor="bench")
        headers = {API_KEY_HEADER: create_api_key(env.client)}
        port = free_port()
        api = start_api(env, port, profile_dir=profile_dir, auth=auth)
        try:
            wait_for(lambda: _healthy(f"http://127.0.0.1:{port}/api/v1/health", api), timeout=60, what="the API")
            if "health" in loads:
                health = _loaded(env, api, port, "/api/v1/health", method="GET", seconds=seconds, headers=headers)
                health["check_failures"] = _check_statuses(health, "200")
                results["health"] = health
            if "list" in loads:
                listing = _loaded(
                    env, api, port, LIST_PATH, method="GET", seconds=seconds, answers=True, headers=headers
                )
                listing["stored"] = stored
                listing["check_failures"] = _check_statuses(listing, "200") + _check_list(listing, stored)
                results["list"] = listing
            if "create" in loads:
                before = _count(store)
                create = _loaded(
                    env,
                    api,
                    port,
                    "/api/v1/executions",
                    method="POST",
                    seconds=seconds,
                    body=CREATE_BODY,
                    headers=headers,
                )
                created, requested = _count(store) - before, _count(store, "requested")
                answered = create["all_statuses"].get("201", 0)
                create.update(created_executions=created, requested_executions=requested)
                create["check_failures"] = _check_statuses(create, "201")
                if not answered == created == requested:
                    create["check_failures"].append(
                        f"{answered} requests answered 201 but {created} executions were created, {requested} requested"
                    )
                results["create"] = create
        finally:
            # uvicorn re-raises the signal it stopped on: SIGINT becomes KeyboardInterrupt, so a profile is written.
            api.stop(signal.SIGINT if profile_dir is not None else signal.SIGTERM)
    for result in results.values():
        result["auth"] = "on: St2-Api-Key of an admin key" if auth else "off (ST2LITE_AUTH_ENABLED=false)"
    return results


def run(ctx: Context) -> list[Figure]:
    seconds = max(2.0, SECONDS * ctx.scale)
    stored = ctx.size(STORED, minimum=1_000)
    if ctx.profile:  # one API process per endpoint, so that each profile shows one endpoint
        for name in LOADS:
            with tempfile.TemporaryDirectory(prefix="api-rps-prof-") as tmp:
                measure(seconds, stored, loads=(name,), profile_dir=Path(tmp))
                path = Path(tmp) / "api.prof"
                if path.is_file():
                    text = format_profile(pstats.Stats(str(path)), top=45)
                    (RESULTS_DIR / f"profile_api_{name}.txt").write_text(text)
        return []
    results = measure(seconds, stored)
    common = {"connections": CONNECTIONS, "window_s": seconds}
    figures = [
        Figure(
            "api_health_rps", results["health"]["requests_per_s"], "requests/s", details={**results["health"], **common}
        )
    ]
    for prefix, key, status in (("executions_list", "list", "200"), ("executions_create", "create", "201")):
        result = results[key]
        rps = float(result["statuses"].get(status, 0)) / result["seconds"]
        figures += [
            Figure(f"{prefix}_rps", rps, "requests/s", baseline="api_health_rps", details={**result, **common}),
            Figure(f"{prefix}_p50_ms", float(result["p50_ms"]), "ms", details=common),
            Figure(f"{prefix}_p99_ms", float(result["p99_ms"]), "ms", details=common),
        ]
    return figures
