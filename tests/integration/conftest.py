"""Fixtures for the API and CLI tests: a real uvicorn server, the pipeline run on demand, the CLI as a subprocess.

The content (registered into Redis): the built-in core pack, the ``examples``
fixture pack and a site folder (:data:`SITE_FILES`, pack ``default``).

- ``api_server``: the API of the test module (``create_app`` served by uvicorn
  on a free port from a background thread), on a Redis flushed for this test and
  registered again. ``ApiServer.process()`` runs whatever is waiting through the
  rules engine, the scheduler and a ``st2lite worker --burst`` subprocess, so the
  test decides when executions move.
- ``live_api``: an API with ``st2lite rules`` and ``st2lite worker`` running as
  subprocesses, shared by a module and never flushed in between.

``ApiServer.cli()`` runs the ``st2lite`` command against either.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from st2lite import keys
from st2lite.api.app import create_app
from st2lite.api.server import ApiHttpServer
from st2lite.apikeys import ApiKeyStore
from st2lite.audit import AuditLog
from st2lite.config import Settings
from st2lite.embedded_redis import free_port
from st2lite.permissions import Role
from st2lite.redisdb import Redis, connect
from st2lite.registration import register_from_disk
from st2lite.rules_engine import RulesEngine
from st2lite.scheduler import Scheduler
from st2lite.users import UsersFile

__all__ = [
    "EXAMPLES_PACK",
    "CHAINS_PACK",
    "FIXTURE_PACKS",
    "MAX_PAYLOAD",
    "REPO",
    "SITE_FILES",
    "ApiServer",
    "admin_key",
    "cli_env",
    "running_api",
    "running_services",
    "serve_api",
    "site_settings",
    "wait_for",
    "write_site",
]

REPO = Path(__file__).resolve().parents[2]
FIXTURE_PACKS = REPO / "tests" / "fixtures" / "packs"
EXAMPLES_PACK = FIXTURE_PACKS / "examples"
#: Runnable chains that use the core pack (outside FIXTURE_PACKS, whose packs are also loaded without it).
CHAINS_PACK = REPO / "tests" / "fixtures" / "runnable" / "chains"

#: The webhook size limit of the test settings (the smallest the settings allow).
MAX_PAYLOAD = 1024
#: Seconds a test waits for something that should happen at once.
DEADLINE = 15.0
#: The admin user the test API keys belong to.
ADMIN = "st2admin"
#: Final execution statuses.
FINAL = frozenset({"succeeded", "failed", "timeout", "abandoned", "canceled"})

#: The site folder's content (pack ``default``): relative path -> file text.
SITE_FILES: dict[str, str] = {
    "rules/hello.yaml": """\
name: hello
description: Echo the body of the 'hello' webhook when it names st2.
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: hello
criteria:
  trigger.body.name:
    type: equals
    pattern: st2
action:
  ref: core.local
  parameters:
    cmd: "echo 'hello from {{ trigger.body.name }}: {{ trigger.body | to_json_string }}'"
""",
    "rules/nested.yaml": """\
name: nested
description: A webhook url with slashes in it.
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: team/alerts/critical
action:
  ref: core.noop
""",
    "rules/switched_off.yaml": """\
name: switched_off
description: "A disabled rule, so its url is no webhook."
enabled: false
trigger:
  type: core.st2.webhook
  parameters:
    url: switched-off
action:
  ref: core.noop
""",
    "actions/login.yaml": """\
name: login
runner_type: local-shell-script
entry_point: login.sh
description: Takes a secret parameter; succeeds only when it arrives in clear.
parameters:
  user:
    type: string
    required: true
    position: 0
  password:
    type: string
    secret: true
    required: true
""",
    "actions/login.sh": """\
#!/bin/sh
# usage: login.sh USER --password=SECRET
if [ "$2" = "--password=hunter2" ]; then echo "logged in as $1"; else echo "wrong password" >&2; exit 1; fi
""",
    "actions/retired.yaml": """\
