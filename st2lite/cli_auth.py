"""``st2lite user``, ``st2lite auth`` and ``st2lite apikey``: users, logging in and API keys (docs/auth.md).

``user`` edits the users file on this host (like ``htpasswd``: no API, no
Redis); ``auth init`` creates the first admin and the CLI's key (``st2lite up``
runs it); ``auth login`` and ``apikey`` talk to the API.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from st2lite.cli import JsonOpt, _call, _redis_reachable, _redis_url, err, fail, out, print_json, settings_from
from st2lite.exceptions import St2liteError
from st2lite.permissions import Role

__all__ = ["apikey_app", "auth_app", "user_app"]

user_app = typer.Typer(help="Add, list and change the users who may log in (the users file).", no_args_is_help=True)
auth_app = typer.Typer(help="Create the first admin; log in for a token.", no_args_is_help=True)
apikey_app = typer.Typer(help="Create, list, enable, disable and delete API keys.", no_args_is_help=True)

RoleOpt = Annotated[Role, typer.Option("--role", "-r", help="admin, operator or viewer (docs/auth.md).")]
StdinOpt = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def _users() -> Any:
    from st2lite.users import UsersFile

    return UsersFile(settings_from().users_path)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="The user name.")],
    role: RoleOpt = Role.VIEWER,
    password_stdin: StdinOpt = False,
) -> None:
    """Add a user with a password (asked twice, or read from stdin) and a role (default viewer)."""
    users = _users()
    try:
        users.add(name, _password(password_stdin), role)
    except St2liteError as exc:
        fail(str(exc), 2)
    out.print(f"user {name} added with role {role.value} to {users.path}")


@user_app.command("passwd")
def user_passwd(name: Annotated[str, typer.Argument(help="The user name.")], password_stdin: StdinOpt = False) -> None:
    """Change a user's password (their tokens stay valid until they expire)."""
    users = _users()
    try:
        users.set_password(name, _password(password_stdin))
    except St2liteError as exc:
        fail(str(exc), 2)
    out.print(f"password of {name} changed")


@user_app.command("set-role")
def user_set_role(
    name: Annotated[str, typer.Argument(help="The user name.")],
    role: Annotated[Role, typer.Argument(help="admin, operator or viewer.")],
) -> None:
    """Change a user's role (their tokens and API keys follow within auth_cache_seconds)."""
    try:
        _users().set_role(name, role)
    except St2liteError as exc:
        fail(str(exc), 2)
    out.print(f"{name} is now {role.value}")


@user_app.command("remove")
def user_remove(name: Annotated[str, typer.Argument(help="The user name.")]) -> None:
    """Remove a user: their tokens stop working (within auth_cache_seconds); their API keys keep their own role."""
    try:
        _users().remove(name)
    except St2liteError as exc:
        fail(str(exc), 2)
    out.print(f"user {name} removed")


@user_app.command("list")
def user_list(as_json: JsonOpt = False) -> None:
    """The users and their roles (never the hashes)."""
    try:
        users = _users().users()
    except St2liteError as exc:
        fail(str(exc), 2)
    rows = [{"name": u.name, "role": u.role.value} for u in users.values()]
    if as_json:
        print_json(rows)
        return
    table = Table()
    table.add_column("name")
    table.add_column("role")
    for row in rows:
        table.add_row(row["name"], row["role"])
    out.print(table)


