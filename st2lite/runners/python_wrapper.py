"""The child side of the ``python-script`` runner: load a pack's action, run it, report its result.

Started by :mod:`st2lite.runners.python` as ``python -P <this file>`` (so the
runner package and its heavier imports stay out of the action process). It
reads one JSON :class:`WrapperRequest` from stdin, imports the action file by
path with the pack's ``actions/lib`` and the action's folder on ``sys.path``,
instantiates the single :class:`~st2lite.action_base.Action` subclass it
defines and calls ``run(**parameters)``.

The outcome is written to stdout as ``<delimiter><json><delimiter>`` after
everything the action printed, where the delimiter is a random token from the
request. The JSON is ``{"status": true|false|null, "result": ...}`` or
``{"error": "..."}``. Exit codes: 0 the action returned, 1 it raised
(traceback on stderr), 2 it could not be loaded or returned a bad tuple.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, TypedDict

from st2lite.action_base import LOGGER_PREFIX, Action
from st2lite.exceptions import ConfigError, ContentError
from st2lite.pack_modules import import_pack_file

__all__ = [
    "EXIT_ACTION_RAISED",
    "EXIT_BAD_ACTION",
    "KEY_FILE_ENV",
    "LOG_LEVELS",
    "REDIS_URL_ENV",
    "ActionService",
    "WrapperRequest",
    "find_action_class",
    "load_action_class",
    "main",
]

#: Exit code when ``run`` raised.
EXIT_ACTION_RAISED = 1
#: Exit code when the action could not be loaded or returned a bad tuple.
EXIT_BAD_ACTION = 2
#: Environment variable naming the Redis the datastore methods use.
REDIS_URL_ENV = "ST2LITE_REDIS_URL"
#: Environment variable naming the key file that encrypts datastore secrets.
KEY_FILE_ENV = "ST2LITE_DATASTORE_KEY_FILE"
#: ``log_level`` runner parameter -> logging level (``AUDIT`` shows only audit records, above CRITICAL).
LOG_LEVELS: dict[str, int] = {
    "AUDIT": logging.CRITICAL + 10,
    "CRITICAL": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "WARNING": logging.WARNING,
    "INFO": logging.INFO,
    "DEBUG": logging.DEBUG,
}


class WrapperRequest(TypedDict):
    """What the runner sends on stdin."""

    delimiter: str
    #: Absolute path of the action's Python file.
    entry_point: str
    pack: str
    pack_path: str
    parameters: dict[str, Any]
    config: dict[str, Any]
    #: The execution's user: ``scope="user"`` means this user's values.
    user: str
    log_level: str


class ActionService:
    """``self.action_service``: the datastore for a running action, with StackStorm's methods.

    Local keys (``local=True``, the default as in StackStorm) are stored as
    ``<pack>.<ActionClass>:<name>``. The store is built on first use from the
    ``ST2LITE_REDIS_URL`` and ``ST2LITE_DATASTORE_KEY_FILE`` the worker sets,
    so changes emit the same triggers and audit events as the API's (actor
    ``action:<execution id>``, or ``actor`` when given); most actions never import it. ``scope='user'``
    means the values of the execution's user (``user``; without one, the datastore's default user).
    """

    def __init__(
        self,
        pack: str,
        class_name: str,
        redis_url: str | None,
        key_file: str | None = None,
        *,
        actor: str | None = None,
        store: Any = None,
        user: str | None = None,
    ) -> None:
        self._local_prefix = f"{pack}.{class_name}:"
        self._redis_url = redis_url
        self._key_file = key_file
        self._actor = actor
        self._kv: Any = store  # a ready KeyValueStore (sensors pass theirs), else built on first use
        self._user = user or None

    def get_value(self, name: str, local: bool = True, scope: str = "system", decrypt: bool = False) -> str | None:
        """The value of ``name``, or ``None`` when it does not exist.

        A secret read without ``decrypt`` gives its encrypted form, as in StackStorm (and as ``st2kv`` in templates).
        """
        stored: str | None = self._store().stored_value(
            self._name(name, local), scope=scope, user=self._user, decrypt=decrypt
        )
        return stored

    def set_value(
        self,
        name: str,
        value: str,
        ttl: int | None = None,
        local: bool = True,
        scope: str = "system",
        encrypt: bool = False,
    ) -> bool:
        """Store ``value`` under ``name`` (encrypted with ``encrypt``), expiring after ``ttl`` seconds when given."""
        self._store().set(self._name(name, local), value, scope=scope, user=self._user, secret=encrypt, ttl=ttl)
        return True

    def delete_value(self, name: str, local: bool = True, scope: str = "system") -> bool:
        """Delete ``name``; ``False`` when it did not exist."""
        from st2lite.exceptions import KeyValueNotFoundError

        try:
            self._store().delete(self._name(name, local), scope=scope, user=self._user)
        except KeyValueNotFoundError:
            return False
        return True

    def list_values(
        self, local: bool = True, prefix: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[Any]:
        """The system-scope values whose name starts with ``prefix`` (after the local prefix), sorted by name.

        Items are :class:`st2lite.datastore.KeyValuePair` (``name`` includes the local prefix; secrets masked).
        """
        name_prefix = (self._local_prefix if local else "") + (prefix or "")
        items, _total = self._store().query(scope="system", prefix=name_prefix, limit=limit, offset=offset)
        return list(items)

    def _name(self, name: str, local: bool) -> str:
        return (self._local_prefix if local else "") + name

    def _store(self) -> Any:
        if self._kv is None:
            if not self._redis_url:
                raise ConfigError(
                    f"the datastore is not reachable from this action: {REDIS_URL_ENV} is not set; "
                    "run the action through an st2lite worker, which sets it"
                )
            # Imported on first use: most actions never touch the datastore.
            from st2lite.config import load_settings
            from st2lite.datastore import KeyValueStore
            from st2lite.redisdb import connect

            overrides = {"datastore_key_file": self._key_file} if self._key_file else {}
            settings = load_settings(**overrides)
            actor = self._actor or f"action:{os.environ.get('ST2_ACTION_EXECUTION_ID', '')}"
            self._kv = KeyValueStore.for_settings(connect(self._redis_url), settings, actor=actor)
        return self._kv


def load_action_class(path: Path, pack_path: Path) -> type[Action]:
    """Import the action file at ``path`` and return its :class:`Action` subclass.

    Raises:
        ContentError: The file defines no subclass or several unrelated ones.
        Exception: Whatever importing the file raises.
    """
    module = import_pack_file(path, f"st2lite_pack_action_{path.stem}", (path.parent, pack_path / "actions" / "lib"))
    if module is None:
        raise ContentError(f"{path}: cannot be imported as Python; python-script entry points must be .py files")
    return find_action_class(module, path)


def find_action_class(module: ModuleType, path: Path) -> type[Action]:
    """The one :class:`Action` subclass defined in ``module`` (a base class it also defines is skipped).

    Raises:
        ContentError: There is none, or more than one that no other one extends.
    """
    defined = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, Action) and obj.__module__ == module.__name__
    ]
    leaves = [cls for cls in defined if not any(other is not cls and issubclass(other, cls) for other in defined)]
    if len(leaves) == 1:
        return leaves[0]
    if not leaves:
        raise ContentError(
            f"{path}: defines no subclass of Action; "
            "write 'from st2common.runners.base_action import Action' and a class extending it"
        )
    names = ", ".join(sorted(cls.__name__ for cls in leaves))
    raise ContentError(f"{path}: defines several Action classes ({names}); keep one per action file")


def _outcome(value: Any) -> dict[str, Any]:
    if isinstance(value, tuple) and len(value) == 2:
        status, result = value
        if not isinstance(status, bool):
            raise ContentError(
                f"the action returned a 2-tuple whose first item is a {type(status).__name__}, not a bool; "
                "return (True or False, result) to set the status, or a list to return two values"
            )
        return {"status": status, "result": result}
    return {"status": None, "result": value}


def _jsonable(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)


def _report(delimiter: str, payload: dict[str, Any]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    text = f"{delimiter}{json.dumps(payload, default=_jsonable)}{delimiter}\n"
    # Written to the file descriptor: the action may have replaced or closed sys.stdout.
    os.write(1, text.encode("utf-8"))


def _configure_logging(level_name: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    action_logger = logging.getLogger(LOGGER_PREFIX)
    action_logger.addHandler(handler)
    action_logger.setLevel(LOG_LEVELS.get(level_name.upper(), logging.DEBUG))
    action_logger.propagate = False


def main() -> int:
    """Run the action described on stdin; return the process exit code."""
    request: WrapperRequest = json.loads(sys.stdin.read())
    delimiter = request["delimiter"]
    _configure_logging(request["log_level"])
    path = Path(request["entry_point"])
    try:
        action_cls = load_action_class(path, Path(request["pack_path"]))
        service = ActionService(
            request["pack"],
            action_cls.__name__,
            os.environ.get(REDIS_URL_ENV),
            os.environ.get(KEY_FILE_ENV),
            user=request.get("user"),
        )
        action = action_cls(config=request["config"], action_service=service)
    except Exception as exc:
        traceback.print_exc()
        _report(delimiter, {"error": f"cannot load the action from {path}: {_describe(exc)}"})
        return EXIT_BAD_ACTION
    try:
        value = action.run(**request["parameters"])
    except Exception as exc:
        traceback.print_exc()
        _report(delimiter, {"error": _describe(exc)})
        return EXIT_ACTION_RAISED
    try:
        payload = _outcome(value)
    except ContentError as exc:
        _report(delimiter, {"error": str(exc)})
        return EXIT_BAD_ACTION
    _report(delimiter, payload)
    return 0


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
