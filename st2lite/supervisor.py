"""``st2lite up``: Redis (embedded unless one is configured), the API, rules engine, sensor container, N workers.

The supervisor starts each service as a child process (the API first, the
others once it answers), restarts a child that dies (with a growing pause),
and on SIGINT/SIGTERM stops them in order: the API first (no new work), then
the rules engine, the sensor container and the workers (each finishes what it
has in hand), and Redis last.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field

from st2lite.config import Settings
from st2lite.embedded_redis import EmbeddedRedis
from st2lite.encryption import generate_key_file
from st2lite.exceptions import EncryptionKeyError, St2liteError
from st2lite.processes import die_with_parent
from st2lite.runfiles import REDIS_URL_FILE, publish_redis_url

__all__ = ["Supervisor"]

log = logging.getLogger(__name__)

#: Seconds children get to finish their work after SIGTERM before they are killed.
DRAIN_TIMEOUT = 60.0
#: Longest pause before restarting a child that keeps dying.
MAX_BACKOFF = 30.0
#: How children are started: the lean service entry points, without the CLI's imports.
SERVICES = [sys.executable, "-m", "st2lite.services"]


def _child_setup() -> None:
    """In each service process: SIGTERM when the supervisor dies, and its own process group."""
    die_with_parent(signal.SIGTERM)
    os.setpgrp()  # Ctrl-C reaches the supervisor only; it stops the children in order


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default=0.0)


class Supervisor:
    """Runs and supervises every st2lite service of one host."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis: EmbeddedRedis | None = None
        self.redis_url = settings.redis_url
        self.children: list[Child] = []
        self.stopping = threading.Event()

    def start(self) -> str:
        """Start everything and wait until the API answers; returns the API URL."""
        settings = self.settings
        settings.home.mkdir(parents=True, exist_ok=True)
        self._ensure_datastore_key()
        if not self.redis_url:
            self.redis = EmbeddedRedis(settings.home / "redis", port=settings.embedded_redis_port)
            self.redis_url = self.redis.start()
        publish_redis_url(settings, self.redis_url)
        # The API starts while the packs register (it picks up the registry as soon as it is written);
        # the other services once it answers: on a small machine they would otherwise slow its start
        # down, and what the API accepts in between waits durably in the streams.
        registration = self._start_command("pack", "register")
        self._spawn(self._add(Child("api", [*SERVICES, "api"])))
        url = settings.resolved_api_url
        self._wait_ready(url)
        # The first admin and the CLI's API key, created (and printed once) on the first start; after the API
        # answers, so its bcrypt hash does not slow the API's start on a small machine.
        auth_init = self._start_command("auth", "init") if settings.auth_enabled else None
        self._spawn_rest()
        code = registration.wait()
        if code not in (0, 1):  # 1: some content had problems (reported above); the rest is registered
            raise RuntimeError(f"registering the packs failed (exit code {code}); see the messages above")
        if auth_init is not None and auth_init.wait() != 0:
            raise RuntimeError("creating the first admin failed (st2lite auth init); see the messages above")
        return url

    def _ensure_datastore_key(self) -> None:
        """On a first start, the datastore key (secrets need one; packs' setup steps store theirs at once)."""
        path = self.settings.datastore_key_path
        if path.exists():
            return
        try:
            generate_key_file(path)
        except EncryptionKeyError as exc:  # secrets will say so when used; everything else works
            log.warning("No datastore key: %s", exc)
            return
        log.warning(
            "Wrote a new datastore key to %s; keep a copy somewhere safe: secrets cannot be read without it", path
        )

    def _start_command(self, *args: str) -> subprocess.Popen[bytes]:
        # In a child process: loading packs imports much that the supervisor never needs again.
        argv = [sys.executable, "-m", "st2lite", *args]
        return subprocess.Popen(argv, env=self._env(), stdin=subprocess.DEVNULL)

    def _add(self, child: Child) -> Child:
        self.children.append(child)
        return child

    def _spawn_rest(self) -> None:
        """The rules engine with the sensor container (one process: it saves ~45 MB), and the workers."""
        rest = [Child("rules", [*SERVICES, "rules+sensors"])]
        rest += [Child(f"worker-{i + 1}", [*SERVICES, "worker"]) for i in range(self.settings.workers)]
        for child in rest:
            self._spawn(self._add(child))

    def _env(self) -> dict[str, str]:
        s = self.settings
        env = dict(os.environ)
        env.update(
            {
                "ST2LITE_REDIS_URL": self.redis_url,
                "ST2LITE_HOME": str(s.home),
                "ST2LITE_API_HOST": s.api_host,
                "ST2LITE_API_PORT": str(s.api_port),
                "ST2LITE_PACKS_PATH": s.packs_path,
                "ST2LITE_SITE_DIR": str(s.site_dir),
                "ST2LITE_LOG_LEVEL": s.log_level,
            }
        )
        return env

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(child.argv, env=self._env(), stdin=subprocess.DEVNULL, preexec_fn=_child_setup)
        child.started_at = time.monotonic()
        log.info("Started %s (pid %d)", child.name, child.process.pid)

    def _wait_ready(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stopping.is_set():
                raise RuntimeError("stopped before the API was ready")
            self._check_children()
            try:
                with urllib.request.urlopen(f"{url}/api/v1/health", timeout=1.0) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the API did not answer on {url} within {timeout:.0f}s; see the log above")

    def supervise(self) -> None:
        """Restart children that die, until :meth:`stop` is called."""
        while not self.stopping.wait(0.5):
            self._check_children()

    def _check_children(self) -> None:
        now = time.monotonic()
        if self.redis is not None and not self.redis.alive() and not self.stopping.is_set():
            log.error(
                "the embedded Redis exited; restarting it on port %d (its data reloads from the AOF)", self.redis.port
            )
            try:
                self.redis.start()
            except St2liteError as exc:
                log.error("could not restart the embedded Redis: %s", exc)
        for child in self.children:
            process = child.process
            if process is not None and process.poll() is None:
                if now - child.started_at > 60:
                    child.restarts = 0  # it stayed up: forget earlier crashes
                continue
            if self.stopping.is_set():
                continue
            if process is not None:
                child.process = None
                delay = min(MAX_BACKOFF, 2.0 ** min(child.restarts, 5) - 1)
                child.next_start = now + delay
                child.restarts += 1
                log.error("%s exited with code %s; restarting in %.0fs", child.name, process.returncode, delay)
            if child.process is None and now >= child.next_start:
                self._spawn(child)

    def stop(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Stop the API, then the rules engine and workers (letting them finish), then Redis."""
        self.stopping.set()
        order = [[c for c in self.children if c.name == "api"], [c for c in self.children if c.name != "api"]]
        for group in order:
            for child in group:
                if child.process is not None and child.process.poll() is None:
                    child.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for child in group:
                if child.process is None:
                    continue
                try:
                    child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop within %.0fs; killing it", child.name, timeout)
                    child.process.kill()
                    child.process.wait()
        if self.redis is not None:
            self.redis.stop()
            (self.settings.run_dir / REDIS_URL_FILE).unlink(missing_ok=True)


def main() -> None:
    """``python -m st2lite.supervisor``: what ``st2lite up`` execs into, settings from the environment."""
    from st2lite.config import load_settings

    try:
        settings = load_settings()
    except St2liteError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from exc
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    supervisor = Supervisor(settings)

    def on_signal(_signum: int, _frame: object) -> None:
        supervisor.stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    try:
        url = supervisor.start()
    except (St2liteError, RuntimeError) as exc:
        supervisor.stop(timeout=5)
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(1) from exc
    embedded = " (embedded)" if supervisor.redis else ""
    sys.stderr.write(
        f"st2lite is up in {time.monotonic() - started:.1f}s: API {url}, Redis {supervisor.redis_url}{embedded}, "
        f"{settings.workers} workers. Dashboard: {url}/ (docs/dashboard.md). Ctrl-C stops.\n"
    )
    try:
        supervisor.supervise()
    finally:
        sys.stderr.write("stopping: letting running actions finish...\n")
        supervisor.stop()
        sys.stderr.write("stopped\n")


if __name__ == "__main__":
    main()
