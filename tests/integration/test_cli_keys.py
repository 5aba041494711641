"""``st2lite key ...`` as a subprocess: set/get/list/delete through the API, load and generate-key on the host."""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ApiServer

from st2lite import keys
from st2lite.datastore import KeyValueStore
from st2lite.permissions import Role

pytestmark = pytest.mark.redis

SECRET = "hunter2-plaintext"


def ok(result: subprocess.CompletedProcess[str], code: int = 0) -> subprocess.CompletedProcess[str]:
    assert result.returncode == code, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


@pytest.fixture
def key_path(api_server: ApiServer) -> Iterator[Path]:
    """Where ``st2lite key generate-key`` writes for this server's home; removed after the test."""
    path = api_server.settings.datastore_key_path
    path.unlink(missing_ok=True)
    yield path
    path.unlink(missing_ok=True)


def store(api: ApiServer) -> KeyValueStore:
    return KeyValueStore.for_settings(api.redis, api.settings, actor="test")


def test_generate_key_then_a_secret_is_masked_unless_decrypted(api_server: ApiServer, key_path: Path) -> None:
    cli = api_server.cli
    generated = ok(cli("key", "generate-key"))
    assert str(key_path) in generated.stdout
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    key = key_path.read_text()
    refused = ok(cli("key", "generate-key"), 2)
    assert f"error: {key_path} already exists; replacing it makes every secret stored with it unreadable" in (
        refused.stderr
    )
    assert key_path.read_text() == key

    shown = ok(cli("key", "set", "pw", SECRET, "--encrypt"))
    assert "value: ********" in shown.stdout
    assert SECRET not in shown.stdout + shown.stderr
    assert "value: " + SECRET in ok(cli("key", "get", "pw", "--decrypt")).stdout
    listed = ok(cli("key", "list"))
    assert "********" in listed.stdout and SECRET not in listed.stdout
    assert SECRET not in str(api_server.redis.hgetall(keys.kv("system", "pw")))
    assert store(api_server).get("pw", decrypt=True).value == SECRET


def test_a_secret_without_key_file_says_to_generate_one(api_server: ApiServer, key_path: Path) -> None:
    result = ok(api_server.cli("key", "set", "pw", SECRET, "-e"), 1)  # the API's 500: its key file is missing

    assert result.stderr.strip() == (
        f"error: no datastore key file at {key_path}, so secrets cannot be encrypted or decrypted; run 'st2lite key "
        "generate-key' (or set datastore_key_file / ST2LITE_DATASTORE_KEY_FILE to the key file) (HTTP 500)"
    )
    assert store(api_server).query() == ([], 0)


def test_set_get_list_delete_with_scopes_and_ttl(api_server: ApiServer) -> None:
    cli = api_server.cli
    kv = store(api_server)
    kv.set("app.region", "eu")
    kv.set("db.host", "h")

    ok(cli("key", "set", "app.mine", "m", "--scope", "user", "--user", "ann", "--ttl", "300"))
    mine = kv.get("app.mine", scope="user", user="ann")
    assert (mine.value, mine.ttl) == ("m", 300)
    listed = as_json(ok(cli("key", "list", "--prefix", "app.", "--user", "ann", "--json")))
    assert [(i["scope"], i["name"], i["value"]) for i in listed] == [
        ("st2kv.system", "app.region", "eu"),
        ("st2kv.user", "app.mine", "m"),
    ]
    limited = ok(cli("key", "list", "-n", "1"))
    assert "app.region" in limited.stdout and "db.host" not in limited.stdout
    assert "Note: only the first 1 of 2 values are shown; use -n for more." in limited.stderr

    ok(cli("key", "delete", "app.region"))
    missing = ok(cli("key", "get", "app.region"), 1)
    assert missing.stderr.strip() == (
        'error: Key Value Pair "app.region" is not found (st2kv.system); '
        "check the name and scope, or list the stored names with 'st2lite key list' (HTTP 404)"
    )
    assert [i.name for i in kv.query()[0]] == ["db.host"]


def test_load_with_a_bad_entry_in_the_middle_loads_nothing(api_server: ApiServer, tmp_path: Path) -> None:
    kv = store(api_server)
    kv.set("a", "before")
    path = tmp_path / "keys.yaml"
    path.write_text("- name: a\n  value: after\n- name: b\n- name: c\n  value: '3'\n")

    result = ok(api_server.cli("key", "load", str(path)), 2)

    assert result.stderr.splitlines() == [
        f"error: {path}[1] (line 3): 'value' is missing; every entry needs 'name' and 'value'",
        f"nothing was loaded from {path}; fix the entries and load it again",
    ]
    assert [(i.name, i.value) for i in kv.query()[0]] == [("a", "before")]

    path.write_text(json.dumps([{"name": "a", "value": "after"}, {"name": "n", "value": 7}]))
    loaded = as_json(ok(api_server.cli("key", "load", str(path), "--convert", "--json")))
    assert [(i["name"], i["value"]) for i in loaded] == [("a", "after"), ("n", "7")]
    assert [(i.name, i.value) for i in kv.query()[0]] == [("a", "after"), ("n", "7")]


def test_user_scope_defaults_to_the_caller(api_server: ApiServer) -> None:
    """The API's user scope is the caller's: the test CLI's key belongs to st2admin."""
    cli = api_server.cli
    shown = as_json(ok(cli("key", "set", "session", "abc", "--scope", "user", "--json")))
    assert (shown["scope"], shown["user"]) == ("st2kv.user", "st2admin")
    assert store(api_server).get("session", scope="user", user="st2admin").value == "abc"
    assert "value: abc" in ok(cli("key", "get", "session", "-s", "user")).stdout
    ok(cli("key", "delete", "session", "-s", "user"))
    assert store(api_server).query(scope="user", user="st2admin") == ([], 0)


def test_a_viewer_may_read_but_not_set_and_nothing_changes(api_server: ApiServer) -> None:
    kv = store(api_server)
    kv.set("region", "eu")
    viewer = {"ST2LITE_API_KEY": api_server.api_key("vic", Role.VIEWER)}

    refused = ok(api_server.cli("key", "set", "region", "us", env=viewer), 1)
    gone = ok(api_server.cli("key", "delete", "region", env=viewer), 1)

    assert "vic (role viewer) lacks the permission 'key_value_pair_set'" in refused.stderr
    assert "(HTTP 403)" in refused.stderr and "(HTTP 403)" in gone.stderr
    assert "value: eu" in ok(api_server.cli("key", "get", "region", env=viewer)).stdout
    assert kv.get("region").value == "eu"


def test_invalid_input_from_the_api_exits_2(api_server: ApiServer) -> None:
    result = ok(api_server.cli("key", "set", "k", "v", "--scope", "everywhere"), 2)

    assert result.stderr.strip() == (
        "error: scope 'everywhere' is not a datastore scope; use system or user (st2kv.system and st2kv.user also "
        "work) (HTTP 400)"
    )
    assert store(api_server).query() == ([], 0)
