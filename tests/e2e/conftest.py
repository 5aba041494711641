"""Harness of the guarantee tests: real st2lite processes against real redis-servers.

Every process a test starts goes through :class:`Procs` (the ``procs``
fixture), which writes its output to a log file under the test's folder and,
when the test ends, kills by pid whatever it started that is still alive,
descendants included, so a failing test leaves nothing running. Services run
in a temporary working folder (no ``st2lite.yaml``, no repository content)
with every inherited ``ST2LITE_*`` variable removed and :data:`FAST` settings.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import pytest

from st2lite import keys
from st2lite.apikeys import ApiKeyStore
from st2lite.audit import AuditLog
from st2lite.config import Settings
from st2lite.credentials import read_api_key
from st2lite.datastore import kv_lookup
from st2lite.embedded_redis import EmbeddedRedis, free_port
from st2lite.executions import Execution, ExecutionStore
from st2lite.launch import prepare_execution, request_in
from st2lite.permissions import Role
from st2lite.redisdb import Redis, connect
from st2lite.registration import register_from_disk
from st2lite.registry import RegistryStore
from st2lite.requests import RequestQueue
from st2lite.scheduler import Scheduler

__all__ = [
    "DEADLINE",
    "FAST",
    "FINAL",
    "Procs",
    "Up",
    "admin_key",
    "alive",
    "command_lines",
    "descendants",
    "execution_store",
    "register",
    "request_execution",
    "trigger_entries",
    "wait_for",
    "webhook_rule",
    "write_rules",
]

T = TypeVar("T")

#: Settings every service in these tests runs with: short leases, quick reclaims.
FAST = {"ST2LITE_ABANDON_AFTER": "2", "ST2LITE_ENGINE_CLAIM_IDLE_MS": "500", "ST2LITE_LOG_LEVEL": "INFO"}
#: Seconds a test waits for something that should happen promptly.
DEADLINE = 20.0
#: Statuses an execution never leaves.
FINAL = frozenset({"succeeded", "failed", "timeout", "abandoned", "canceled"})
#: The line ``st2lite up`` prints once the API answers.
UP_LINE = re.compile(r"is up in [\d.]+s: API (?P<api>http://\S+), Redis (?P<redis>redis://\S+)")


def wait_for(condition: Callable[[], T | None], *, what: str, timeout: float = DEADLINE, interval: float = 0.02) -> T:
    """Poll ``condition`` until it returns something truthy (returned); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last value: {value!r})")
        time.sleep(interval)


