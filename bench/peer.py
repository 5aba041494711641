"""The ansible-rulebook peer: its event generator, its oracle, and running its benchmark for the baseline.

The peer benchmark lives in ``/work/shared/peers/eda`` (``BENCH_PEER_DIR``
overrides). :func:`make_event` is the same deterministic event as the peer's
source plugin ``sources/bench_events.py``; the expected number of rule firings
comes from the peer's own oracle ``expected_matches.py`` when the folder is
there, else from the figures it printed for N=100,000.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

__all__ = [
    "EXPECTED_MULTI",
    "PEER_DIR",
    "RULE_MAP",
    "expected_per_rule",
    "make_event",
    "run_peer",
]

PEER_DIR = Path(os.environ.get("BENCH_PEER_DIR", "/work/shared/peers/eda"))

SEVERITIES = ("low", "medium", "high", "critical")
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-south-1", "sa-east-1")

#: expected_matches.py's ``multi`` count (every matching rule fires), by N.
EXPECTED_MULTI = {10_000: 8_295, 100_000: 82_948}

#: st2lite rule (pack bench_peer) -> the ansible-rulebook rule it stands for.
RULE_MAP = {
    "r01_mod10_eq_3": "r01_mod10_eq_3",
    "r02_severity_critical": "r02_severity_critical",
    "r03_host_and_not_low": "r03_host_and_not_low",
    "r04_msg_regex": "r04_msg_regex",
    "r05_host_match_prefix": "r05_host_match_prefix",
    "r06_latency_gt": "r06_latency_gt",
    "r07_region_in_and_mod7": "r07_region_in_and_mod7",
    "r08_tags_contains": "r08_tags_contains",
    "r09_arith_lt": "r09_arith_lt",
    "r10a_missing_field_defined": "r10_defined_or_eq",
    "r10b_i_eq_4242": "r10_defined_or_eq",
}


def make_event(i: int) -> dict[str, Any]:
    """Event ``i`` of the peer benchmark (same fields and values as its source plugin)."""
    return {
        "i": i,
        "mod10": i % 10,
        "mod7": i % 7,
        "host": f"web-{i % 50:02d}",
        "severity": SEVERITIES[i % 4],
        "region": REGIONS[i % 5],
        "msg": f"request {i} took {(i * 37) % 1000} ms",
        "latency_ms": (i * 37) % 1000,
        "tags": ["bench", f"t{i % 3}"],
    }


def expected_per_rule(n: int) -> tuple[int, dict[str, int]] | None:
    """(multi count, firings per ansible-rulebook rule) from the peer's oracle, or None if it is absent."""
    path = PEER_DIR / "expected_matches.py"
    if not path.is_file():
        return None
    # The oracle imports the source plugin from its sources/ folder by path.
    spec = importlib.util.spec_from_file_location("peer_expected_matches", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    multi, _first, per_rule = module.expected(n)
    return int(multi), {str(k): int(v) for k, v in per_rule.items()}


_LAST_LINE = re.compile(r"^eda events_per_s=(?P<eps>\S+) matches=(?P<matches>\d+) N=(?P<n>\d+)(?P<rest>.*)$")


def run_peer(n: int, *, timeout: float = 300.0) -> dict[str, Any]:
    """Run ``run.sh n`` and parse its last line; ``{"events_per_s": None, "missing": why}`` when it cannot run."""
    run_sh = PEER_DIR / "run.sh"
    if not run_sh.is_file():
        return {"events_per_s": None, "missing": f"{run_sh} not found (set BENCH_PEER_DIR)"}
    if shutil.which("java") is None:
        return {"events_per_s": None, "missing": "no java on PATH (ansible-rulebook embeds a JVM)"}
    started = time.monotonic()
    try:
        done = subprocess.run(
            [str(run_sh), str(n)], capture_output=True, text=True, timeout=timeout, cwd=PEER_DIR, check=False
        )
    except subprocess.TimeoutExpired:
        return {"events_per_s": None, "missing": f"run.sh {n} took longer than {timeout:.0f}s"}
    wall = time.monotonic() - started
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout)[-500:].strip().replace("\n", " | ")
        return {"events_per_s": None, "missing": f"run.sh exited {done.returncode}: {tail}"}
    match = _LAST_LINE.match(lines[-1])
    if match is None or match["eps"] == "-":
        return {"events_per_s": None, "missing": f"unexpected last line of run.sh: {lines[-1]!r}"}
    fields = dict(part.split("=", 1) for part in match["rest"].split() if "=" in part)
    return {
        "events_per_s": float(match["eps"]),
        "matches": int(match["matches"]),
        "n": int(match["n"]),
        "last_line": lines[-1],
        "run_sh_wall_s": round(wall, 1),
        **fields,
    }
