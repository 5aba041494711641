"""The real ``st2 action-alias`` commands (st2client 3.9.0) against ``st2lite up`` with the examples pack's aliases."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e.conftest import FINAL, Procs, Up, wait_for

from st2lite.credentials import read_api_key

from .scenario import clean_environment

pytestmark = [pytest.mark.st2client, pytest.mark.e2e, pytest.mark.timeout(300)]

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "packs" / "examples"


@dataclass
class St2:
    command: Path
    env: dict[str, str]
    up: Up

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.command), *args], env=self.env, capture_output=True, text=True, timeout=60, check=False
        )


@pytest.fixture(scope="module")
def st2(st2_command: Path, redis_for_module: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[St2]:
    folder = tmp_path_factory.mktemp("st2aliases")
    procs = Procs(folder)
    (folder / "site").mkdir()
    try:
        up = Up.start(
            procs,
            folder / "home",
            folder / "site",
            workers=1,
            ST2LITE_REDIS_URL=redis_for_module,
            ST2LITE_PACKS_PATH=EXAMPLES,
        )
        home = folder / "cli-home"
        home.mkdir()
        base = up.api_url.rstrip("/")
        env = clean_environment(home, {f"ST2_{n.upper()}_URL": f"{base}/{n}/v1" for n in ("api", "auth", "stream")})
        env["ST2_API_KEY"] = read_api_key(folder / "home" / "credentials") or ""
        yield St2(st2_command, env, up)
        up.stop(timeout=90)
    finally:
        procs.cleanup()


def test_st2_action_alias_list_get_match_and_execute(st2: St2) -> None:
    listed = st2("action-alias", "list")
    assert listed.returncode == 0, listed.stderr
    assert "examples.greet" in listed.stdout and "examples.hello" in listed.stdout

    shown = st2("action-alias", "get", "examples.greet")
    assert shown.returncode == 0, shown.stderr
    assert "greet <name> <count> times" in shown.stdout and "action_alias:examples:greet" in shown.stdout

    matched = st2("action-alias", "match", "greet Bo 2 times")
    assert matched.returncode == 0, matched.stderr
    assert "greet" in matched.stdout and "Greet someone from chat" in matched.stdout

    ran = st2("action-alias", "execute", "greet Bo 2 times")
    assert ran.returncode == 0, ran.stderr
    assert "Matching Action-alias: 'examples.greet'" in ran.stdout
    found = re.search(r"st2 execution get (\w+)", ran.stdout)
    assert found is not None, ran.stdout
    done = wait_for(
        lambda: (e := st2.up.execution(found.group(1)))["status"] in FINAL and e or None, what="the alias's run"
    )
    assert done["status"] == "succeeded" and done["result"]["result"] == "hello Bo, hello Bo"

    nothing = st2("action-alias", "match", "dance")
    assert nothing.returncode == 1
    assert "command 'dance' matched no action alias" in nothing.stdout + nothing.stderr
