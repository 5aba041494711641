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

import importlib.util
import json
import logging
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypedDict

from st2lite import keys
from st2lite.action_base import LOGGER_PREFIX, Action
from st2lite.exceptions import ConfigError, ContentError

__all__ = [
    "EXIT_ACTION_RAISED",
    "EXIT_BAD_ACTION",
    "LOG_LEVELS",
    "REDIS_URL_ENV",
    "ActionService",
    "KeyValuePair",
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
#: ``log_level`` runner parameter -> logging level (``AUDIT`` shows only audit records, above CRITICAL).
LOG_LEVELS: dict[str, int] = {
    "AUDIT": logging.CRITICAL + 10,
    "CRITICAL": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "WARNING": logging.WARNING,
    "INFO": logging.INFO,
    "DEBUG": logging.DEBUG,
}

_SYSTEM_SCOPES = frozenset({"system", "st2kv.system"})


class WrapperRequest(TypedDict):
    """What the runner sends on stdin."""

    delimiter: str
    #: Absolute path of the action's Python file.
    entry_point: str
    pack: str
    pack_path: str
    parameters: dict[str, Any]
    config: dict[str, Any]
    log_level: str


@dataclass(frozen=True)
class KeyValuePair:
    """One item of :meth:`ActionService.list_values`; ``name`` includes the local prefix."""

    name: str
    value: str


class ActionService:
    """``self.action_service``: datastore access for a running action (system scope).

    Local keys (``local=True``, the default as in StackStorm) are stored as
    ``<pack>.<ActionClass>:<name>``. Redis is reached through the URL in the
    ``ST2LITE_REDIS_URL`` environment variable, on first use.
    """

    def __init__(self, pack: str, class_name: str, redis_url: str | None) -> None:
        self._local_prefix = f"{pack}.{class_name}:"
        self._redis_url = redis_url
        self._client: Any = None

    def get_value(self, name: str, local: bool = True, scope: str = "system", decrypt: bool = False) -> str | None:
        """The value of ``name``, or ``None`` when it does not exist."""
        value = self._redis().get(self._key(name, local, scope))
        return None if value is None else str(value)

    def set_value(
        self,
        name: str,
        value: str,
        ttl: int | None = None,
        local: bool = True,
        scope: str = "system",
        encrypt: bool = False,
    ) -> bool:
        """Store ``value`` under ``name``, expiring after ``ttl`` seconds when given."""
        if not isinstance(value, str):
            raise ValueError(
                f"set_value('{name}'): the value must be a string; serialise structures with json.dumps first"
            )
        if encrypt:
            raise ValueError(
                f"set_value('{name}', encrypt=True): encrypted datastore values are not supported yet "
                "(they arrive with the datastore); store the value unencrypted or in the pack config"
            )
        self._redis().set(self._key(name, local, scope), value, ex=ttl if ttl else None)
        return True

    def delete_value(self, name: str, local: bool = True, scope: str = "system") -> bool:
        """Delete ``name``; ``False`` when it did not exist."""
        return bool(self._redis().delete(self._key(name, local, scope)))

    def list_values(
        self, local: bool = True, prefix: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[KeyValuePair]:
        """The items whose name starts with ``prefix`` (after the local prefix), sorted by name."""
        name_prefix = (self._local_prefix if local else "") + (prefix or "")
        base = keys.kv("system", "")
        client = self._redis()
        found = sorted(str(k) for k in client.scan_iter(match=_glob_escape(base + name_prefix) + "*", count=500))
        found = found[offset : offset + limit if limit is not None else None]
        values = client.mget(found) if found else []
        return [
            KeyValuePair(name=key[len(base) :], value=str(value))
            for key, value in zip(found, values, strict=True)
            if value is not None
        ]

    def _key(self, name: str, local: bool, scope: str) -> str:
        if scope not in _SYSTEM_SCOPES:
            raise ValueError(f"scope '{scope}' is not supported by action_service yet; use scope='system'")
        return keys.kv("system", (self._local_prefix if local else "") + name)

    def _redis(self) -> Any:
        if self._client is None:
            if not self._redis_url:
                raise ConfigError(
                    f"the datastore is not reachable from this action: {REDIS_URL_ENV} is not set; "
                    "run the action through an st2lite worker, which sets it"
                )
            import redis  # Imported on first use: most actions never touch the datastore.

            self._client = redis.Redis.from_url(self._redis_url, decode_responses=True)
        return self._client


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def load_action_class(path: Path, pack_path: Path) -> type[Action]:
    """Import the action file at ``path`` and return its :class:`Action` subclass.

    Raises:
        ContentError: The file defines no subclass or several unrelated ones.
        Exception: Whatever importing the file raises.
    """
    for folder in (path.parent, pack_path / "actions" / "lib"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    module_name = f"st2lite_pack_action_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ContentError(f"{path}: cannot be imported as Python; python-script entry points must be .py files")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
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
        service = ActionService(request["pack"], action_cls.__name__, os.environ.get(REDIS_URL_ENV))
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
