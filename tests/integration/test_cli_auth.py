"""``st2lite user``, ``auth`` and ``apikey`` as subprocesses against a real API, and where the CLI's key comes from."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from conftest import ApiServer

from st2lite import keys
from st2lite.credentials import read_api_key, write_credentials
from st2lite.users import UsersFile

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

NO_KEY = {"ST2LITE_API_KEY": ""}


def test_users_are_added_listed_changed_and_removed(api_server: ApiServer) -> None:
    added = api_server.cli("user", "add", "alice", "--role", "operator", "--password-stdin", input_text="pw one\n")
    assert added.returncode == 0, added.stderr
    assert "user alice added with role operator" in added.stdout
    assert stat.S_IMODE(api_server.settings.users_path.stat().st_mode) == 0o600

    again = api_server.cli("user", "add", "alice", "--password-stdin", input_text="x\n")
    assert again.returncode == 2 and "user 'alice' exists already" in again.stderr
    bad_role = api_server.cli("user", "add", "bob", "--role", "boss", "--password-stdin", input_text="x\n")
    assert bad_role.returncode == 2 and "'boss' is not one of" in bad_role.stderr
    too_long = api_server.cli("user", "add", "bob", "--password-stdin", input_text="x" * 80 + "\n")
    assert too_long.returncode == 2 and "the password is 80 bytes long" in too_long.stderr

    assert api_server.cli("user", "set-role", "alice", "viewer").returncode == 0
    assert api_server.cli("user", "passwd", "alice", "--password-stdin", input_text="pw two\n").returncode == 0
    listed = json.loads(api_server.cli("user", "list", "--json").stdout)
    assert listed == [{"name": "alice", "role": "viewer"}]
    users = UsersFile(api_server.settings.users_path)
    assert users.verify("alice", "pw two") and not users.verify("alice", "pw one")

    # The new password logs in through the API; the CLI prints the token.
    login = api_server.cli("auth", "login", "alice", "--password-stdin", env=NO_KEY, input_text="pw two\n")
    assert login.returncode == 0, login.stderr
    token = login.stdout.strip()
    who = api_server.cli("key", "list", "--json", env={**NO_KEY, "ST2LITE_AUTH_TOKEN": token})
    assert who.returncode == 0, who.stderr
    wrong = api_server.cli("auth", "login", "alice", "--password-stdin", env=NO_KEY, input_text="pw one\n")
    assert wrong.returncode == 1 and "Invalid or missing credentials (HTTP 401)" in wrong.stderr

    assert api_server.cli("user", "remove", "alice").returncode == 0
    gone = api_server.cli("user", "remove", "alice")
    assert gone.returncode == 2 and "no user 'alice'" in gone.stderr


def test_api_keys_from_the_cli(api_server: ApiServer) -> None:
    made = api_server.cli("apikey", "create", "-u", "ci", "-r", "operator", "-m", '{"used_by": "ci"}', "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    only = api_server.cli("apikey", "create", "-k")
    assert only.returncode == 0 and len(only.stdout.strip()) == 48

    listed = api_server.cli("apikey", "list", "--json")
    assert key["key"] not in listed.stdout
    assert {(k["user"], k["role"]) for k in json.loads(listed.stdout)} >= {("ci", "operator")}
    assert "API key" in api_server.cli("apikey", "disable", key["id"]).stdout
    refused = api_server.cli("execution", "list", env={"ST2LITE_API_KEY": key["key"]})
    assert refused.returncode == 1 and "invalid or expired credentials" in refused.stderr
    assert api_server.cli("apikey", "delete", key["id"]).returncode == 0
    bad_meta = api_server.cli("apikey", "create", "-m", "{not json")
    assert bad_meta.returncode == 2 and "--metadata is not JSON" in bad_meta.stderr


def test_the_cli_reads_its_key_from_the_credentials_file(api_server: ApiServer) -> None:
    path = api_server.settings.credentials_path
    no_file = api_server.cli("execution", "list", env=NO_KEY)
    assert no_file.returncode == 1 and "authentication required" in no_file.stderr

    write_credentials(path, api_key=api_server.admin_key, user="st2admin", url=api_server.url)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and read_api_key(path) == api_server.admin_key
    listed = api_server.cli("execution", "list", env=NO_KEY)
    assert listed.returncode == 0, listed.stderr

    path.write_text("api_key: [unclosed\n")
    broken = api_server.cli("execution", "list", env=NO_KEY)
    assert broken.returncode == 2 and f"cannot read the credentials file {path}" in broken.stderr
    path.unlink()


def test_auth_init_makes_the_first_admin_and_the_cli_key_once(api_server: ApiServer, tmp_path: Path) -> None:
    home = tmp_path / "fresh-home"
    env = {**NO_KEY, "ST2LITE_HOME": str(home)}
    first = api_server.cli("auth", "init", env=env)
    assert first.returncode == 0, first.stderr
    password = re.search(r"Created user st2admin \(admin\) with password: (\S+)", first.stderr)
    key = re.search(r"saved in (\S+) \(the st2lite CLI reads it\):\n\s+([0-9a-f]{48})", first.stderr)
    assert password and key, first.stderr
    credentials = home / "credentials"
    assert key.group(1) == str(credentials) and stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert read_api_key(credentials) == key.group(2)
    assert UsersFile(home / "users.yaml").verify("st2admin", password.group(1))
    # The CLI now works with no key in its environment: it reads the file.
    assert api_server.cli("execution", "list", env=env).returncode == 0

    again = api_server.cli("auth", "init", env=env)
    assert again.returncode == 0 and again.stderr == ""
    assert read_api_key(credentials) == key.group(2)

    # A Redis that lost the key (flushed, or a new one): a new key, the same user.
    api_server.redis.delete(keys.API_KEYS, keys.API_KEY_HASHES)
    third = api_server.cli("auth", "init", env=env)
    assert "Created user" not in third.stderr and "Created an admin API key" in third.stderr
    assert read_api_key(credentials) != key.group(2)

    off = api_server.cli("auth", "init", env={**env, "ST2LITE_AUTH_ENABLED": "false"})
    assert off.returncode == 0 and "auth is off" in off.stderr