name: retired
runner_type: noop
description: A disabled action.
enabled: false
""",
}


def write_site(site: Path) -> None:
    """Write :data:`SITE_FILES` under ``site``."""
    for name, text in SITE_FILES.items():
        path = site / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if path.suffix == ".sh":
            path.chmod(0o755)


def site_settings(root: Path, redis_url: str) -> Settings:
    """Settings for a test API under ``root``: its own home and site, a free port, a small payload limit."""
    site = root / "site"
    write_site(site)
    return Settings(
        home=root / "home",
        redis_url=redis_url,
        packs_path=str(EXAMPLES_PACK),
        site_dir=site,
        api_port=free_port(),
        max_payload_bytes=MAX_PAYLOAD,
        abandon_after=2.0,
        engine_claim_idle_ms=500,
        log_level="WARNING",
    )


def wait_for(condition: Callable[[], Any], what: str, *, deadline: float = DEADLINE, every: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy; fail the test after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline}s waiting for {what}")
        time.sleep(every)


@contextmanager
def serve_api(settings: Settings) -> Iterator[str]:
    """Serve ``create_app(settings)`` with uvicorn in a thread until the block ends; yields the base URL."""
    app = create_app(settings, settings.redis_url)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=settings.api_port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = ApiHttpServer(config, app)  # ends open event streams when it stops
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    base = settings.resolved_api_url

    def healthy() -> bool:
        if not thread.is_alive():
            pytest.fail(f"the API server thread died before answering on {base}")
        try:
            return httpx.get(f"{base}/api/v1/health", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, f"GET {base}/api/v1/health to answer 200", deadline=10.0, every=0.02)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def admin_key(settings: Settings) -> str:
    """A new admin API key stored in ``settings``' Redis (for tests serving their own API)."""
    client = connect(settings.redis_url)
    try:
        _key, secret = ApiKeyStore(client, AuditLog(client, maxlen=10_000)).create(ADMIN, Role.ADMIN, actor="test")
    finally:
        client.close()
    return secret


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a ``st2lite`` subprocess use ``settings``' API, Redis and folders."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ST2LITE_")}
    env.update(
        ST2LITE_HOME=str(settings.home),
        ST2LITE_REDIS_URL=settings.redis_url,
        ST2LITE_API_URL=settings.resolved_api_url,
        ST2LITE_API_PORT=str(settings.api_port),
        ST2LITE_PACKS_PATH=settings.packs_path,
        ST2LITE_SITE_DIR=str(settings.site_dir),
        ST2LITE_ABANDON_AFTER=str(settings.abandon_after),
        ST2LITE_LOG_LEVEL="WARNING",
        NO_COLOR="1",
        COLUMNS="200",
    )
    return env


