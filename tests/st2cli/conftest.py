"""Fixtures of the st2 CLI compatibility tests: the st2client virtualenv and a real st2lite to drive.

- ``st2_command`` (session): the ``st2`` command of the cached st2client
  virtualenv (``tests/st2cli/client_venv.py``), built on first use. When it
  cannot be built the tests are skipped with the reason, or fail when ``CI`` is
  set (CI must run them).
- ``st2lite_up`` (module): ``st2lite up`` (API, rules engine, sensor container,
  workers as real processes) on the test session's Redis, with a datastore key
  and the user ``st2admin`` (:func:`add_user`).
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from e2e.conftest import Procs, Up, service_env

from st2lite.redisdb import connect

from .client_venv import VenvUnavailable, ensure_venv

#: The user the acceptance script logs in as.
ADMIN = "st2admin"
#: A rule of the site folder (registered at start): a webhook the CLI lists before any rule is created.
SITE_RULE = """\
name: site_hook
description: A webhook from the site folder.
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: site-hook
action:
  ref: core.local
  parameters:
    cmd: "echo hello {{ trigger.body.name }}"
"""
#: An action chain of the site folder (``default.greet``): the CLI lists its tasks through ``/children``.
SITE_CHAIN = {
    "actions/greet.yaml": """\
name: greet
runner_type: action-chain
entry_point: chains/greet.yaml
description: Two tasks, the second using what the first printed.
parameters:
  name:
    type: string
    required: true
""",
    "actions/chains/greet.yaml": """\
chain:
  - name: first
    ref: core.local
    parameters:
      cmd: "echo hello {{ name }}"
    publish:
      said: "{{ first.stdout }}"
    on-success: second
  - name: second
    ref: core.local
    parameters:
      cmd: "echo {{ said }} again"
""",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(problem: VenvUnavailable) -> NoReturn:
    """Skip the test with ``problem`` as the reason; fail it under CI, which must run it."""
    if in_ci():
        pytest.fail(f"CI must run the st2 CLI tests, but {problem}")
    pytest.skip(str(problem))


@pytest.fixture(scope="session")
def st2_command() -> Path:
    """``.venv-st2client/bin/st2`` (st2client 3.9.0), built if needed."""
    try:
        return ensure_venv()
    except VenvUnavailable as problem:
        unavailable(problem)


def st2lite_cli(home: Path, redis_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``st2lite ARGS`` with ``home`` and ``redis_url``; fails the test when it exits non-zero."""
    env = service_env(ST2LITE_HOME=home, ST2LITE_REDIS_URL=redis_url)
    done = subprocess.run(
        [*_st2lite(), *args], env=env, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"st2lite {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done


def add_user(home: Path, redis_url: str, name: str, password: str) -> None:
    """Create the admin user the real CLI logs in as (the lead's ``st2lite user add``: the one place to adapt)."""
    st2lite_cli(home, redis_url, "user", "add", name, "--role", "admin", "--password-stdin", stdin=password + "\n")


def _st2lite() -> list[str]:
    import sys

    script = Path(sys.executable).with_name("st2lite")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "st2lite"]


@dataclass(frozen=True)
class Server:
    """A running ``st2lite up`` and what the CLI needs to reach it."""

    up: Up
    base: str
    password: str
    home: Path


def start_st2lite(folder: Path, redis_url: str, *, with_users: bool) -> tuple[Procs, Server]:
    """``st2lite up`` on ``redis_url``: a datastore key, the site's rule and chain, ``st2admin`` when ``with_users``."""
    procs = Procs(folder)
    home, site = folder / "home", folder / "site"
    (site / "rules").mkdir(parents=True)
    (site / "rules" / "site_hook.yaml").write_text(SITE_RULE)
    for name, text in SITE_CHAIN.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text)
    st2lite_cli(home, redis_url, "key", "generate-key")
    password = secrets.token_urlsafe(12)
    if with_users:
        add_user(home, redis_url, ADMIN, password)
    try:
        up = Up.start(procs, home, site, workers=2, ST2LITE_REDIS_URL=redis_url)
    except BaseException:
        procs.cleanup()
        raise
    return procs, Server(up=up, base=up.api_url.rstrip("/"), password=password, home=home)


@pytest.fixture(scope="module")
def redis_for_module(redis_server: str) -> Iterator[str]:
    """The session Redis, flushed before and after the module."""
    client = connect(redis_server)
    client.flushdb()
    yield redis_server
    client.flushdb()
    client.close()
