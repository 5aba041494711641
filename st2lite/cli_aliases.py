"""``st2lite alias``: list, inspect, match and run action aliases over the API (docs/aliases.md)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from st2lite.cli import JsonOpt, _call, out, print_json, settings_from

__all__ = ["alias_app"]

alias_app = typer.Typer(help="List, match and run action aliases (ChatOps).", no_args_is_help=True)

PackOpt = Annotated[str | None, typer.Option("-p", "--pack", help="Only this pack's.")]
CommandArg = Annotated[str, typer.Argument(help='The command text, quoted: "restart nginx dry_run=true".')]


def _formats(alias: dict[str, Any]) -> list[str]:
    """Each format as shown: a string, or a ``{display}``'s display (else its representations)."""
    shown: list[str] = []
    for item in alias.get("formats") or []:
        if isinstance(item, str):
            shown.append(item)
        elif isinstance(item, dict):
            shown += [item["display"]] if item.get("display") else list(item.get("representation") or [])
    return shown


@alias_app.command("list")
def alias_list(pack: PackOpt = None, as_json: JsonOpt = False) -> None:
    """The registered action aliases, by ref, with the action they run and their formats."""
    settings = settings_from()
    items = _call(settings, "GET", "/api/v1/actionalias", params={"pack": pack} if pack else {}).json()
    if as_json:
        print_json(items)
        return
    table = Table()
    table.add_column("ref", no_wrap=True)
    for name in ("action", "enabled", "formats", "description"):
        table.add_column(name)
    for item in items:
        enabled = Text("yes", style="green") if item.get("enabled") else Text("no", style="dim")
        table.add_row(
            item["ref"],
            item.get("action_ref", ""),
            enabled,
            Text("\n".join(_formats(item))),
            Text(item.get("description", "")),
        )
    out.print(table)


@alias_app.command("get")
def alias_get(
    ref: Annotated[str, typer.Argument(help="Alias reference (pack.name), or a name one pack has.")],
    as_json: JsonOpt = False,
) -> None:
    """One action alias: its action, formats, ack and result."""
    settings = settings_from()
    alias = _call(settings, "GET", f"/api/v1/actionalias/{ref}").json()
    if as_json:
        print_json(alias)
        return
    for name in ("ref", "pack", "description", "action_ref"):
        if alias.get(name):
            out.print(f"{name}: {alias[name]}")
    out.print(f"enabled: {str(bool(alias.get('enabled'))).lower()}")
    out.print("formats:")
    for item in alias.get("formats") or []:
        if isinstance(item, str):
            out.print(f"  {item}", markup=False)
        else:
            out.print(f"  {item.get('display', '')}", markup=False)
            for text in item.get("representation") or []:
                out.print(f"    {text}", markup=False)
    for name in ("ack", "result", "immutable_parameters", "extra"):
        if alias.get(name):
            out.print(f"{name}:")
            out.print(json.dumps(alias[name], indent=2), markup=False)


@alias_app.command("match")
def alias_match(command: CommandArg, as_json: JsonOpt = False) -> None:
    """Which alias a command matches, by which format, and the parameters read from it (nothing runs).

    Exit 2 when it matches no alias or several.
    """
    settings = settings_from()
    found = _call(settings, "POST", "/api/v1/actionalias/match", json={"command": command}).json()
    if as_json:
        print_json(found)
        return
    alias = found["actionalias"]
    out.print(f"alias: {alias['ref']} (runs {alias.get('action_ref', '')})", markup=False)
    out.print(f"format: {found.get('representation', '')}", markup=False)
    if found.get("display") and found.get("display") != found.get("representation"):
        out.print(f"display: {found['display']}", markup=False)
    parameters = found.get("parameters") or {}
    if parameters:
        table = Table("parameter", "value", title="parameters")
        for name, value in parameters.items():
            table.add_row(name, value if isinstance(value, str) else json.dumps(value))
        out.print(table)
    else:
        out.print("parameters: (none)")


@alias_app.command("execute")
def alias_execute(
    command: CommandArg,
    user: Annotated[str, typer.Option("--user", help="The chat user it is run for (recorded).")] = "",
    channel: Annotated[str, typer.Option("--channel", help="The chat channel it came from (recorded).")] = "cli",
    route: Annotated[
        str, typer.Option("--route", help="Notify route: the alias's result is posted there when it ends.")
    ] = "",
    as_json: JsonOpt = False,
) -> None:
    """Run the action the command's alias names; prints the ack and the execution id.

    Exit 2 when the command matches no alias or several, or its parameters do not fit the action.
    """
    settings = settings_from()
    body = {"command": command, "user": user, "source_channel": channel, "notification_route": route}
    reply = _call(settings, "POST", "/api/v1/aliasexecution/match_and_execute", json=body).json()
    if as_json:
        print_json(reply)
        return
    for result in reply.get("results") or []:
        execution = result.get("execution") or {}
        if result.get("message"):
            out.print(result["message"], markup=False)
        out.print(f"alias: {(result.get('actionalias') or {}).get('ref', '')}", markup=False)
        out.print(f"execution: {execution.get('id', '')}")
        out.print(f"to see the result: st2lite execution get {execution.get('id', '')}", markup=False)
