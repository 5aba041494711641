"""``st2lite action``, ``runner``, ``rule`` (over the API), ``rule-enforcement`` and ``whoami``.

Every command here talks to the API (docs/api.md) with the CLI's credentials;
``rule test`` stays in :mod:`st2lite.cli` (it runs locally).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from st2lite.cli import JsonOpt, _call, _note_more, fail, out, print_json, rule_app, settings_from
from st2lite.exceptions import PackLoadError

__all__ = ["action_app", "rule_enforcement_app", "runner_app", "whoami"]

action_app = typer.Typer(help="List and inspect actions.", no_args_is_help=True)
runner_app = typer.Typer(help="List and inspect runner types.", no_args_is_help=True)
rule_enforcement_app = typer.Typer(help="List rule enforcements (a rule fired for a trigger).", no_args_is_help=True)

PackOpt = Annotated[str | None, typer.Option("-p", "--pack", help="Only this pack's.")]


def _yes(value: Any) -> Text:
    return Text("yes", style="green") if value else Text("no", style="dim")


def _show_fields(item: dict[str, Any], names: tuple[str, ...]) -> None:
    """``name: value`` lines; structures as indented JSON."""
    for name in names:
        value = item.get(name)
        if value in (None, "", [], {}):
            continue
        if isinstance(value, dict | list):
            out.print(f"{name}:")
            out.print(json.dumps(value, indent=2, default=str))
        else:
            out.print(f"{name}: {str(value).lower() if isinstance(value, bool) else value}")


# -- actions ----------------------------------------------------------------------------------------


@action_app.command("list")
def action_list(pack: PackOpt = None, as_json: JsonOpt = False) -> None:
    """The registered actions, by ref."""
    settings = settings_from()
    items = _call(settings, "GET", "/api/v1/actions", params={"pack": pack} if pack else {}).json()
    if as_json:
        print_json(items)
        return
    table = Table()
    table.add_column("ref", no_wrap=True)
    for name in ("runner", "enabled", "description"):
        table.add_column(name)
    for item in items:
        table.add_row(item["ref"], item.get("runner_type", ""), _yes(item.get("enabled")), item.get("description", ""))
    out.print(table)


@action_app.command("get")
def action_get(
    ref: Annotated[str, typer.Argument(help="Action reference, for example core.local.")],
    as_json: JsonOpt = False,
) -> None:
    """One action with its parameters."""
    settings = settings_from()
    action = _call(settings, "GET", f"/api/v1/actions/{ref}").json()
    if as_json:
        print_json(action)
        return
    _show_fields(action, ("ref", "pack", "description", "enabled", "runner_type", "entry_point", "tags"))
    parameters = action.get("parameters") or {}
    if parameters:
        table = Table("parameter", "type", "required", "default", "description", title="parameters")
        for name, spec in sorted(parameters.items()):
            default = spec.get("default")
            table.add_row(
                name,
                str(spec.get("type", "")),
                "yes" if spec.get("required") else "",
                "" if default is None else json.dumps(default),
                str(spec.get("description", "")),
            )
        out.print(table)


# -- runner types -----------------------------------------------------------------------------------


@runner_app.command("list")
def runner_list(as_json: JsonOpt = False) -> None:
    """The runner types actions can use."""
    settings = settings_from()
    items = _call(settings, "GET", "/api/v1/runnertypes").json()
    if as_json:
        print_json(items)
        return
    table = Table()
    table.add_column("name", no_wrap=True)
    table.add_column("enabled")
    table.add_column("description")
    for item in items:
        table.add_row(item["name"], _yes(item.get("enabled")), item.get("description", ""))
    out.print(table)


@runner_app.command("get")
def runner_get(
    name: Annotated[str, typer.Argument(help="Runner type name, for example local-shell-cmd.")],
    as_json: JsonOpt = False,
) -> None:
    """One runner type with its runner parameters."""
    settings = settings_from()
    runner = _call(settings, "GET", f"/api/v1/runnertypes/{name}").json()
    if as_json:
        print_json(runner)
        return
    _show_fields(runner, ("name", "description", "enabled", "runner_module", "output_key", "runner_parameters"))


# -- rules ------------------------------------------------------------------------------------------


@rule_app.command("list")
def rule_list(
    pack: PackOpt = None,
    enabled: Annotated[
        bool | None, typer.Option("--enabled/--disabled", help="Only enabled (or only disabled) rules.")
    ] = None,
    action: Annotated[str | None, typer.Option("--action", help="Only rules running this action.")] = None,
    trigger: Annotated[str | None, typer.Option("--trigger", help="Only rules on this trigger type.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The rules, by ref (from pack files and created through the API)."""
    settings = settings_from()
    params: dict[str, str] = {k: v for k, v in {"pack": pack, "action": action, "trigger": trigger}.items() if v}
    if enabled is not None:
        params["enabled"] = str(enabled)
    items = _call(settings, "GET", "/api/v1/rules", params=params).json()
    if as_json:
        print_json(items)
        return
    table = Table()
    table.add_column("ref", no_wrap=True)
    for name in ("enabled", "trigger", "action", "description"):
        table.add_column(name)
    for item in items:
        table.add_row(
            item["ref"],
            _yes(item.get("enabled")),
            (item.get("trigger") or {}).get("type", ""),
            (item.get("action") or {}).get("ref", ""),
            item.get("description", ""),
        )
    out.print(table)


