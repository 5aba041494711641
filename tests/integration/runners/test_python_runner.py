"""python-script against real action processes, written as a pack by each test."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from st2lite import keys
from st2lite.audit import AuditLog
from st2lite.datastore import MASK, KeyValueStore
from st2lite.encryption import DatastoreKey, generate_key_file
from st2lite.exceptions import RunnerError
from st2lite.redisdb import connect
from st2lite.runners import get_runner
from st2lite.runners.base import RunContext, RunResult
from st2lite.statuses import ExecutionStatus

S = ExecutionStatus

HEADER = "from st2common.runners.base_action import Action\n\n"


def _write(pack: Path, name: str, body: str) -> None:
    path = pack / "actions" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))


def _action(pack: Path, name: str, run_body: str, *, signature: str = "self, **kwargs") -> str:
    entry = f"{name}.py"
    body = HEADER + f"class {name.title()}(Action):\n    def run({signature}):\n"
    body += textwrap.indent(textwrap.dedent(run_body), " " * 8)
    _write(pack, entry, body)
    return entry


def _run(pack: Path, entry_point: str, **fields: Any) -> RunResult:
    ctx = RunContext(
        execution_id="ex-py",
        action_ref="demo.act",
        pack="demo",
        pack_path=str(pack),
        entry_point=entry_point,
        **fields,
    )
    return get_runner("python-script").run(ctx)


def test_plain_value_succeeds_and_prints_stay_in_stdout(tmp_path: Path) -> None:
    _write(tmp_path, "lib/helpers.py", "def shout(text):\n    return text.upper()\n")
    entry = _action(
        tmp_path,
        "greet",
        """
        from helpers import shout
        print("before", end="")
        self.logger.info("logged")
        self.logger.debug("debug line")
        return {"greeting": shout(name), "config": self.config}
        """,
        signature="self, name",
    )
    result = _run(
        tmp_path, entry, parameters={"name": "ann"}, config={"region": "eu"}, runner_parameters={"log_level": "INFO"}
    )
    assert result.status is S.SUCCEEDED, result
    assert result.result["result"] == {"greeting": "ANN", "config": {"region": "eu"}}
    assert result.result["stdout"] == "before"
    assert result.result["exit_code"] == 0
    assert "INFO actions.python.Greet logged" in result.result["stderr"]
    assert "debug line" not in result.result["stderr"]
    assert result.error is None


def test_false_tuple_fails_with_its_value(tmp_path: Path) -> None:
    entry = _action(tmp_path, "nope", "return (False, {'reason': 'disk full'})")
    result = _run(tmp_path, entry)
    assert result.status is S.FAILED
    assert result.result["result"] == {"reason": "disk full"}
    assert result.result["exit_code"] == 0


def test_true_tuple_succeeds_and_lists_pass_through(tmp_path: Path) -> None:
    assert _run(tmp_path, _action(tmp_path, "yes", "return (True, 5)")).result["result"] == 5
    listed = _run(tmp_path, _action(tmp_path, "pair", "return ['a', 1]"))
    assert listed.status is S.SUCCEEDED
    assert listed.result["result"] == ["a", 1]


def test_bad_tuple_is_an_error(tmp_path: Path) -> None:
    result = _run(tmp_path, _action(tmp_path, "bad", "return ('ok', 1)"))
    assert result.status is S.FAILED
    assert result.error == (
        "the action returned a 2-tuple whose first item is a str, not a bool; "
        "return (True or False, result) to set the status, or a list to return two values"
    )


def test_exception_fails_with_traceback(tmp_path: Path) -> None:
    result = _run(tmp_path, _action(tmp_path, "boom", "raise ValueError('boom')"))
    assert result.status is S.FAILED
    assert result.error == "ValueError: boom"
    assert result.result["exit_code"] == 1
    assert "Traceback (most recent call last)" in result.result["stderr"]
    assert "ValueError: boom" in result.result["stderr"]


def test_file_without_action_class(tmp_path: Path) -> None:
    _write(tmp_path, "empty.py", "X = 1\n")
    result = _run(tmp_path, "empty.py")
    assert result.status is S.FAILED
    path = tmp_path / "actions" / "empty.py"
    assert result.error == (
        f"cannot load the action from {path}: ContentError: {path}: defines no subclass of Action; "
        "write 'from st2common.runners.base_action import Action' and a class extending it"
    )


def test_stdlib_and_st2lite_import_paths(tmp_path: Path) -> None:
    entry = _action(
        tmp_path,
        "imports",
        """
        import http.client, st2lite.action_base
        return [http.client.__name__, Action is st2lite.action_base.Action]
        """,
    )
    assert _run(tmp_path, entry).result["result"] == ["http.client", True]


def test_environment(tmp_path: Path) -> None:
    entry = _action(
        tmp_path,
        "env",
        """
        import os
        names = ["ST2_ACTION_PACK_NAME", "ST2_ACTION_EXECUTION_ID", "ST2_ACTION_API_URL", "ST2_ACTION_DEBUG", "MINE"]
        return {n: os.environ.get(n) for n in names}
        """,
    )
    result = _run(tmp_path, entry, api_url="http://api", runner_parameters={"env": {"MINE": "x"}, "debug": True})
    assert result.result["result"] == {
        "ST2_ACTION_PACK_NAME": "demo",
        "ST2_ACTION_EXECUTION_ID": "ex-py",
        "ST2_ACTION_API_URL": "http://api",
        "ST2_ACTION_DEBUG": "1",
        "MINE": "x",
    }


def test_output_callback_skips_the_result_record(tmp_path: Path) -> None:
    entry = _action(tmp_path, "talk", "print('one')\nprint('two', end='')\nreturn 1")
    seen: list[tuple[str, str]] = []
    ctx = RunContext(execution_id="e", action_ref="demo.talk", pack="demo", pack_path=str(tmp_path), entry_point=entry)
    result = get_runner("python-script").run(ctx, on_output=lambda s, line: seen.append((s, line)))
    assert result.result["result"] == 1
    assert [line for stream, line in seen if stream == "stdout"] == ["one\n", "two"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_timeout_kills_the_action_and_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    entry = _action(
        tmp_path,
        "slow",
        f"""
        import subprocess, time
        child = subprocess.Popen(["sleep", "30"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        print("started", flush=True)
        time.sleep(30)
        """,
    )
    result = _run(tmp_path, entry, timeout=1.0)
    assert result.status is S.TIMEOUT
    assert result.error == "Action failed to complete in 1 seconds"
    assert result.result["stdout"] == "started\n"
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 3
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(child), f"child {child} survived the timeout"


def test_missing_entry_point(tmp_path: Path) -> None:
    (tmp_path / "actions").mkdir()
    with pytest.raises(RunnerError, match="entry_point 'none.py' is not a file"):
        _run(tmp_path, "none.py")


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A throwaway redis-server on a unix socket."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    folder = tempfile.mkdtemp(prefix="st2r")
    socket = f"{folder}/redis.sock"
    proc = subprocess.Popen(
        [server, "--port", "0", "--unixsocket", socket, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(unix_socket_path=socket)
    deadline = time.monotonic() + 5
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.01)
    client.close()
    yield f"unix://{socket}"
    proc.terminate()
    proc.wait(5)
    shutil.rmtree(folder, ignore_errors=True)


def _kv_store(client: redis.Redis, key_file: Path) -> KeyValueStore:
    """The datastore a test checks an action's changes in (the action builds its own in its process)."""
    return KeyValueStore(
        client,
        key=DatastoreKey(key_file),
        actor="test",
        trigger_maxlen=10_000,
        audit_maxlen=10_000,
        max_value_bytes=4096,
    )


@pytest.mark.redis
def test_action_service_datastore(tmp_path: Path, redis_url: str) -> None:
    client = connect(redis_url)
    key_file = generate_key_file(tmp_path / "keys" / "datastore.key")
    store = _kv_store(client, key_file)
    store.set("shared", "global")
    entry = _action(
        tmp_path,
        "store",
        """
        svc = self.action_service
        svc.set_value("a", "1")
        svc.set_value("b", "2", ttl=100)
        svc.set_value("pw", "hunter2", encrypt=True)
        out = {
            "a": svc.get_value("a"),
            "shared": svc.get_value("shared", local=False),
            "missing": svc.get_value("missing"),
            "pw": svc.get_value("pw", decrypt=True),
            "pw_stored": svc.get_value("pw"),
            "listed": [(kv.name, kv.value, kv.secret) for kv in svc.list_values()],
            "deleted": [svc.delete_value("a"), svc.delete_value("a")],
        }
        return out
        """,
    )
    env = {"ST2LITE_REDIS_URL": redis_url, "ST2LITE_DATASTORE_KEY_FILE": str(key_file)}
    result = _run(tmp_path, entry, env=env)
    assert result.status is S.SUCCEEDED, result
    out = result.result["result"]
    stored = out.pop("pw_stored")
    assert out == {
        "a": "1",
        "shared": "global",
        "missing": None,
        "pw": "hunter2",
        "listed": [["demo.Store:a", "1", False], ["demo.Store:b", "2", False], ["demo.Store:pw", MASK, True]],
        "deleted": [True, False],
    }
    # Without decrypt a secret reads as its token (as StackStorm's ciphertext), which the key decrypts.
    assert stored != "hunter2"
    assert DatastoreKey(key_file).decrypt(stored, what="pw") == "hunter2"
    assert "hunter2" not in str(client.hgetall(keys.kv("system", "demo.Store:pw")))
    assert 0 < client.ttl(keys.kv("system", "demo.Store:b")) <= 100
    # The action's changes emit the datastore triggers, with the execution as the actor of their audit events.
    created = [
        orjson.loads(fields["t"])["payload"]["object"]["name"]
        for _id, fields in client.xrange(keys.TRIGGER_STREAM)
        if orjson.loads(fields["t"])["trigger"] == "core.st2.key_value_pair.create"
    ]
    assert created == ["shared", "demo.Store:a", "demo.Store:b", "demo.Store:pw"]
    actors = {e.actor for e in AuditLog(client, maxlen=10_000).read() if e.kind == "key_value_pair.created"}
    assert actors == {"test", "action:ex-py"}
    client.close()


@pytest.mark.redis
def test_action_service_user_scope_is_the_execution_users(tmp_path: Path, redis_url: str) -> None:
    client = connect(redis_url)
    key_file = generate_key_file(tmp_path / "keys" / "datastore.key")
    store = _kv_store(client, key_file)
    store.set("token", "olga's", scope="user", user="olga")
    store.set("token", "bob's", scope="user", user="bob")
    entry = _action(
        tmp_path,
        "mine",
        """
        svc = self.action_service
        svc.set_value("seen", "yes", local=False, scope="user")
        return {"token": svc.get_value("token", local=False, scope="user")}
        """,
    )
    env = {"ST2LITE_REDIS_URL": redis_url, "ST2LITE_DATASTORE_KEY_FILE": str(key_file)}
    result = _run(tmp_path, entry, env=env, user="olga")
    assert result.status is S.SUCCEEDED, result
    assert result.result["result"] == {"token": "olga's"}
    assert store.get("seen", scope="user", user="olga").value == "yes"
    assert store.query(scope="user", user="bob")[1] == 1  # bob's values untouched
