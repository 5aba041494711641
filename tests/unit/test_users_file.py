"""The users file: adding, checking, changing and removing users; what a broken file says."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from st2lite.exceptions import UsersFileError
from st2lite.permissions import Role
from st2lite.users import UsersFile

FAST = 4  # bcrypt cost for tests


def test_add_verify_change_and_remove(tmp_path: Path) -> None:
    users = UsersFile(tmp_path / "home" / "users.yaml")
    assert users.users() == {} and not users.exists()
    users.add("alice", "correct horse", Role.OPERATOR, rounds=FAST)
    users.add("bob", "hunter2", Role.VIEWER, rounds=FAST)

    assert stat.S_IMODE(users.path.stat().st_mode) == 0o600
    text = users.path.read_text()
    assert "correct horse" not in text and "$2b$04$" in text
    assert users.verify("alice", "correct horse") == users.get("alice")
    assert users.verify("alice", "wrong") is None
    assert users.verify("nobody", "correct horse") is None

    users.set_password("alice", "battery staple", rounds=FAST)
    users.set_role("bob", Role.ADMIN)
    assert users.verify("alice", "correct horse") is None and users.verify("alice", "battery staple")
    assert users.get("bob") is not None and users.get("bob").role is Role.ADMIN  # type: ignore[union-attr]
    users.remove("alice")
    assert sorted(UsersFile(users.path).users()) == ["bob"]  # a fresh reader sees the same file


def test_a_taken_name_a_bad_name_and_bad_passwords_are_refused_and_nothing_changes(tmp_path: Path) -> None:
    users = UsersFile(tmp_path / "users.yaml")
    users.add("alice", "pw", Role.ADMIN, rounds=FAST)
    before = users.path.read_text()
    with pytest.raises(UsersFileError, match="user 'alice' exists already; change it with 'st2lite user passwd'"):
        users.add("alice", "other", Role.VIEWER, rounds=FAST)
    with pytest.raises(UsersFileError, match="user name 'a b' is not valid; use 1 to 64 letters"):
        users.add("a b", "pw", Role.VIEWER, rounds=FAST)
    with pytest.raises(UsersFileError, match="the password is 73 bytes long; bcrypt uses at most 72"):
        users.add("carol", "x" * 73, Role.VIEWER, rounds=FAST)
    with pytest.raises(UsersFileError, match="the password is empty"):
        users.add("carol", "", Role.VIEWER, rounds=FAST)
    with pytest.raises(UsersFileError, match=r"no user 'zed' in .* \(users: alice\); add it with 'st2lite user add'"):
        users.set_role("zed", Role.ADMIN)
    assert users.path.read_text() == before
    assert users.verify("alice", "x" * 100) is None  # too long to be anyone's password


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("users: [alice]\n", "must hold a mapping 'users:'"),
        ("users:\n  alice: admin\n", "user 'alice' must be a mapping with 'role' and 'password'"),
        ("users:\n  alice: {role: boss, password: x}\n", "user 'alice': role: Input should be 'admin'"),
        ("users: {alice: {role: admin}}\n", "user 'alice': password: Field required"),
        ("users: {\n", "cannot read the users file"),
    ],
)
def test_a_broken_file_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(text)
    with pytest.raises(UsersFileError, match=message):
        UsersFile(path).users()


def test_a_hand_edited_hash_that_is_not_bcrypt_never_matches(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text("users:\n  alice: {role: admin, password: 'plain-text'}\n")
    assert UsersFile(path).verify("alice", "plain-text") is None
