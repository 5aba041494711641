"""``e2e_noop``: dispatched webhook triggers to finished ``core.noop`` executions, in real processes.

Processes: one ``run_rules`` process (rules engine + scheduler + reaper) and
two worker processes (:func:`st2lite.worker.serve`), all against a private
Redis. This process dispatches ``core.st2.webhook`` trigger instances (url
``bench``, rule ``bench_webhook.noop_on_webhook``) through
:class:`TriggerDispatcher` as fast as it can (the call the webhook handler
makes, without HTTP); the clock runs from the first dispatch until the
``succeeded`` index holds every execution. After a warm-up of 100. Each
finished execution also emits ``core.st2.generic.actiontrigger`` (the default),
which the rules engine processes too.

Baseline ``bare_rq_jobs_per_s``: :mod:`bench.bare_rq`, same machine, same run.
Also measured: ``rq_lean_jobs_per_s``, the same empty RQ jobs run by st2lite's
RQ worker class (:class:`st2lite.jobqueue.Worker`), so that what st2lite's
layers cost (``e2e_noop`` against it, ``ratio_to_rq_lean`` in the details) is
told apart from what the leaner worker loop saves (it against bare RQ).
"""

from __future__ import annotations

import json
import os
import pstats
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    PACKS_DIR,
    PYTHON,
    REPO,
    RESULTS_DIR,
    Context,
    Figure,
    Lab,
    Process,
    cpu_seconds,
    format_profile,
    lab,
    register_packs,
)
from bench.procs import start_rules, start_worker
from st2lite import keys
from st2lite.dispatch import TriggerDispatcher
from st2lite.triggers import TriggerInstance

__all__ = ["dispatch_webhook", "run"]

EXECUTIONS = 5_000
WARMUP = 100
WORKERS = 2


def dispatch_webhook(dispatcher: TriggerDispatcher, seq: int) -> TriggerInstance:
    """Dispatch one webhook trigger instance as ``POST /api/v1/webhooks/bench`` would."""
    payload = {"headers": {}, "headers_lower": {}, "body": {"seq": seq}}
    return dispatcher.dispatch("core.st2.webhook", payload, parameters={"url": "bench"}, actor="bench")


def _count(env: Lab, status: str) -> int:
    return int(env.client.zcard(keys.execution_index("status", status)))


def _wait_succeeded(env: Lab, target: int, procs: list[Process], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while True:
        done = _count(env, "succeeded")
        if done >= target:
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{done} of {target} executions succeeded in {timeout:.0f}s "
                f"(failed: {_count(env, 'failed')}); logs in {env.home}"
            )
        for proc in procs:
            proc.check_alive()
        time.sleep(0.005)


def cpu_per_execution(pids: dict[str, int], before: dict[str, float], n: int) -> dict[str, float]:
    """Milliseconds of CPU each process used per execution since ``before``."""
    return {role: round((cpu_seconds(pid) - before[role]) * 1000 / n, 3) for role, pid in pids.items()}


def measure_st2lite(n: int, *, profile_dir: Path | None = None) -> dict[str, Any]:
    with lab() as env:
        register_packs(env.client, PACKS_DIR / "bench_webhook")
        procs = [start_rules(env, profile_dir=profile_dir)]
        procs += [start_worker(env, f"w{i}", profile_dir=profile_dir) for i in range(WORKERS)]
        try:
            dispatcher = TriggerDispatcher(env.settings, env.client)
            for seq in range(WARMUP):
                dispatch_webhook(dispatcher, seq)
            _wait_succeeded(env, WARMUP, procs, timeout=60)
            pids = {"rules": procs[0].pid, **{f"worker{i}": p.pid for i, p in enumerate(procs[1:])}}
            pids["redis"] = int(env.client.info("server")["process_id"])
            pids["bench (dispatch)"] = os.getpid()
            before = {role: cpu_seconds(pid) for role, pid in pids.items()}
            started = time.perf_counter()
            for seq in range(WARMUP, WARMUP + n):
                dispatch_webhook(dispatcher, seq)
            dispatched = time.perf_counter() - started
            ended = _wait_succeeded(env, WARMUP + n, procs, timeout=300)
            cpu = cpu_per_execution(pids, before, n)
            failed = _count(env, "failed")
        finally:
            for proc in procs:
                proc.stop()
    seconds = ended - started
    return {
        "executions": n,
        "workers": WORKERS,
        "seconds": round(seconds, 3),
        "dispatch_seconds": round(dispatched, 3),
        "dispatch_per_s": round(n / dispatched),
        "failed": failed,
        "cpu_ms_per_execution": cpu,
        "exec_per_s": n / seconds,
    }


def measure_bare_rq(n: int, *, lean: bool = False) -> dict[str, Any]:
    extra = {"PYTHONPATH": str(REPO)}
    if lean:  # st2lite's worker class moves RQ's keys; the enqueuing process must agree
        extra["RQ_KEY_PREFIX"] = keys.RQ_PREFIX
    with lab() as env, tempfile.TemporaryDirectory(prefix="bare-rq-") as logs:
        done = subprocess.run(
            [PYTHON, "-m", "bench.bare_rq", "measure", env.url, str(n), logs] + (["lean"] if lean else []),
            env=env.env(**extra),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=400,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"bench.bare_rq failed ({done.returncode}): {done.stderr[-1500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(ctx: Context) -> list[Figure]:
    n = ctx.size(EXECUTIONS, minimum=200)
    if ctx.profile:
        with tempfile.TemporaryDirectory(prefix="e2e-prof-") as tmp:
            measure_st2lite(min(n, 2_000), profile_dir=Path(tmp))
            for label in ("rules", "w0"):
                path = Path(tmp) / f"{label}.prof"
                if path.is_file():
                    text = format_profile(pstats.Stats(str(path)), top=40)
                    (RESULTS_DIR / f"profile_e2e_{label}.txt").write_text(text)
        return []
    ours = measure_st2lite(n)
    rate = float(ours.pop("exec_per_s"))
    baselines = []
    for name, lean in (("bare_rq_jobs_per_s", False), ("rq_lean_jobs_per_s", True)):
        baseline = "bare_rq_jobs_per_s" if lean else None
        try:
            bare = measure_bare_rq(n, lean=lean)
            baselines.append(Figure(name, float(bare.pop("jobs_per_s")), "jobs/s", baseline=baseline, details=bare))
        except (RuntimeError, TimeoutError, subprocess.TimeoutExpired, ValueError) as exc:
            baselines.append(Figure(name, None, "jobs/s", baseline=baseline, missing=str(exc)))
    lean_rate = baselines[-1].value
    ours["ratio_to_rq_lean"] = round(rate / lean_rate, 3) if lean_rate else None
    ours["check_failures"] = [f"{ours['failed']} executions failed"] if ours["failed"] else []
    ours_figure = Figure("e2e_noop_exec_per_s", rate, "executions/s", baseline="bare_rq_jobs_per_s", details=ours)
    return [ours_figure, *baselines]