def _show_rule(rule: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(rule)
        return
    _show_fields(rule, ("ref", "pack", "description", "enabled", "trigger", "criteria", "action", "tags"))
    source = rule.get("metadata_file") or "(created through the API)"
    out.print(f"source: {source}")


@rule_app.command("get")
def rule_get(
    ref: Annotated[str, typer.Argument(help="Rule reference, for example default.hello.")],
    as_json: JsonOpt = False,
) -> None:
    """One rule: trigger, criteria and action."""
    settings = settings_from()
    _show_rule(_call(settings, "GET", f"/api/v1/rules/{ref}").json(), as_json)


@rule_app.command("create")
def rule_create(
    rule_file: Annotated[Path, typer.Argument(help="Rule YAML (or JSON) file.")],
    as_json: JsonOpt = False,
) -> None:
    """Create a rule from a file through the API; exit 2 when it is invalid or its ref exists."""
    from st2lite.yamlfile import load_yaml

    settings = settings_from()
    try:
        data = load_yaml(rule_file).data
    except PackLoadError as exc:
        fail(str(exc), 2)
    if not isinstance(data, dict):
        kind = "nothing" if data is None else type(data).__name__
        fail(f"{rule_file}: a rule file holds one mapping (name, pack, trigger, action, ...), not {kind}", 2)
    rule = _call(settings, "POST", "/api/v1/rules", json=data).json()
    if as_json:
        print_json(rule)
    else:
        out.print(f"rule {rule['ref']} created ({'enabled' if rule.get('enabled') else 'disabled'})")


def _set_enabled(ref: str, enabled: bool, as_json: bool) -> None:
    settings = settings_from()
    rule = _call(settings, "GET", f"/api/v1/rules/{ref}").json()
    rule["enabled"] = enabled
    stored = _call(settings, "PUT", f"/api/v1/rules/{ref}", json=rule).json()
    if as_json:
        print_json(stored)
    else:
        out.print(f"rule {stored['ref']} {'enabled' if stored.get('enabled') else 'disabled'}")


@rule_app.command("enable")
def rule_enable(
    ref: Annotated[str, typer.Argument(help="Rule reference.")],
    as_json: JsonOpt = False,
) -> None:
    """Enable a rule (a pack file's rule stays enabled across registrations)."""
    _set_enabled(ref, True, as_json)


@rule_app.command("disable")
def rule_disable(
    ref: Annotated[str, typer.Argument(help="Rule reference.")],
    as_json: JsonOpt = False,
) -> None:
    """Disable a rule: it stops matching within a second."""
    _set_enabled(ref, False, as_json)


@rule_app.command("delete")
def rule_delete(ref: Annotated[str, typer.Argument(help="Rule reference.")]) -> None:
    """Delete a rule created through the API (a pack file's rule: delete the file, or disable it)."""
    settings = settings_from()
    _call(settings, "DELETE", f"/api/v1/rules/{ref}")
    out.print(f"rule {ref} deleted")


# -- rule enforcements ------------------------------------------------------------------------------


@rule_enforcement_app.command("list")
def rule_enforcement_list(
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule's.")] = None,
    last: Annotated[int, typer.Option("-n", "--last", help="How many (newest first).")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The newest rule enforcements: which rule fired for which trigger instance, and what it started."""
    settings = settings_from()
    params: dict[str, Any] = {"limit": last, **({"rule_ref": rule} if rule else {})}
    response = _call(settings, "GET", "/api/v1/ruleenforcements", params=params)
    items = response.json()
    if as_json:
        print_json(items)
        return
    table = Table()
    table.add_column("rule", no_wrap=True)
    table.add_column("trigger instance", no_wrap=True, min_width=24)
    table.add_column("execution", no_wrap=True, min_width=24)
    table.add_column("status", min_width=9)
    table.add_column("enforced at", no_wrap=True, min_width=27)
    table.add_column("reason")
    for item in items:
        status = item.get("status", "")
        table.add_row(
            (item.get("rule") or {}).get("ref", ""),
            item.get("trigger_instance_id", ""),
            item.get("execution_id") or "",
            Text(status, style="green" if status == "succeeded" else "red"),
            item.get("enforced_at", ""),
            item.get("failure_reason") or "",
        )
    out.print(table)
    _note_more(response, len(items), "rule enforcements")


# -- whoami -----------------------------------------------------------------------------------------


def whoami(as_json: JsonOpt = False) -> None:
    """Who the API takes you for: user, how you authenticated, role."""
    settings = settings_from()
    me = _call(settings, "GET", "/api/v1/user").json()
    if as_json:
        print_json(me)
        return
    authentication = me.get("authentication") or {}
    rbac = me.get("rbac") or {}
    out.print(f"user: {me.get('username')}")
    out.print(f"authenticated with: {authentication.get('method', '')}")
    if authentication.get("token_expire"):
        out.print(f"token expires: {authentication['token_expire']}")
    out.print(f"roles: {', '.join(rbac.get('roles') or [])}")
    out.print(f"admin: {'yes' if rbac.get('is_admin') else 'no'}")
    out.print(f"api: {settings.resolved_api_url}")
