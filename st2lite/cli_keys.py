"""``st2lite key``: the datastore (docs/datastore.md).

``set``, ``get``, ``list`` and ``delete`` talk to the API (``/api/v1/keys``),
which applies the caller's permissions and user scope (a user-scoped value
belongs to the caller unless ``--user`` says otherwise). ``load`` (bulk import)
writes to Redis directly and ``generate-key`` writes the key file: both are
operator tools on the host.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from st2lite.cli import JsonOpt, _call, _redis_url, err, fail, out, print_json, settings_from
from st2lite.config import Settings
from st2lite.exceptions import St2liteError

__all__ = ["key_app"]

key_app = typer.Typer(help="Set, read, list and delete datastore values.", no_args_is_help=True)

ScopeOpt = Annotated[str, typer.Option("--scope", "-s", help="system or user (st2kv.system, st2kv.user).")]
UserOpt = Annotated[
    str | None, typer.Option("--user", "-u", help="Owner of a user-scoped value (default: you, the caller).")
]

#: Fields of an item shown by ``set`` and ``get``, in order.
SHOWN = ("name", "value", "scope", "user", "secret", "encrypted", "ttl", "expire_timestamp")


def _show_pair(item: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(item)
        return
    for name in SHOWN:
        if item.get(name) is not None:
            value = item[name]
            out.print(f"{name}: {str(value).lower() if isinstance(value, bool) else value}")


def _where(scope: str, user: str | None) -> dict[str, str]:
    return {"scope": scope, **({"user": user} if user else {})}


@key_app.command("set")
def key_set(
    name: Annotated[str, typer.Argument(help="Name of the value.")],
    value: Annotated[str, typer.Argument(help="The value (a string; serialise structures to JSON).")],
    encrypt: Annotated[bool, typer.Option("--encrypt", "-e", help="Store it encrypted, as a secret.")] = False,
    scope: ScopeOpt = "system",
    user: UserOpt = None,
    ttl: Annotated[int | None, typer.Option("--ttl", "-l", help="Seconds until it expires.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create or replace a value (secret values are shown masked)."""
    settings = settings_from()
    body: dict[str, Any] = {"name": name, "value": value, "scope": scope, "user": user, "secret": encrypt}
    if ttl is not None:
        body["ttl"] = ttl
    _show_pair(_call(settings, "PUT", f"/api/v1/keys/{name}", json=body).json(), as_json)


@key_app.command("get")
def key_get(
    name: Annotated[str, typer.Argument(help="Name of the value.")],
    decrypt: Annotated[bool, typer.Option("--decrypt", "-d", help="Show a secret in clear.")] = False,
    scope: ScopeOpt = "system",
    user: UserOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One value; exit 1 when there is none."""
    settings = settings_from()
    params = {**_where(scope, user), "decrypt": str(decrypt).lower()}
    _show_pair(_call(settings, "GET", f"/api/v1/keys/{name}", params=params).json(), as_json)


@key_app.command("list")
def key_list(
    prefix: Annotated[str, typer.Option("--prefix", "-p", help="Only names starting with this.")] = "",
    decrypt: Annotated[bool, typer.Option("--decrypt", "-d", help="Show secrets in clear.")] = False,
    scope: Annotated[str, typer.Option("--scope", "-s", help="system, user or all.")] = "all",
    user: UserOpt = None,
    last: Annotated[int, typer.Option("-n", "--last", help="How many (by name); -1 for all.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Values ordered by name: system ones, then the user's."""
    settings = settings_from()
    params: dict[str, Any] = {**_where(scope, user), "decrypt": str(decrypt).lower(), "limit": last}
    if prefix:
        params["prefix"] = prefix
    response = _call(settings, "GET", "/api/v1/keys", params=params)
    items = response.json()
    if as_json:
        print_json(items)
        return
    table = Table("name", "value", "secret", "scope", "user", "expire_timestamp")
    for item in items:
        table.add_row(
            item["name"],
            item["value"],
            str(item.get("secret", False)).lower(),
            item["scope"],
            item.get("user") or "",
            item.get("expire_timestamp") or "",
        )
    out.print(table)
    total = int(response.headers.get("X-Total-Count", len(items)))
    if total > len(items):
        err.print(f"Note: only the first {len(items)} of {total} values are shown; use -n for more.")


@key_app.command("delete")
def key_delete(
    name: Annotated[str, typer.Argument(help="Name of the value.")],
    scope: ScopeOpt = "system",
    user: UserOpt = None,
) -> None:
    """Delete a value; exit 1 when there is none."""
    settings = settings_from()
    _call(settings, "DELETE", f"/api/v1/keys/{name}", params=_where(scope, user))
    owner = f" of {user}" if user else ""
    out.print(f"deleted {name} ({'st2kv.user' if scope in ('user', 'st2kv.user') else 'st2kv.system'}{owner})")


# -- on the host: Redis and the key file --------------------------------------------------------------


@contextlib.contextmanager
def _datastore(settings: Settings) -> Iterator[Any]:
    """The datastore on Redis (``key load``); its errors end the command (1: not found, 2: anything else)."""
    from st2lite.datastore import KeyValueStore
    from st2lite.exceptions import KeyValueNotFoundError
    from st2lite.redisdb import connect, translate_errors
    from st2lite.services import redis_url_for

    url = _redis_url(settings, redis_url_for)
    try:
        with translate_errors(url):
            yield KeyValueStore.for_settings(connect(url), settings, actor="cli")
    except KeyValueNotFoundError as exc:
        fail(str(exc), 1)
    except St2liteError as exc:
        fail(str(exc), 2)


@key_app.command("load")
def key_load(
    file: Annotated[Path, typer.Argument(help="JSON or YAML list of {name, value, secret?, ttl?, scope?, user?}.")],
    convert: Annotated[
        bool, typer.Option("--convert", "-c", help="Store values that are not strings as JSON.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Set every value of a file, as 'st2 key load', straight into Redis; one bad entry loads nothing (exit 2)."""
    from st2lite.datastore_load import load_file

    settings = settings_from()
    with _datastore(settings) as store:
        items = load_file(store, file, convert=convert)
    if as_json:
        print_json([item.public() for item in items])
        return
    for item in items:
        out.print(f"{item.name}: {item.value} ({item.scope})")
    out.print(f"loaded {len(items)} values from {file}")


@key_app.command("generate-key")
def key_generate_key(
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing key (its secrets become unreadable).")
    ] = False,
) -> None:
    """Write a new key for datastore secrets to datastore_key_file (default <home>/keys/datastore.key), mode 0600."""
    from st2lite.encryption import generate_key_file

    settings = settings_from()
    try:
        path = generate_key_file(settings.datastore_key_path, force=force)
    except St2liteError as exc:
        fail(str(exc), 2)
    out.print(f"wrote a new datastore key to {path}; keep a copy somewhere safe: secrets cannot be read without it")
