"""st2lite services as child processes of a benchmark, talking to the benchmark's private Redis.

Each service is started as ``python -c`` calling the library entry point the
CLI calls (:func:`st2lite.worker.serve`, :func:`st2lite.services.run_rules`,
:func:`st2lite.services.run_api`), configured through ``ST2LITE_*``
environment variables (:meth:`Lab.env`). With ``profile_dir`` set, the
service's main thread and every thread it starts run under cProfile (each
thread's CPU time), and the merged stats are dumped there on exit.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from bench.common import PYTHON, Lab, Process

__all__ = ["api_available", "start_api", "start_rules", "start_worker"]

_PRELUDE = (
    "import logging, os\n"
    "logging.basicConfig(level=logging.WARNING, format='%(asctime)s %(name)s %(levelname)s %(message)s')\n"
    "from st2lite.config import load_settings\n"
    "s = load_settings()\n"
)

# The API runs its sync endpoints in a thread pool: each thread started while profiling gets its
# own profiler (started by the hook on the thread's first call), merged into the main one at exit.
# Profilers count each thread's CPU time: with wall time, a thread waiting for the GIL would be
# charged for what the other threads do meanwhile.
_PROFILED = (
    "import cProfile, pstats, sys, threading, time\n"
    "thread_profiles = []\n"
    "def _profile_thread(*_):\n"
    "    sys.setprofile(None)\n"
    "    tp = cProfile.Profile(time.thread_time)\n"
    "    thread_profiles.append(tp)\n"
    "    tp.enable()\n"
    "threading.setprofile(_profile_thread)\n"
    "p = cProfile.Profile(time.thread_time)\n"
    "p.enable()\n"
    "try:\n"
    "    {call}\n"
    "finally:\n"
    "    p.disable()\n"
    "    threading.setprofile(None)\n"
    "    stats = pstats.Stats(p)\n"
    "    for tp in thread_profiles:\n"
    "        stats.add(tp)\n"
    "    stats.dump_stats(os.environ['BENCH_PROFILE_OUT'])\n"
)


def _start(env: Lab, label: str, imports: str, call: str, profile_dir: Path | None, **extra: str) -> Process:
    code = _PRELUDE + imports + "\n"
    if profile_dir is not None:
        extra["BENCH_PROFILE_OUT"] = str(profile_dir / f"{label}.prof")
        code += _PROFILED.format(call=call)
    else:
        code += call + "\n"
    return Process([PYTHON, "-c", code], env=env.env(**extra), log_path=env.home / f"{label}.log", cwd=env.home)


def start_worker(env: Lab, name: str, *, profile_dir: Path | None = None) -> Process:
    """An st2lite worker (RQ SimpleWorker running executions)."""
    return _start(env, name, "from st2lite.worker import serve", f"serve(s, s.redis_url, name={name!r})", profile_dir)


def start_rules(env: Lab, *, profile_dir: Path | None = None) -> Process:
    """The rules engine + scheduler + reaper process."""
    return _start(env, "rules", "from st2lite.services import run_rules", "run_rules(s, s.redis_url)", profile_dir)


def api_available() -> bool:
    """Whether this checkout has the HTTP API (``st2lite.services.run_api`` and ``st2lite.api.app``)."""
    try:
        if importlib.util.find_spec("st2lite.api.app") is None:
            return False
        from st2lite import services
    except ImportError:
        return False
    return hasattr(services, "run_api")


def start_api(env: Lab, port: int, *, profile_dir: Path | None = None, auth: bool = True) -> Process:
    """The HTTP API (uvicorn) on 127.0.0.1:``port``.

    Auth is on, as by default: every request but ``GET /api/v1/health`` needs a
    credential (:func:`bench.common.create_api_key`). ``auth=False`` starts it with
    ``ST2LITE_AUTH_ENABLED=false``, to measure what auth costs.
    """
    extra = {} if auth else {"ST2LITE_AUTH_ENABLED": "false"}
    return _start(
        env,
        "api",
        "from st2lite.services import run_api",
        "run_api(s, s.redis_url)",
        profile_dir,
        ST2LITE_API_HOST="127.0.0.1",
        ST2LITE_API_PORT=str(port),
        **extra,
    )
