"""The users file: who may log in, with which role, checked against bcrypt password hashes.

One YAML file (``users_file``, default ``<home>/users.yaml``), written only by
``st2lite user add|remove|set-role|passwd`` and read by the API, which picks
up a change on its next request (it compares the file's modification time)::

    users:
      st2admin:
        role: admin
        password: $2b$12$...

The file is the one source of users, as StackStorm's htpasswd flat file is;
an API on several hosts needs the same file on each (docs/auth.md). Passwords
are hashed with bcrypt (cost 12 unless told otherwise); bcrypt reads at most
72 bytes, so longer passwords are refused rather than silently cut.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from st2lite.exceptions import UsersFileError
from st2lite.permissions import Role
from st2lite.private_files import write_private_file

__all__ = ["BCRYPT_ROUNDS", "User", "UsersFile", "check_password", "check_user_name", "hash_password"]

#: bcrypt's cost factor for new hashes (2^12 rounds: about half a second on a small VM core).
BCRYPT_ROUNDS = 12
#: bcrypt ignores what follows the 72nd byte: longer passwords are refused.
MAX_PASSWORD_BYTES = 72
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_HEADER = "# st2lite users: edit with 'st2lite user add|remove|set-role|passwd' (docs/auth.md)\n"


class User(BaseModel):
    """One user: name, role and bcrypt password hash."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    role: Role
    password: str


@functools.cache
def _dummy_hash(rounds: int) -> bytes:
    """Checked for unknown users, so a wrong name costs the same time as a wrong password (made once, lazily)."""
    return bcrypt.hashpw(b"st2lite-no-such-user", bcrypt.gensalt(rounds))


def check_user_name(name: str) -> str:
    """``name`` if it is a valid user name, else :class:`UsersFileError` saying what is allowed."""
    if not _NAME.match(name):
        raise UsersFileError(
            f"user name {name!r} is not valid; use 1 to 64 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_password(password: str) -> bytes:
    """The password's bytes, if bcrypt can hash it whole and it is not empty."""
    raw = password.encode("utf-8")
    if not raw:
        raise UsersFileError("the password is empty; give a password of 1 to 72 bytes")
    if len(raw) > MAX_PASSWORD_BYTES:
        raise UsersFileError(
            f"the password is {len(raw)} bytes long; bcrypt uses at most {MAX_PASSWORD_BYTES}, give a shorter one"
        )
    return raw


def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    """A bcrypt hash (``$2b$...``) of ``password``."""
    return bcrypt.hashpw(check_password(password), bcrypt.gensalt(rounds)).decode("ascii")


class UsersFile:
    """Reads and edits one users file; reads are cached until the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, User] = {}

    # -- reading --------------------------------------------------------------------------------

    def users(self) -> dict[str, User]:
        """Every user by name (empty when the file does not exist)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise UsersFileError(f"cannot read the users file {self.path}: {exc}; check its permissions") from exc
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._users = self._parse()
                self._stamp = stamp
            return self._users

    def get(self, name: str) -> User | None:
        return self.users().get(name)

    def exists(self) -> bool:
        return self.path.is_file()

    def verify(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs, else None (the same work either way)."""
        user = self.get(name)
        raw = password.encode("utf-8")
        if len(raw) > MAX_PASSWORD_BYTES:
            raw = raw[:MAX_PASSWORD_BYTES]  # only for timing: such a password was never accepted
            user = None
        hashed = user.password.encode("ascii") if user else _dummy_hash(self._typical_rounds())
        try:
            ok = bcrypt.checkpw(raw, hashed)
        except ValueError:  # a hash that is not bcrypt's (a hand-edited file)
            ok = False
        return user if ok and user is not None else None

    def _typical_rounds(self) -> int:
        """The cost of the file's hashes (``$2b$12$...``), so an unknown name takes as long as a known one."""
        for user in self.users().values():
            parts = user.password.split("$")
            if len(parts) > 2 and parts[2].isdigit():
                return int(parts[2])
        return BCRYPT_ROUNDS

    def _parse(self) -> dict[str, User]:
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise UsersFileError(f"cannot read the users file {self.path}: {exc}; fix or remove it") from exc
        if data is None:
            return {}
        entries = data.get("users") if isinstance(data, dict) else None
        if not isinstance(entries, dict):
            raise UsersFileError(
                f"the users file {self.path} must hold a mapping 'users:' of name -> {{role, password}}; "
                "recreate it with 'st2lite user add'"
            )
        users: dict[str, User] = {}
        for name, entry in entries.items():
            if not isinstance(entry, dict):
                raise UsersFileError(f"{self.path}: user {name!r} must be a mapping with 'role' and 'password'")
            try:
                users[str(name)] = User(name=check_user_name(str(name)), **entry)
            except ValidationError as exc:
                problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                raise UsersFileError(
                    f"{self.path}: user {name!r}: {problem}; roles are admin, operator and viewer"
                ) from exc
        return users

    # -- editing --------------------------------------------------------------------------------

    def add(self, name: str, password: str, role: Role, *, rounds: int = BCRYPT_ROUNDS) -> User:
        """Add a user; :class:`UsersFileError` when the name is taken."""
        user = User(name=check_user_name(name), role=role, password=hash_password(password, rounds))
        with self._editing() as users:
            if name in users:
                raise UsersFileError(
                    f"user {name!r} exists already; change it with 'st2lite user passwd' or 'st2lite user set-role'"
                )
            users[name] = user
        return user

    def set_password(self, name: str, password: str, *, rounds: int = BCRYPT_ROUNDS) -> User:
        hashed = hash_password(password, rounds)
        with self._editing() as users:
            user = self._existing(users, name).model_copy(update={"password": hashed})
            users[name] = user
        return user

    def set_role(self, name: str, role: Role) -> User:
        with self._editing() as users:
            user = self._existing(users, name).model_copy(update={"role": role})
            users[name] = user
        return user

    def remove(self, name: str) -> None:
        with self._editing() as users:
            self._existing(users, name)
            del users[name]

    def _existing(self, users: dict[str, User], name: str) -> User:
        if name not in users:
            known = ", ".join(sorted(users)) or "none"
            raise UsersFileError(f"no user {name!r} in {self.path} (users: {known}); add it with 'st2lite user add'")
        return users[name]

    @contextlib.contextmanager
    def _editing(self) -> Iterator[dict[str, User]]:
        """Read, let the block change, write back atomically (mode 0600), one editor at a time."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            users = dict(self._parse()) if self.path.exists() else {}
            yield users
            self._write(users)

    def _write(self, users: dict[str, User]) -> None:
        data: dict[str, Any] = {
            "users": {u.name: {"role": u.role.value, "password": u.password} for u in users.values()}
        }
        write_private_file(self.path, (_HEADER + yaml.safe_dump(data, sort_keys=True)).encode("utf-8"))
