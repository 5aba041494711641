"""What every benchmark shares: figures, a private Redis, content registration, processes, statistics.

Every benchmark starts its own ``redis-server`` (:class:`EmbeddedRedis`, no
persistence, a free port, data in a temporary folder) and never touches a
Redis it did not start.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import logging
import math
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import st2lite
from st2lite.apikeys import ApiKeyStore
from st2lite.audit import AuditLog
from st2lite.config import Settings
from st2lite.embedded_redis import EmbeddedRedis
from st2lite.packs import PackSource, load_all
from st2lite.permissions import Role
from st2lite.redisdb import Redis, connect
from st2lite.registry import RegistryStore

__all__ = [
    "BENCH_DIR",
    "PACKS_DIR",
    "PYTHON",
    "REPO",
    "RESULTS_DIR",
    "API_KEY_HEADER",
    "Context",
    "Figure",
    "Lab",
    "Process",
    "lab",
    "percentile",
    "create_api_key",
    "profile_call",
    "register_packs",
    "cpu_seconds",
    "timed",
    "tree_rss_kb",
    "wait_for",
]

log = logging.getLogger(__name__)

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
PACKS_DIR = BENCH_DIR / "packs"
RESULTS_DIR = BENCH_DIR / "results"
#: The interpreter running the benchmarks (the project's venv); subprocesses use it too.
PYTHON = sys.executable
CORE_PACK = Path(st2lite.__file__).resolve().parent / "builtin_packs" / "core"

T = TypeVar("T")


@dataclass(frozen=True)
class Figure:
    """One measured number. ``baseline`` names the figure it is compared with (value / baseline = ratio)."""

    name: str
    value: float | None
    unit: str
    baseline: str | None = None
    #: Why ``value`` is None (the figure could not be measured).
    missing: str = ""
    #: Anything a reader needs to trust the number (counts, method); goes to latest-details.json.
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    """Options of one ``python -m bench`` run."""

    #: Multiplies every workload size (1.0 = the sizes of record); < 1 for quick tries.
    scale: float = 1.0
    #: Profile the timed sections instead of recording figures.
    profile: bool = False
    #: Skip the peer baseline (ansible-rulebook takes about a minute).
    skip_peer: bool = False

    def size(self, n: int, minimum: int = 1) -> int:
        return max(minimum, int(n * self.scale))


# -- Redis and content ---------------------------------------------------------------------------


@dataclass
class Lab:
    """A private redis-server with st2lite settings pointing at it."""

    url: str
    client: Redis
    home: Path
    settings: Settings
    server: EmbeddedRedis

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for st2lite subprocesses talking to this Redis."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ST2LITE_", "RQ_"))}
        env.update(
            ST2LITE_REDIS_URL=self.url,
            ST2LITE_HOME=str(self.home),
            ST2LITE_LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env


@contextlib.contextmanager
def lab(**settings: Any) -> Iterator[Lab]:
    """Start a private, non-persistent redis-server on a free port; stop it afterwards."""
    with tempfile.TemporaryDirectory(prefix="st2lite-bench-") as tmp:
        home = Path(tmp)
        server = EmbeddedRedis(home / "redis", persistent=False)
        url = server.start()
        try:
            client = connect(url)
            yield Lab(url, client, home, Settings(redis_url=url, home=home, **settings), server)
            client.close()
        finally:
            server.stop()


def register_packs(client: Redis, *pack_dirs: Path) -> int:
    """Load st2lite's core pack plus ``pack_dirs`` from disk and register them; returns the rule count."""
    sources = [PackSource(path=CORE_PACK, builtin=True), *(PackSource(path=p) for p in pack_dirs)]
    report = load_all(sources)
    if not report.ok:
        raise RuntimeError("bench packs do not load: " + "; ".join(str(p) for p in report.problems))
    RegistryStore(client).register(report.content, audit=AuditLog(client, maxlen=10_000), actor="bench")
    return len(report.content.enabled_rules())


#: The header a client sends its API key in (docs/auth.md); the ``st2`` CLI sends ``ST2_API_KEY`` in it.
API_KEY_HEADER = "St2-Api-Key"


def create_api_key(client: Redis) -> str:
    """A new admin API key for ``st2admin`` in the lab's Redis, made as ``st2lite apikey create`` makes one.

    The API checks it like any client's key (auth is on by default): the
    benchmarks that talk HTTP send it as ``St2-Api-Key`` on every request.
    """
    _, secret = ApiKeyStore(client, AuditLog(client, maxlen=10_000)).create("st2admin", Role.ADMIN, actor="bench")
    return secret


# -- processes -----------------------------------------------------------------------------------


class Process:
    """A child process in its own session, output to a log file; stopped by its pid only."""

    def __init__(self, argv: list[str], *, env: dict[str, str], log_path: Path, cwd: Path | None = None) -> None:
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd or REPO,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.argv[:3]} exited with {self.popen.returncode}: {self.tail()}")

    def tail(self, chars: int = 2000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        """Signal the process, wait for it; kill its process group (ours, by id) if it does not exit."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0fs; killing its process group", self.argv[:3], timeout)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=timeout)
        self._log.close()
        return self.popen.returncode


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()`` and the seconds it took."""
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def wait_for(condition: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.01) -> T:
    """Poll ``condition`` until it returns something truthy; raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: split after its closing one.
        ppid = int(stat.rpartition(")")[2].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) process ``pid`` has used so far; 0.0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime and stime are fields 14 and 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_rss_kb(pid: int) -> tuple[int, int]:
    """Total resident set size (kB) of ``pid`` and all its descendants, and how many processes that is."""
    kids = _children()
    todo, total, count = [pid], 0, 0
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
                count += 1
                break
        todo.extend(kids.get(current, []))
    return total, count


# -- statistics and profiles ---------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def profile_call(name: str, fn: Callable[[], T], *, top: int = 25) -> tuple[T, str]:
    """Run ``fn`` under cProfile; write the top functions to results/profile_<name>.txt; return (result, text)."""
    profiler = cProfile.Profile()
    result = profiler.runcall(fn)
    text = format_profile(profiler, top=top)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"profile_{name}.txt").write_text(text)
    return result, text


def format_profile(profile: cProfile.Profile | pstats.Stats, *, top: int = 25) -> str:
    """Top functions by own time and by cumulative time, paths shortened to the repo / site-packages."""
    out = io.StringIO()
    stats = profile if isinstance(profile, pstats.Stats) else pstats.Stats(profile, stream=out)
    stats.stream = out  # type: ignore[attr-defined]
    for order in ("tottime", "cumulative"):
        out.write(f"--- top {top} by {order} ---\n")
        stats.sort_stats(order).print_stats(top)
    text = out.getvalue()
    for prefix in (str(REPO) + "/", str(Path(PYTHON).parent.parent) + "/lib/python3.11/site-packages/"):
        text = text.replace(prefix, "")
    return text