def _stat(pid: int) -> tuple[str, int] | None:
    """``(state, ppid)`` of ``pid`` from /proc, or None when it does not exist."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def descendants(pid: int) -> set[int]:
    """The live processes below ``pid`` (children, grandchildren...)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None and stat[0] != "Z":
            parents.setdefault(stat[1], []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def command_lines(pid: int) -> dict[int, str]:
    """pid -> command line of the live processes below ``pid``."""
    found = {}
    for child in descendants(pid):
        try:
            found[child] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except FileNotFoundError:
            continue  # it ended meanwhile
    return found


def service_env(**values: str | Path) -> dict[str, str]:
    """The environment of a service: ours without ``ST2LITE_*``, plus :data:`FAST` and ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ST2LITE_")}
    env.update(FAST)
    env.update({k: str(v) for k, v in values.items()})
    return env


class Procs:
    """Starts processes for one test and kills (by pid) those still alive when it ends."""

    def __init__(self, folder: Path) -> None:
        self.cwd = folder / "cwd"
        self.cwd.mkdir(parents=True)
        self.logs = folder / "logs"
        self.logs.mkdir()
        self._started: list[subprocess.Popen[bytes]] = []
        self._logs: dict[int, Path] = {}
        self._pids: set[int] = set()

    def start(self, argv: list[str], *, env: Mapping[str, str], name: str) -> subprocess.Popen[bytes]:
        log = self.logs / f"{name}-{len(self._started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv, cwd=self.cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        self._started.append(process)
        self._logs[process.pid] = log
        return process

    def output(self, process: subprocess.Popen[bytes]) -> str:
        """What ``process`` printed so far."""
        return self._logs[process.pid].read_text(errors="replace")

    def service(self, command: str, *, redis_url: str, **values: str | Path) -> subprocess.Popen[bytes]:
        """``python -m st2lite <command>`` against ``redis_url``."""
        env = service_env(ST2LITE_REDIS_URL=redis_url, ST2LITE_HOME=self.cwd / "home", **values)
        return self.start([sys.executable, "-m", "st2lite", command], env=env, name=command)

    def adopt(self, pid: int) -> None:
        """Kill ``pid`` too at the end (a process started by one of ours, e.g. an action's)."""
        self._pids.add(pid)

    def cleanup(self) -> None:
        doomed = set(self._pids)
        for process in self._started:
            if process.poll() is None:
                doomed |= descendants(process.pid) | {process.pid}
        for pid in doomed:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        for process in self._started:
            process.wait(timeout=10)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    harness = Procs(tmp_path)
    yield harness
    harness.cleanup()


def _st2lite_command() -> list[str]:
    script = Path(sys.executable).with_name("st2lite")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "st2lite"]


@dataclass
class Up:
    """One ``st2lite up`` process (the supervisor) and what it printed."""

    process: subprocess.Popen[bytes]
    procs: Procs
    home: Path
    api_url: str = ""
    redis_url: str = ""
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0))

    @classmethod
    def launch(cls, procs: Procs, home: Path, site: Path, *, workers: int = 2, **values: str | Path) -> Up:
        """Start ``st2lite up`` (embedded Redis unless ``values`` name one); do not wait for it."""
        argv = [*_st2lite_command(), "up", "--home", str(home), "--api-port", str(free_port())]
        argv += ["--workers", str(workers)]
        env = service_env(**{"ST2LITE_SITE_DIR": site, "ST2LITE_PACKS_PATH": procs.cwd / "no-packs", **values})
        return cls(procs.start(argv, env=env, name="up"), procs, home)

    @classmethod
    def start(cls, procs: Procs, home: Path, site: Path, *, workers: int = 2, **values: str | Path) -> Up:
        """:meth:`launch`, then wait until it prints that it is up (where the API listens)."""
        up = cls.launch(procs, home, site, workers=workers, **values)
        printed = wait_for(up._printed_up_line, what="st2lite up to print where the API listens", timeout=30)
        up.api_url, up.redis_url = printed["api"], printed["redis"]
        key = read_api_key(home / "credentials")
        assert key, f"st2lite up wrote no API key to {home / 'credentials'}:\n{up.output()}"
        up._http.headers["St2-Api-Key"] = key
        return up

    def _printed_up_line(self) -> re.Match[str] | None:
        if self.process.poll() is not None:
            raise AssertionError(f"st2lite up exited with {self.process.returncode}:\n{self.output()}")
        return UP_LINE.search(self.output())

    def output(self) -> str:
        """What the supervisor and its services printed so far."""
        return self.procs.output(self.process)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._http.get(self.api_url + path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._http.post(self.api_url + path, **kwargs)

    def execution(self, execution_id: str) -> dict[str, Any]:
        response = self.get(f"/api/v1/executions/{execution_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_status(self, execution_id: str, statuses: set[str], *, timeout: float = DEADLINE) -> dict[str, Any]:
        """The execution once its status is one of ``statuses``."""

        def reached() -> dict[str, Any] | None:
            execution = self.execution(execution_id)
            return execution if execution["status"] in statuses else None

        return wait_for(reached, what=f"execution {execution_id} to be {sorted(statuses)}", timeout=timeout)

    def executions(self) -> list[Execution]:
        """Every stored execution, read from Redis (the API cannot filter by trigger instance)."""
        client = connect(self.redis_url)
        try:
            return execution_store(client).get_many(client.zrange(keys.EXECUTIONS_ALL, 0, -1))
        finally:
            client.close()

    def executions_of(self, trigger_instance: str) -> list[Execution]:
        """The executions ``trigger_instance`` started."""
        return [e for e in self.executions() if e.trigger_instance == trigger_instance]

    def stop(self, *, timeout: float = DEADLINE) -> int:
        """SIGTERM the supervisor; its exit code once it exited (fails after ``timeout`` seconds)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"st2lite up did not exit within {timeout:.0f}s of SIGTERM:\n{self.output()}"
            ) from None
        self._http.close()
        return code


def write_rules(site: Path, rules: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write ``rules`` (name -> rule document) as YAML (JSON is YAML) under ``site/rules``."""
    folder = site / "rules"
    folder.mkdir(parents=True, exist_ok=True)
    for name, rule in rules.items():
        (folder / f"{name}.yaml").write_bytes(orjson.dumps({"name": name, "pack": "default", **rule}))
    return site


def webhook_rule(url: str, action: str, parameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A rule on ``core.st2.webhook`` with ``url`` that runs ``action``."""
    return {
        "enabled": True,
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": url}},
        "action": {"ref": action, "parameters": dict(parameters or {})},
    }


#: Runnable chains (they use the core pack), shared by the chain e2e tests.
CHAINS_PACK = Path(__file__).resolve().parents[1] / "fixtures" / "runnable" / "chains"


def register_chains(settings: Settings, client: Redis) -> None:
    """Register the core pack, ``settings.site_dir`` and the runnable chains pack."""
    report, _version = register_from_disk(settings, client, [CHAINS_PACK], actor="e2e")
    assert report.ok, report.problems


def register(settings: Settings, client: Redis) -> None:
    """Register the core pack and ``settings.site_dir`` (what ``st2lite up`` does at start)."""
    report, _version = register_from_disk(settings, client, actor="e2e")
    assert report.ok, report.problems


def admin_key(client: Redis) -> str:
    """A new admin API key in ``client``'s Redis, for tests that start the API service themselves."""
    _key, secret = ApiKeyStore(client, AuditLog(client, maxlen=10_000)).create("st2admin", Role.ADMIN, actor="e2e")
    return secret


def execution_store(client: Redis, actor: str = "e2e") -> ExecutionStore:
    return ExecutionStore(client, ttl=86_400, audit_maxlen=100_000, trigger_maxlen=100_000, actor=actor)


def request_execution(
    settings: Settings, client: Redis, redis_url: str, action: str, parameters: dict[str, Any]
) -> str:
    """Request ``action`` as the API does and schedule it at once; returns the execution id."""
    snapshot = RegistryStore(client).load()
    prepared = prepare_execution(
        snapshot, snapshot.content.action(action), parameters, context={"user": "e2e"}, kv_lookup=kv_lookup(client)
    )
    requests = RequestQueue(client, maxlen=100_000)
    requests.ensure_group()
    with client.pipeline(transaction=True) as pipe:
        request_in(pipe, prepared, executions=execution_store(client), requests=requests)
        pipe.execute()
    assert Scheduler(settings, client, redis_url, name="e2e").drain() == 1
    return prepared.execution.id


def trigger_entries(client: Redis, trigger: str) -> list[dict[str, Any]]:
    """The trigger instances of type ``trigger`` on the trigger stream."""
    found = []
    for _entry, fields in client.xrange(keys.TRIGGER_STREAM):
        instance: dict[str, Any] = orjson.loads(fields["t"])
        if instance["trigger"] == trigger:
            found.append(instance)
    return found


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A redis-server of this test alone, with its AOF (for tests that kill and restart Redis)."""
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """An empty site folder; tests add rules with :func:`write_rules`."""
    folder = tmp_path / "up-site"
    folder.mkdir()
    return folder
