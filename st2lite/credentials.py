"""The CLI's credentials file, and the first admin that ``st2lite up`` (``st2lite auth init``) creates.

``<home>/credentials`` (mode 0600) holds an admin API key and the API URL it
belongs to; the ``st2lite`` CLI sends that key unless ``ST2LITE_API_KEY`` or
``ST2LITE_AUTH_TOKEN`` says otherwise. :func:`ensure_admin` makes sure there
is a user to log in with and a working key in the file, creating what is
missing and telling the caller what it made so it can be shown once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from st2lite.apikeys import ApiKeyStore
from st2lite.audit import AuditLog
from st2lite.config import Settings
from st2lite.exceptions import ConfigError
from st2lite.permissions import Role
from st2lite.private_files import write_private_file
from st2lite.redisdb import Redis
from st2lite.users import UsersFile

__all__ = ["ADMIN_USER", "Bootstrap", "ensure_admin", "new_password", "read_api_key", "write_credentials"]

#: The user ``st2lite up`` creates on first start (StackStorm's default admin name).
ADMIN_USER = "st2admin"
_HEADER = "# st2lite CLI credentials, written by 'st2lite auth init' (st2lite up). Keep this file private.\n"


@dataclass(frozen=True)
class Bootstrap:
    """What :func:`ensure_admin` created (None: it existed already)."""

    user: str
    #: The new user's password, when the user was created now.
    password: str | None
    #: The new API key, when one was created now.
    api_key: str | None
    credentials_path: Path


def read_api_key(path: Path) -> str | None:
    """The API key in a credentials file, or None when there is none."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"cannot read the credentials file {path}: {exc}; remove it and run 'st2lite auth init'"
        ) from exc
    key = data.get("api_key") if isinstance(data, dict) else None
    return str(key) if key else None


def write_credentials(path: Path, *, api_key: str, user: str, url: str) -> None:
    """Write the credentials file atomically with mode 0600."""
    text = _HEADER + yaml.safe_dump({"api_key": api_key, "user": user, "url": url}, sort_keys=False)
    write_private_file(path, text.encode("utf-8"))


def new_password() -> str:
    """A random password (120 bits, URL-safe) that starts with a letter or digit.

    One starting with ``-`` would be read as an option by command lines (``st2 auth st2admin -p -x...``).
    """
    while True:
        password = secrets.token_urlsafe(15)
        if password[0].isalnum():
            return password


def ensure_admin(settings: Settings, client: Redis) -> Bootstrap | None:
    """An admin user in the users file and a valid admin API key in the credentials file; None if both were there.

    The first user is ``st2admin`` with a random password. The key is made for
    the first admin of the users file; a key in the file that Redis no longer
    knows (a flushed or new Redis) is replaced.
    """
    users = UsersFile(settings.users_path)
    password = None
    if not users.users():
        password = new_password()
        users.add(ADMIN_USER, password, Role.ADMIN)
    admins = sorted(name for name, user in users.users().items() if user.role is Role.ADMIN)
    path = settings.credentials_path
    store = ApiKeyStore(client, AuditLog(client, maxlen=settings.audit_stream_maxlen))
    current = read_api_key(path)
    known = store.lookup(current) if current else None
    if known is not None and known.enabled and known.role is Role.ADMIN:
        return None if password is None else Bootstrap(known.user, password, None, path)
    if not admins:
        raise ConfigError(
            f"the users file {settings.users_path} has no admin; add one with 'st2lite user add NAME --role admin'"
        )
    owner = ADMIN_USER if ADMIN_USER in admins else admins[0]
    _key, secret = store.create(
        owner, Role.ADMIN, actor="cli:auth-init", metadata={"used_by": "st2lite CLI", "created_by": "st2lite auth init"}
    )
    write_credentials(path, api_key=secret, user=owner, url=settings.resolved_api_url)
    return Bootstrap(owner, password, secret, path)