@auth_app.command("init")
def auth_init() -> None:
    """Create the first admin (st2admin) and the CLI's API key when missing; print them once."""
    from st2lite.credentials import ensure_admin
    from st2lite.redisdb import connect, translate_errors
    from st2lite.services import redis_url_for

    settings = settings_from()
    if not settings.auth_enabled:
        err.print("auth is off (auth_enabled: false): nothing to create")
        return
    url = _redis_url(settings, redis_url_for)
    with _redis_reachable(url):
        try:
            with translate_errors(url):
                made = ensure_admin(settings, connect(url))
        except St2liteError as exc:
            fail(str(exc), 2)
    if made is None:
        return
    if made.password is not None:
        err.print(
            f"Created user {made.user} (admin) with password: {made.password}\n"
            f"  It is shown only now. Change it with 'st2lite user passwd {made.user}'."
        )
    if made.api_key is not None:
        err.print(
            f"Created an admin API key for {made.user}, saved in {made.credentials_path} (the st2lite CLI reads it):\n"
            f"  {made.api_key}\n"
            "  For the st2 CLI: export ST2_API_KEY=<that key> (docs/st2-cli.md)."
        )


@auth_app.command("login")
def auth_login(
    user: Annotated[str, typer.Argument(help="The user name.")],
    password_stdin: StdinOpt = False,
    ttl: Annotated[int | None, typer.Option("--ttl", "-l", help="Seconds the token lasts.")] = None,
) -> None:
    """Get a token (POST /auth/v1/tokens) and print it, for ST2LITE_AUTH_TOKEN or X-Auth-Token."""
    settings = settings_from()
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else typer.prompt("Password", hide_input=True)
    body = {"ttl": ttl} if ttl else {}
    token = _call(settings, "POST", "/auth/v1/tokens", json=body, auth=(user, password), anonymous=True).json()
    out.print(token["token"])
    err.print(f"valid until {token['expiry']}")


@apikey_app.command("create")
def apikey_create(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Owner (default: you).")] = None,
    role: Annotated[Role | None, typer.Option("--role", "-r", help="Default: the owner's role.")] = None,
    metadata: Annotated[str | None, typer.Option("--metadata", "-m", help="JSON object to keep with it.")] = None,
    only_key: Annotated[bool, typer.Option("--only-key", "-k", help="Print only the key.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key; the key is printed now and never again."""
    import json

    settings = settings_from()
    body: dict[str, Any] = {}
    if user:
        body["user"] = user
    if role:
        body["role"] = role.value
    if metadata:
        try:
            body["metadata"] = json.loads(metadata)
        except ValueError as exc:
            fail(f"--metadata is not JSON: {exc}", 2)
    key = _call(settings, "POST", "/api/v1/apikeys", json=body).json()
    if only_key:
        out.print(key["key"])
    elif as_json:
        print_json(key)
    else:
        out.print(f"id: {key['id']}\nuser: {key['user']}\nrole: {key['role']}\nkey: {key['key']}")


@apikey_app.command("list")
def apikey_list(as_json: JsonOpt = False) -> None:
    """Every API key (id, owner, role, enabled; never the key)."""
    settings = settings_from()
    items = _call(settings, "GET", "/api/v1/apikeys").json()
    if as_json:
        print_json(items)
        return
    table = Table()
    for column in ("id", "user", "role", "enabled", "created_at", "metadata"):
        table.add_column(column)
    for item in items:
        table.add_row(
            item["id"], item["user"], item["role"], str(item["enabled"]), item["created_at"], str(item["metadata"])
        )
    out.print(table)


def _set_enabled(key_id: str, enabled: bool) -> None:
    settings = settings_from()
    key = _call(settings, "PUT", f"/api/v1/apikeys/{key_id}", json={"enabled": enabled}).json()
    out.print(f"API key {key['id']} {'enabled' if key['enabled'] else 'disabled'}")


@apikey_app.command("enable")
def apikey_enable(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Enable an API key."""
    _set_enabled(key_id, True)


@apikey_app.command("disable")
def apikey_disable(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Disable an API key (requests with it get 401 within auth_cache_seconds)."""
    _set_enabled(key_id, False)


@apikey_app.command("delete")
def apikey_delete(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Delete an API key."""
    settings = settings_from()
    _call(settings, "DELETE", f"/api/v1/apikeys/{key_id}")
    out.print(f"API key {key_id} deleted")
