"""``python -m bench [NAME ...]``: run benchmarks, print every figure, write results/latest.json.

NAME is a benchmark (``rules_peer``, ``match_only``, ``e2e_noop``,
``webhook_latency``, ``list_1m``, ``up``, ``chain``, ``webhook_rps``,
``sensor_dispatch``, ``api_rps``, ``pipeline_rss``) or one of its figure names; none
means all. ``results/latest.json`` gets one key per figure measured
(``{"value", "unit"}``, plus ``"baseline"`` and ``"ratio"`` when the baseline
was measured in the same run); figures not measured this time keep their
previous entry. ``results/latest-details.json`` holds the machine and the
details of each figure. ``--profile`` runs the timed sections under cProfile
instead and writes ``results/profile_*.txt`` (no figures recorded).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import (
    api_rps,
    chain,
    e2e,
    latency,
    list_executions,
    match_only,
    pipeline_rss,
    rules_peer,
    sensor_dispatch,
    up,
    webhook_rps,
)
from bench.common import RESULTS_DIR, Context, Figure

__all__ = ["BENCHMARKS", "TARGETS", "main"]

#: Benchmark name -> (function, the figures it produces).
BENCHMARKS: dict[str, tuple[Callable[[Context], list[Figure]], tuple[str, ...]]] = {
    "rules_peer": (rules_peer.run, ("rules_peer_events_per_s", "eda_events_per_s")),
    "match_only": (match_only.run, ("match_only_events_per_s",)),
    "e2e_noop": (e2e.run, ("e2e_noop_exec_per_s", "bare_rq_jobs_per_s", "rq_lean_jobs_per_s")),
    "webhook_latency": (latency.run, ("webhook_to_start_p50_ms", "webhook_to_start_p99_ms")),
    "list_1m": (list_executions.run, ("list_1m_p50_ms", "list_1m_p99_ms")),
    "up": (up.run, ("startup_s", "idle_rss_mb")),
    "chain": (chain.run, ("chain_task_ms", "with_items_per_s")),
    "webhook_rps": (
        webhook_rps.run,
        (
            "webhook_rps",
            "webhook_rps_p50_ms",
            "webhook_rps_p99_ms",
            "webhook_rps_auth_off",
            "webhook_auth_cost",
            "starlette_xadd_rps",
            "loadgen_ceiling_rps",
            "xadd_rps",
        ),
    ),
    "pipeline_rss": (
        pipeline_rss.run,
        (
            "pipeline_input_mb",
            "pipeline_split_peak_rss_mb",
            "pipeline_process_peak_rss_mb",
            "pipeline_merge_peak_rss_mb",
            "pipeline_cp_peak_rss_mb",
            "pipeline_wc_peak_rss_mb",
            "pipeline_read_whole_peak_rss_mb",
        ),
    ),
    "sensor_dispatch": (sensor_dispatch.run, ("sensor_dispatch_per_s", "sensor_raw_xadd_per_s")),
    "api_rps": (
        api_rps.run,
        (
            "api_health_rps",
            "executions_list_rps",
            "executions_list_p50_ms",
            "executions_list_p99_ms",
            "executions_create_rps",
            "executions_create_p50_ms",
            "executions_create_p99_ms",
        ),
    ),
}


@dataclass(frozen=True)
class Target:
    """``on`` is ``value`` or ``ratio``; ``higher`` says which direction is better."""

    on: str
    bound: float
    higher: bool = True

    def met(self, value: float | None, ratio: float | None) -> bool | None:
        measured = value if self.on == "value" else ratio
        if measured is None:
            return None
        return measured >= self.bound if self.higher else measured <= self.bound

    def __str__(self) -> str:
        return f"{self.on} {'>=' if self.higher else '<='} {self.bound:g}"


TARGETS: dict[str, Target] = {
    "rules_peer_events_per_s": Target("ratio", 5.0),
    "match_only_events_per_s": Target("value", 50_000),
    "e2e_noop_exec_per_s": Target("ratio", 0.8),
    "webhook_rps": Target("value", 2_000),
}


def _select(names: list[str]) -> list[str]:
    if not names:
        return list(BENCHMARKS)
    chosen: list[str] = []
    for name in names:
        matches = [b for b, (_, figures) in BENCHMARKS.items() if name == b or name in figures]
        if not matches:
            known = ", ".join(BENCHMARKS)
            raise SystemExit(f"unknown benchmark '{name}'; choose from: {known} (or one of their figure names)")
        chosen += [m for m in matches if m not in chosen]
    return [b for b in BENCHMARKS if b in chosen]  # always in the suite's order


def _version(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except OSError:
        return "?"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "?"
    memory_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass
    from st2lite.embedded_redis import find_redis_server

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(memory_kb / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "redis_server": _version([find_redis_server(), "--version"]),
        "redis_py": metadata.version("redis"),
        "rq": metadata.version("rq"),
    }


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def _row(figure: Figure, by_name: dict[str, Figure]) -> tuple[dict[str, Any], str]:
    entry: dict[str, Any] = {"value": figure.value, "unit": figure.unit}
    line = f"{figure.name:<26} {_fmt(figure.value):>10} {figure.unit:<13}"
    if figure.value is None:
        entry["missing"] = figure.missing
        line += f" MISSING: {figure.missing}"
    ratio = None
    base = by_name.get(figure.baseline or "")
    if figure.baseline:
        if base is not None and base.value and figure.value is not None:
            ratio = figure.value / base.value
            entry["baseline"] = figure.baseline
            entry["ratio"] = round(ratio, 3)
            line += f" vs {figure.baseline} {_fmt(base.value)}: ratio {ratio:.2f}"
        else:
            line += f" vs {figure.baseline}: not measured in this run"
    target = TARGETS.get(figure.name)
    if target is not None:
        met = target.met(figure.value, ratio)
        verdict = {True: "met", False: "MISSED", None: "unknown"}[met]
        line += f"  [target {target}: {verdict}]"
    return entry, line


def _write(path: Path, figures: list[Figure], entries: dict[str, dict[str, Any]], ctx: Context, started: str) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    latest: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    latest.update(entries)
    path.write_text(json.dumps(latest, indent=2, sort_keys=True) + "\n")
    details_path = path.with_name(path.stem + "-details.json")
    details: dict[str, Any] = json.loads(details_path.read_text()) if details_path.is_file() else {}
    details["machine"] = machine()
    details.setdefault("figures", {})
    for figure in figures:
        details["figures"][figure.name] = {
            "measured_at": started,
            "scale": ctx.scale,
            "missing": figure.missing or None,
            **figure.details,
        }
    details_path.write_text(json.dumps(details, indent=2, sort_keys=True, default=str) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks or figures (default: all of {', '.join(BENCHMARKS)})")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply workload sizes (quick tries; not of record)")
    parser.add_argument("--profile", action="store_true", help="profile the timed sections (results/profile_*.txt)")
    parser.add_argument("--skip-peer", action="store_true", help="do not run ansible-rulebook for eda_events_per_s")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    ctx = Context(scale=args.scale, profile=args.profile, skip_peer=args.skip_peer)
    selected = _select(args.names)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    clock = time.monotonic()
    figures: list[Figure] = []
    errors = 0
    for name in selected:
        function, names = BENCHMARKS[name]
        print(f"== {name}{' (profile)' if ctx.profile else ''} ...", flush=True)
        t = time.monotonic()
        load_before = os.getloadavg()[0]
        try:
            got = function(ctx)
        except Exception as exc:  # one broken benchmark must not hide the others
            errors += 1
            traceback.print_exc()
            got = [Figure(f, None, "", missing=f"{type(exc).__name__}: {exc}") for f in names]
        # Other work on the machine skews every figure: keep the load average next to them.
        load = {"load_avg_1m_before": round(load_before, 2), "load_avg_1m_after": round(os.getloadavg()[0], 2)}
        figures += [replace(f, details={**f.details, **load}) for f in got]
        print(
            f"   {name} took {time.monotonic() - t:.0f}s "
            f"(load average {load_before:.2f} -> {load['load_avg_1m_after']:.2f})",
            flush=True,
        )
    if ctx.profile:
        for path in sorted(RESULTS_DIR.glob("profile_*.txt")):
            print(f"\n== {path.relative_to(RESULTS_DIR.parent.parent)}")
            print("\n".join(path.read_text().splitlines()[:40]))
        return 1 if errors else 0
    by_name = {f.name: f for f in figures}
    entries: dict[str, dict[str, Any]] = {}
    print(f"\n== figures ({len(figures)}, {time.monotonic() - clock:.0f}s in all, scale {ctx.scale:g})")
    for figure in figures:
        entries[figure.name], line = _row(figure, by_name)
        print(line)
    failures = [(f.name, msg) for f in figures for msg in f.details.get("check_failures", [])]
    for name, msg in failures:
        print(f"CHECK FAILED {name}: {msg}")
    out = RESULTS_DIR / ("latest.json" if ctx.scale == 1.0 else "scaled.json")
    _write(out, figures, entries, ctx, started)
    print(f"wrote {out.relative_to(RESULTS_DIR.parent.parent)}")
    return 1 if errors or failures else 0


if __name__ == "__main__":
    sys.exit(main())