@dataclass
class ApiServer:
    """A running API, the Redis behind it, and ways to move the pipeline and run the CLI against it."""

    url: str
    settings: Settings
    redis: Redis
    http: httpx.Client
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    #: The admin API key :meth:`register` made; the ``http`` client and the CLI send it.
    admin_key: str = ""
    admin_key_id: str = ""

    def cli(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = DEADLINE,
        input_text: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``st2lite ARGS`` (``sys.executable -m st2lite``) against this server; never raises on exit codes.

        Args:
            env: variables added to (or overriding) the server's ``ST2LITE_*`` environment.
            input_text: what the command reads on standard input (default: nothing).
            cwd: working folder; default the server's own folder (so no ``./st2lite.yaml`` is picked up).
        """
        return subprocess.run(
            [sys.executable, "-m", "st2lite", *args],
            env={**self.env, **(env or {})},
            cwd=cwd or self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            input=input_text,
            stdin=None if input_text is not None else subprocess.DEVNULL,
        )

    def register(self) -> None:
        """Register the core pack, the examples pack and the site folder into this server's Redis.

        The registry version starts from the clock: Redis is flushed between tests, and a version number the
        API process saw in an earlier test would make it keep that test's registry. Also gives this server's
        HTTP client and CLI an admin API key (Redis may have been flushed).
        """
        self.redis.set(keys.REGISTRY_VERSION, time.time_ns() // 1000, nx=True)
        report, _version = register_from_disk(self.settings, self.redis, [], actor="test")
        assert report.ok, [str(p) for p in report.problems]
        assert set(report.content.packs) == {"core", "examples", "default"}
        store = ApiKeyStore(self.redis, AuditLog(self.redis, maxlen=10_000))
        made, self.admin_key = store.create(ADMIN, Role.ADMIN, actor="test")
        self.admin_key_id = made.id
        self.http.headers["St2-Api-Key"] = self.admin_key
        self.env["ST2LITE_API_KEY"] = self.admin_key

    def api_key(self, user: str, role: Role) -> str:
        """A new API key of ``user`` with ``role``, stored in this server's Redis."""
        store = ApiKeyStore(self.redis, AuditLog(self.redis, maxlen=10_000))
        _key, secret = store.create(user, role, actor="test")
        return secret

    def user(self, name: str, role: Role, password: str) -> None:
        """Add ``name`` to this server's users file (replacing one of that name)."""
        users = UsersFile(self.settings.users_path)
        if users.get(name) is not None:
            users.remove(name)
        users.add(name, password, role, rounds=4)

    def process(self) -> None:
        """Move everything waiting: rules engine and scheduler ``drain()``, then a burst worker subprocess."""
        engine = RulesEngine(self.settings, self.redis, name="test-engine")
        engine.drain()
        Scheduler(self.settings, self.redis, self.settings.redis_url, name="test-scheduler").drain()
        worker = self.cli("worker", "--burst")
        assert worker.returncode == 0, f"burst worker failed:\n{worker.stderr}"
        engine.drain()  # the action triggers the finished executions emitted

    def execution(self, execution_id: str) -> dict[str, Any]:
        response = self.http.get(f"/api/v1/executions/{execution_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_final(self, execution_id: str) -> dict[str, Any]:
        """Poll ``GET /api/v1/executions/{id}`` until its status is final (deadline :data:`DEADLINE`)."""
        found: dict[str, Any] = {}

        def final() -> bool:
            found.update(self.execution(execution_id))
            return found["status"] in FINAL

        wait_for(final, f"execution {execution_id} to end")
        return found

    def trigger_stream(self) -> list[str]:
        """The entry ids of the trigger stream, oldest first."""
        return [entry_id for entry_id, _fields in self.redis.xrange(keys.TRIGGER_STREAM)]

    def execution_ids(self) -> list[str]:
        """Every stored execution id, oldest first."""
        return list(self.redis.zrange(keys.EXECUTIONS_ALL, 0, -1))


@contextmanager
def running_api(root: Path, redis_url: str) -> Iterator[ApiServer]:
    """Register the test content into ``redis_url`` and serve the API on it (for fixtures of any scope)."""
    settings = site_settings(root, redis_url)
    client = connect(redis_url)
    try:
        with serve_api(settings) as base, httpx.Client(base_url=base, timeout=10.0) as http:
            server = ApiServer(url=base, settings=settings, redis=client, http=http, cwd=root, env=cli_env(settings))
            server.register()
            yield server
    finally:
        client.close()


@contextmanager
def running_services(api: ApiServer) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``st2lite rules`` and ``st2lite worker`` subprocesses on ``api``'s Redis; SIGTERM when the block ends."""
    logs = api.cwd / "logs"
    logs.mkdir(exist_ok=True)
    processes = []
    try:
        for service in ("rules", "worker"):
            with (logs / f"{service}.log").open("wb") as log_file:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "st2lite", service],
                        env=api.env,
                        cwd=api.cwd,
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                    )
                )
        yield processes
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    for service, process in zip(("rules", "worker"), processes, strict=False):
        log_text = (logs / f"{service}.log").read_text(errors="replace")
        assert process.returncode == 0, f"st2lite {service} exited {process.returncode} on SIGTERM:\n{log_text}"


@pytest.fixture(scope="module")
def api_module(tmp_path_factory: pytest.TempPathFactory, redis_server: str) -> Iterator[ApiServer]:
    """One API server for a test module (tests take it through ``api_server``, which resets Redis)."""
    client = connect(redis_server)
    client.flushdb()
    try:
        with running_api(tmp_path_factory.mktemp("api"), redis_server) as server:
            yield server
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def api_server(api_module: ApiServer, redis_url: str) -> ApiServer:
    """A running API (``.url`` is its base URL) on a Redis flushed for this test and registered again."""
    assert api_module.settings.redis_url == redis_url
    api_module.register()
    return api_module


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory, redis_server: str) -> Iterator[ApiServer]:
    """An API with ``st2lite rules`` and ``st2lite worker`` running, shared by a module (no flush in between)."""
    client = connect(redis_server)
    client.flushdb()
    try:
        with running_api(tmp_path_factory.mktemp("live"), redis_server) as server, running_services(server):
            yield server
    finally:
        client.flushdb()
        client.close()


def fault(response: httpx.Response, status: int) -> str:
    """The ``faultstring`` of an error response, after checking its status."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"faultstring"}, body
    message: str = body["faultstring"]
    return message
