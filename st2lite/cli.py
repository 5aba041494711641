"""The ``st2lite`` command line.

Services: ``up`` (everything on one host), ``api``, ``rules``, ``worker``, ``sensors``.
Operations talk to the API (``--url``, ``--api-key``, ``--token`` or the
``ST2LITE_*`` settings); operator tools on the host talk to Redis (``pack
register``, ``audit``, ``key load``); content checks run locally (``pack
validate``, ``rule test``). Every read command takes ``--json``. Exit codes:
0 ok, 1 not found, refused (401/403) or failed, 2 invalid input (docs/cli.md).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from st2lite.config import Settings, load_settings
from st2lite.exceptions import PackLoadError, St2liteError
from st2lite.version import __version__

__all__ = ["app", "main"]

app = typer.Typer(
    name="st2lite",
    help="Event-driven automation in the style of StackStorm, on Redis alone.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
execution_app = typer.Typer(help="List and inspect executions.", no_args_is_help=True)
trigger_app = typer.Typer(help="List trigger types and send trigger instances.", no_args_is_help=True)
trigger_instance_app = typer.Typer(help="List, inspect and re-emit trigger instances.", no_args_is_help=True)
rule_app = typer.Typer(help="List, create, enable, disable, delete and test rules.", no_args_is_help=True)
pack_app = typer.Typer(help="Validate, register and list packs.", no_args_is_help=True)
audit_app = typer.Typer(help="Read the audit log.", no_args_is_help=True)
inquiry_app = typer.Typer(help="List, inspect and answer inquiries (core.ask).", no_args_is_help=True)
sensor_app = typer.Typer(help="List sensors and their state.", no_args_is_help=True)
timer_app = typer.Typer(help="List the timers rules create, with their next and last ticks.", no_args_is_help=True)
app.add_typer(execution_app, name="execution")
app.add_typer(trigger_app, name="trigger")
app.add_typer(trigger_instance_app, name="trigger-instance")
app.add_typer(rule_app, name="rule")
app.add_typer(pack_app, name="pack")
app.add_typer(audit_app, name="audit")
app.add_typer(inquiry_app, name="inquiry")
app.add_typer(sensor_app, name="sensor")
app.add_typer(timer_app, name="timer")

# markup=False: action output and messages are printed as they are ("[x]" is data, not a style).
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]

#: Statuses after which an execution no longer changes on its own.
FINAL = {"succeeded", "failed", "timeout", "abandoned", "canceled", "pending", "paused"}


#: Settings the root command's options override for this invocation (``--url``, ``--api-key``, ``--token``).
_global_overrides: dict[str, Any] = {}

#: API answers that mean the input was invalid (exit 2); every other error answer exits 1.
INVALID_INPUT = frozenset({400, 409, 413, 422})


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(Text("error: ", style="red") + Text(message))
    raise typer.Exit(code)


def settings_from(**overrides: Any) -> Settings:
    try:
        settings = load_settings(**{**_global_overrides, **overrides})
    except St2liteError as exc:
        fail(str(exc), 2)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise on a terminal
    return settings


def print_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


# -- services ---------------------------------------------------------------------------------------


@app.command()
def up(
    home: Annotated[Path | None, typer.Option(help="State folder (ST2LITE_HOME).")] = None,
    api_port: Annotated[int | None, typer.Option(help="API port (ST2LITE_API_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (ST2LITE_WORKERS).")] = None,
) -> None:
    """Start Redis (embedded unless ST2LITE_REDIS_URL is set), the API, the rules engine and workers."""
    settings_from(home=home, api_port=api_port, workers=workers)  # fail here, with the CLI's message
    env = dict(os.environ)
    for name, value in (("HOME", home), ("API_PORT", api_port), ("WORKERS", workers)):
        if value is not None:
            env[f"ST2LITE_{name}"] = str(value)
    # Replace this process with a lean supervisor: the CLI's imports would stay resident for ever.
    os.execve(sys.executable, [sys.executable, "-m", "st2lite.supervisor"], env)


@app.command()
def api() -> None:
    """Run the API alone (needs ST2LITE_REDIS_URL or a running 'st2lite up')."""
    from st2lite.services import redis_url_for, run_api

    settings = settings_from()
    run_api(settings, _redis_url(settings, redis_url_for))


@app.command()
def rules() -> None:
    """Run the rules engine and scheduler alone (scale by running more)."""
    from st2lite.services import redis_url_for, run_rules

    settings = settings_from()
    run_rules(settings, _redis_url(settings, redis_url_for))


@app.command()
def worker(
    burst: Annotated[bool, typer.Option(help="Stop when the queue is empty.")] = False,
) -> None:
    """Run one worker (scale by running more, on any host that reaches Redis)."""
    from st2lite.services import redis_url_for
    from st2lite.worker import serve

    settings = settings_from()
    serve(settings, _redis_url(settings, redis_url_for), burst=burst)


@app.command()
def sensors() -> None:
    """Run a sensor container (run several, on any hosts: each sensor runs in exactly one)."""
    from st2lite.services import redis_url_for, run_sensors

    settings = settings_from()
    run_sensors(settings, _redis_url(settings, redis_url_for))


def _redis_url(settings: Settings, resolve: Any) -> str:
    try:
        return str(resolve(settings))
    except St2liteError as exc:
        fail(str(exc), 2)


@contextlib.contextmanager
def _redis_reachable(url: str) -> Iterator[None]:
    """Turn a Redis that cannot be reached into one line saying what to do (exit code 2), not a traceback."""
    from st2lite.redisdb import UNAVAILABLE

    try:
        yield
    except UNAVAILABLE as exc:
        fail(f"cannot reach Redis at {url}: {exc}; start it (st2lite up starts one) or fix ST2LITE_REDIS_URL", 2)


# -- API client helpers -----------------------------------------------------------------------------


def _auth_headers(settings: Settings) -> dict[str, str]:
    """The credential the CLI sends: ST2LITE_AUTH_TOKEN, else ST2LITE_API_KEY, else the key in <home>/credentials."""
    from st2lite.credentials import read_api_key

    token = settings.auth_token.get_secret_value()
    if token:
        return {"X-Auth-Token": token}
    try:
        key = settings.api_key.get_secret_value() or read_api_key(settings.credentials_path)
    except St2liteError as exc:
        fail(str(exc), 2)
    return {"St2-Api-Key": key} if key else {}


def _client(settings: Settings, *, anonymous: bool = False) -> httpx.Client:
    headers = {} if anonymous else _auth_headers(settings)
    return httpx.Client(base_url=settings.resolved_api_url, timeout=30.0, headers=headers)


def _call(settings: Settings, method: str, path: str, *, anonymous: bool = False, **kwargs: Any) -> httpx.Response:
    try:
        with _client(settings, anonymous=anonymous) as client:
            response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the st2lite API at {settings.resolved_api_url}: {exc}; is 'st2lite up' running?")
    if response.status_code >= 400:
        _call_failed(response)
    return response


def _note_more(response: httpx.Response, shown: int, noun: str) -> None:
    """Say on stderr when the list shown is not all that matched (``X-Total-Count``)."""
    total = int(response.headers.get("X-Total-Count", shown))
    if total > shown:
        err.print(f"Note: only the newest {shown} of {total} {noun} are shown; use -n for more.")


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq or not name:
            fail(f"'{pair}' is not a parameter; write name=value, for example cmd=date", 2)
        params[name] = value
    return params


# -- run, executions --------------------------------------------------------------------------------


@app.command()
def run(
    action: Annotated[str, typer.Argument(help="Action reference, for example core.local.")],
    parameters: Annotated[list[str] | None, typer.Argument(help="Parameters as name=value.")] = None,
    run_async: Annotated[bool, typer.Option("--async", help="Do not wait for the result.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run an action and wait for it; the exit code is 0 when it succeeded."""
    settings = settings_from()
    params = _parse_params(parameters or [])
    created = _call(settings, "POST", "/api/v1/executions", json={"action": action, "parameters": params}).json()
    _finish_run(settings, created, run_async=run_async, as_json=as_json)


def _finish_run(settings: Settings, execution: dict[str, Any], *, run_async: bool, as_json: bool) -> None:
    """Wait for ``execution`` unless ``run_async``, show it, exit 0 when it succeeded (or still runs)."""
    if not run_async:
        from st2lite.cli_wait import wait_execution

        execution = wait_execution(settings, execution, spinner=not as_json and err.is_terminal)
    _show_execution(execution, as_json)
    raise typer.Exit(0 if execution["status"] in ("succeeded", "requested", "scheduled", "running") else 1)


def _show_execution(execution: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(execution)
        return
    out.print(f"id: {execution['id']}")
    out.print(f"action.ref: {execution.get('action', {}).get('ref')}")
    out.print(Text("status: ") + _status(execution))
    for name in ("start_timestamp", "end_timestamp"):
        if execution.get(name):
            out.print(f"{name}: {execution[name]}")
    if execution.get("parameters"):
        out.print("parameters:")
        out.print(json.dumps(execution["parameters"], indent=2))
    if execution.get("result") is not None:
        out.print("result:")
        out.print(json.dumps(execution["result"], indent=2, default=str))


def _status(execution: dict[str, Any]) -> Text:
    status = str(execution.get("status"))
    elapsed = execution.get("elapsed_seconds")
    colour = {"succeeded": "green", "failed": "red", "timeout": "red", "abandoned": "red"}.get(status, "yellow")
    text = Text(status, style=colour)
    return text + Text(f" ({elapsed:.1f}s elapsed)") if isinstance(elapsed, int | float) else text


@execution_app.command("list")
def execution_list(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action.")] = None,
    rule: Annotated[str | None, typer.Option(help="Only executions started by this rule.")] = None,
    last: Annotated[int, typer.Option("-n", "--last", help="How many (newest first).")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The newest executions."""
    settings = settings_from()
    query = {k: v for k, v in {"status": status, "action": action, "rule": rule}.items() if v}
    response = _call(settings, "GET", "/api/v1/executions", params={**query, "limit": last})
    items = response.json()
    if as_json:
        print_json(items)
        return
    table = Table()
    table.add_column("id", no_wrap=True, min_width=24)  # ids are copied from here: never cut them
    for name in ("action", "status", "rule", "started", "elapsed"):
        table.add_column(name)
    for item in items:
        elapsed = item.get("elapsed_seconds")
        table.add_row(
            item["id"],
            item.get("action", {}).get("ref", ""),
            item.get("status", ""),
            (item.get("rule") or {}).get("ref", ""),
            item.get("start_timestamp", ""),
            f"{elapsed:.2f}s" if isinstance(elapsed, int | float) else "",
        )
    out.print(table)
    _note_more(response, len(items), "executions")


@execution_app.command("get")
def execution_get(
    execution_id: Annotated[str, typer.Argument(help="Execution id.")],
    as_json: JsonOpt = False,
) -> None:
    """One execution with its parameters, result and status log."""
    settings = settings_from()
    execution = _call(settings, "GET", f"/api/v1/executions/{execution_id}").json()
    _show_execution(execution, as_json)
    if not as_json and execution.get("log"):
        out.print("log:")
        for entry in execution["log"]:
            out.print(f"  {entry['timestamp']} {entry['status']}")


@execution_app.command("cancel")
def execution_cancel(
    execution_ids: Annotated[list[str], typer.Argument(help="Execution ids.")],
    as_json: JsonOpt = False,
) -> None:
    """Cancel executions: not started ones at once, running ones once their action is stopped."""
    settings = settings_from()
    answers = []
    for execution_id in execution_ids:
        body = _call(settings, "DELETE", f"/api/v1/executions/{execution_id}").json()
        answers.append(body)
        if not as_json:
            if "faultstring" in body:
                out.print(f"execution {execution_id}: {body['faultstring']}")
            else:
                out.print(f"execution {execution_id}: {body['status']}")
    if as_json:
        print_json(answers)


@execution_app.command("pause")
def execution_pause(execution_id: Annotated[str, typer.Argument(help="A running chain's id.")]) -> None:
    """Pause a chain: its running tasks end, no new task starts until it is resumed."""
    settings = settings_from()
    body = _call(settings, "PUT", f"/api/v1/executions/{execution_id}", json={"status": "pausing"}).json()
    out.print(f"execution {execution_id}: {body['status']}")


@execution_app.command("resume")
def execution_resume(execution_id: Annotated[str, typer.Argument(help="A paused chain's id.")]) -> None:
    """Resume a paused chain."""
    settings = settings_from()
    body = _call(settings, "PUT", f"/api/v1/executions/{execution_id}", json={"status": "resuming"}).json()
    out.print(f"execution {execution_id}: {body['status']}")


@execution_app.command("re-run")
def execution_re_run(
    execution_id: Annotated[str, typer.Argument(help="Execution id.")],
    parameters: Annotated[list[str] | None, typer.Argument(help="Parameters to change, as name=value.")] = None,
    tasks: Annotated[list[str] | None, typer.Option("--tasks", help="A chain: start at this task.")] = None,
    from_failed: Annotated[
        bool, typer.Option("--from-failed", help="A chain: start at its first task that did not succeed.")
    ] = False,
    run_async: Annotated[bool, typer.Option("--async", help="Do not wait for the result.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run an execution's action again; a chain can start again at a task, keeping what ran before it."""
    settings = settings_from()
    start = list(tasks or [])
    if from_failed:
        if start:
            fail("give either --tasks or --from-failed, not both", 2)
        original = _call(settings, "GET", f"/api/v1/executions/{execution_id}").json()
        records = (original.get("result") or {}).get("tasks") if isinstance(original.get("result"), dict) else None
        failed = [t["name"] for t in records or [] if t.get("state") != "succeeded"]
        if not failed:
            fail(f"execution {execution_id} has no task that did not succeed; re-run it whole without --from-failed", 2)
        start = failed[:1]
    body = {"parameters": _parse_params(parameters or []), "tasks": start}
    created = _call(settings, "POST", f"/api/v1/executions/{execution_id}/re_run", json=body).json()
    _finish_run(settings, created, run_async=run_async, as_json=as_json)


#: Exit code of ``execution tail`` by final status: 0 succeeded, 1 for the other completed statuses.
TAIL_EXIT = {"succeeded": 0, "failed": 1, "timeout": 1, "abandoned": 1, "canceled": 1}


@execution_app.command("tail")
def execution_tail(
    execution_id: Annotated[str, typer.Argument(help="Execution id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print each event as one JSON line.")] = False,
) -> None:
    """Print an execution's output as the action writes it, until it ends; exit 0 when it succeeded, else 1.

    A finished execution's stored output is printed at once. The action's stdout goes to stdout, its stderr
    to stderr, and the final status line to stderr.
    """
    settings = settings_from()
    _call(settings, "GET", f"/api/v1/executions/{execution_id}")  # unknown id: its message and exit 1
    _follow_output(settings, execution_id, as_json)
    execution = _call(settings, "GET", f"/api/v1/executions/{execution_id}").json()
    status = str(execution.get("status"))
    if as_json:
        sys.stdout.write(json.dumps(execution, default=str) + "\n")  # JSON lines, as the events before it
    else:
        err.print(f"Execution {execution_id} has completed (status={status}).")
    raise typer.Exit(TAIL_EXIT.get(status, 1))


def _follow_output(settings: Settings, execution_id: str, as_json: bool, *, attempts: int = 5) -> None:
    """Print ``/stream/v1/executions/{id}/output`` until its ``EOF``; reconnect after the last line when cut."""
    from st2lite.sse import parse_events

    last_id = ""
    for attempt in range(attempts):
        headers = {"Last-Event-ID": last_id} if last_id else {}
        try:
            with (
                _client(settings) as client,
                client.stream(
                    "GET",
                    f"/stream/v1/executions/{execution_id}/output",
                    headers=headers,
                    timeout=httpx.Timeout(30.0, read=90.0),  # the server sends a heartbeat well within this
                ) as response,
            ):
                if response.status_code >= 400:
                    response.read()
                    _call_failed(response)
                for event in parse_events(response.iter_lines()):
                    if event.event == "EOF":
                        return
                    if event.id:
                        last_id = event.id
                    _print_output_event(event.data, as_json)
        except httpx.HTTPError as exc:
            if attempt == attempts - 1:
                fail(f"lost the output stream of {execution_id} at {settings.resolved_api_url}: {exc}")
            time.sleep(1.0)
            continue
        # The stream ended without EOF (the API stopped): resume after the last line.
        time.sleep(0.5)
    fail(f"the output stream of {execution_id} kept closing before the execution ended; try again")


def _print_output_event(data: str, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(data + "\n")
        sys.stdout.flush()
        return
    line = json.loads(data)
    target = sys.stderr if line.get("output_type") == "stderr" else sys.stdout
    target.write(str(line.get("data", "")))
    target.flush()


def _call_failed(response: httpx.Response) -> NoReturn:
    """End the command with the API's ``faultstring``: exit 2 for invalid input (400, 409, 413, 422), else 1."""
    try:
        body = response.json()
        message = (body.get("faultstring") if isinstance(body, dict) else None) or response.text
    except ValueError:
        message = response.text
    fail(f"{message} (HTTP {response.status_code})", 2 if response.status_code in INVALID_INPUT else 1)


# -- triggers ---------------------------------------------------------------------------------------


@trigger_app.command("send")
def trigger_send(
    trigger: Annotated[str, typer.Argument(help="Trigger type reference, for example core.st2.webhook.")],
    payload: Annotated[str, typer.Option(help="Payload as a JSON object.")] = "{}",
    trace_tag: Annotated[str, typer.Option(help="Trace tag.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Send one trigger instance to the rules engine (through the API)."""
    settings = settings_from()
    try:
        data = json.loads(payload)
    except ValueError as exc:
        fail(f"--payload is not valid JSON: {exc}", 2)
    body = {"trigger": trigger, "payload": data, "trace_tag": trace_tag}
    instance = _call(settings, "POST", "/api/v1/webhooks/st2", json=body).json()
    if as_json:
        print_json(instance)
    else:
        out.print(f"trigger instance {instance['id']} sent ({trigger})")


@trigger_app.command("list")
def trigger_list(
    pack: Annotated[str | None, typer.Option("-p", "--pack", help="Only this pack's.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The registered trigger types (built-in and packs')."""
    settings = settings_from()
    items = _call(settings, "GET", "/api/v1/triggertypes", params={"pack": pack} if pack else {}).json()
    if as_json:
        print_json(items)
        return
    table = Table()
    for name in ("ref", "pack", "description"):
        table.add_column(name, no_wrap=name == "ref")
    for item in items:
        table.add_row(item["ref"], item.get("pack", ""), item.get("description", ""))
    out.print(table)


@trigger_instance_app.command("list")
def trigger_instance_list(
    trigger: Annotated[str | None, typer.Option(help="Only instances of this trigger type.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    last: Annotated[int, typer.Option("-n", "--last", help="How many (newest first).")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The newest processed trigger instances."""
    settings = settings_from()
    query = {k: v for k, v in {"trigger": trigger, "status": status}.items() if v}
    response = _call(settings, "GET", "/api/v1/triggerinstances", params={**query, "limit": last})
    items = response.json()
    if as_json:
        print_json(items)
        return
    table = Table()
    table.add_column("id", no_wrap=True, min_width=24)
    for name in ("trigger", "occurrence_time", "status", "enforcements"):
        table.add_column(name)
    for item in items:
        fired = ", ".join(e.get("rule", "") for e in item.get("enforcements", []))
        table.add_row(item["id"], item["trigger"], item.get("occurrence_time", ""), item.get("status", ""), fired)
    out.print(table)
    _note_more(response, len(items), "trigger instances")


@trigger_instance_app.command("get")
def trigger_instance_get(
    instance_id: Annotated[str, typer.Argument(help="Trigger instance id.")],
    as_json: JsonOpt = False,
) -> None:
    """One trigger instance with its payload and the rules it fired."""
    settings = settings_from()
    instance = _call(settings, "GET", f"/api/v1/triggerinstances/{instance_id}").json()
    if as_json:
        print_json(instance)
        return
    for name in ("id", "trigger", "occurrence_time", "status", "trace_tag", "source"):
        if instance.get(name):
            out.print(f"{name}: {instance[name]}")
    out.print(f"parameters: {json.dumps(instance.get('parameters', {}))}")
    out.print(f"payload: {json.dumps(instance.get('payload', {}))}")
    for enforcement in instance.get("enforcements", []):
        reason = enforcement.get("failure_reason") or enforcement.get("execution") or ""
        out.print(f"rule {enforcement['rule']}: {enforcement['status']} {reason}")


@trigger_instance_app.command("re-emit")
def trigger_instance_re_emit(
    instance_id: Annotated[str, typer.Argument(help="Trigger instance id.")],
    as_json: JsonOpt = False,
) -> None:
    """Send a trigger instance again: same trigger, parameters and payload, as a new instance."""
    settings = settings_from()
    instance = _call(settings, "POST", f"/api/v1/triggerinstances/{instance_id}/re_emit").json()
    if as_json:
        print_json(instance)
    else:
        out.print(f"trigger instance {instance['id']} sent (re-emits {instance_id})")


# -- rules ------------------------------------------------------------------------------------------


@rule_app.command("test")
def rule_test(
    rule_file: Annotated[Path, typer.Argument(help="Rule YAML file.")],
    trigger_instance: Annotated[
        Path, typer.Option("--trigger-instance", help='JSON file {"trigger": ..., "payload": {...}}.')
    ],
    as_json: JsonOpt = False,
) -> None:
    """Test a rule against a trigger instance: exit 0 matched, 1 not matched, 2 invalid input."""
    from st2lite.rule_testing import RuleTestInputError, test_rule

    settings = settings_from()
    try:
        verdict = test_rule(rule_file, trigger_instance, settings=settings)
    except (RuleTestInputError, PackLoadError) as exc:
        fail(str(exc), 2)
    if as_json:
        print_json(verdict.public())
    else:
        for line in verdict.explain_lines():
            out.print(line)
    raise typer.Exit(0 if verdict.matched else 1)


# -- packs ------------------------------------------------------------------------------------------

PathsArg = Annotated[
    list[Path] | None, typer.Argument(help="Packs, folders of packs (default: ST2LITE_PACKS_PATH and the site folder).")
]


@pack_app.command("validate")
def pack_validate(paths: PathsArg = None, as_json: JsonOpt = False) -> None:
    """Check packs and report every problem with file, line and field; exit 1 if there is any."""
    from st2lite.registration import load_from_disk

    settings = settings_from()
    try:
        report = load_from_disk(settings, paths or [])
    except PackLoadError as exc:
        fail(str(exc), 2)
    content = report.content
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "problems": [p.model_dump() for p in report.problems],
                "packs": sorted(content.packs),
                "actions": len(content.actions),
                "rules": len(content.rules),
            }
        )
    else:
        for problem in report.problems:
            out.print(Text(str(problem), style="red"))
        out.print(
            f"{len(content.packs)} packs, {len(content.actions)} actions, {len(content.rules)} rules valid; "
            f"{len(report.problems)} problems"
        )
    raise typer.Exit(0 if report.ok else 1)


@pack_app.command("register")
def pack_register(paths: PathsArg = None, as_json: JsonOpt = False) -> None:
    """Register packs into the registry (running processes pick them up); problems are reported, good content kept."""
    from st2lite.redisdb import connect
    from st2lite.registration import register_from_disk
    from st2lite.services import redis_url_for

    settings = settings_from()
    url = _redis_url(settings, redis_url_for)
    try:
        with _redis_reachable(url):
            report, version = register_from_disk(settings, connect(url), paths or [], actor="cli")
    except (PackLoadError, St2liteError) as exc:
        fail(str(exc), 2)
    content = report.content
    if as_json:
        print_json(
            {"version": version, "packs": sorted(content.packs), "problems": [p.model_dump() for p in report.problems]}
        )
    else:
        for problem in report.problems:
            err.print(Text(str(problem), style="red"))
        out.print(
            f"registered {', '.join(sorted(content.packs))}: {len(content.actions)} actions, "
            f"{len(content.rules)} rules (registry version {version})"
        )
    raise typer.Exit(0 if report.ok else 1)


@pack_app.command("list")
def pack_list(as_json: JsonOpt = False) -> None:
    """The registered packs, with how many actions and rules each has (through the API)."""
    settings = settings_from()
    packs = _call(settings, "GET", "/api/v1/packs").json()
    attrs = {"include_attributes": "pack"}
    actions = _call(settings, "GET", "/api/v1/actions", params=attrs).json()
    rules_ = _call(settings, "GET", "/api/v1/rules", params=attrs).json()
    rows = [
        {
            "ref": pack["ref"],
            "version": pack.get("version", ""),
            "description": pack.get("description", ""),
            "actions": sum(1 for a in actions if a.get("pack") == pack["ref"]),
            "rules": sum(1 for r in rules_ if r.get("pack") == pack["ref"]),
        }
        for pack in sorted(packs, key=lambda p: str(p["ref"]))
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("pack", "version", "actions", "rules", "description")
    for row in rows:
        table.add_row(*(str(row[k]) for k in ("ref", "version", "actions", "rules", "description")))
    out.print(table)


# -- audit ------------------------------------------------------------------------------------------


def _audit_log(settings: Settings) -> Any:
    from st2lite.audit import AuditLog
    from st2lite.redisdb import connect
    from st2lite.services import redis_url_for

    return AuditLog(connect(_redis_url(settings, redis_url_for)), maxlen=settings.audit_stream_maxlen)


@audit_app.command("tail")
def audit_tail(
    last: Annotated[int, typer.Option("-n", "--last", help="Show this many past events first.")] = 20,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", "-f", help="Keep printing new events.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Print the newest audit events, then new ones as they happen."""
    settings = settings_from()
    audit = _audit_log(settings)
    events = audit.last(last)
    for event in events:
        _print_event(event, as_json)
    if follow:
        try:
            for event in audit.follow(last_id=events[-1].id if events else "$"):
                _print_event(event, as_json)
        except KeyboardInterrupt:
            return


def _print_event(event: Any, as_json: bool) -> None:
    if as_json:
        out.print(event.model_dump_json(exclude_none=True))
        return
    subject = " ".join(
        f"{name}={value}"
        for name in ("trigger", "trigger_instance", "rule", "execution", "action", "status")
        if (value := getattr(event, name))
    )
    data = json.dumps(event.data, default=str) if event.data else ""
    out.print(f"{event.at} {event.kind} by {event.actor} {subject} {event.message or ''} {data}".rstrip())


@audit_app.command("export")
def audit_export(
    since: Annotated[str, typer.Option(help="First stream id or '-' for the oldest.")] = "-",
    until: Annotated[str, typer.Option(help="Last stream id or '+' for the newest.")] = "+",
) -> None:
    """Write the audit log as JSON lines to stdout."""
    settings = settings_from()
    for event in _audit_log(settings).export(start=since, end=until):
        sys.stdout.write(event.model_dump_json(exclude_none=True) + "\n")


# -- inquiries --------------------------------------------------------------------------------------


@inquiry_app.command("list")
def inquiry_list(
    last: Annotated[int, typer.Option("-n", "--last", help="How many (newest first).")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The inquiries waiting for an answer, newest first."""
    settings = settings_from()
    items = _call(settings, "GET", "/api/v1/inquiries", params={"limit": last}).json()
    if as_json:
        print_json(items)
        return
    table = Table()
    table.add_column("id", no_wrap=True, min_width=24)
    for name in ("route", "users", "roles", "ttl"):
        table.add_column(name)
    for item in items:
        users, roles = ", ".join(item.get("users", [])), ", ".join(item.get("roles", []))
        table.add_row(item["id"], item.get("route", ""), users, roles, str(item.get("ttl", "")))
    out.print(table)


@inquiry_app.command("get")
def inquiry_get(
    inquiry_id: Annotated[str, typer.Argument(help="Inquiry id (the id of the execution that asks).")],
    as_json: JsonOpt = False,
) -> None:
    """One inquiry: who may answer, until when, and the schema the response must match."""
    settings = settings_from()
    inquiry = _call(settings, "GET", f"/api/v1/inquiries/{inquiry_id}").json()
    if as_json:
        print_json(inquiry)
        return
    for name in ("id", "route", "ttl"):
        out.print(f"{name}: {inquiry.get(name)}")
    out.print(f"users: {', '.join(inquiry.get('users', [])) or '(anyone)'}")
    out.print(f"roles: {', '.join(inquiry.get('roles', []))}")
    out.print("schema:")
    out.print(json.dumps(inquiry.get("schema"), indent=2))


@inquiry_app.command("respond")
def inquiry_respond(
    inquiry_id: Annotated[str, typer.Argument(help="Inquiry id.")],
    fields: Annotated[
        list[str] | None, typer.Argument(help="Response fields as name=value (value read as JSON when it is JSON).")
    ] = None,
    response: Annotated[str | None, typer.Option("-r", "--response", help="The whole response as JSON.")] = None,
    user: Annotated[
        str | None,
        typer.Option("-u", "--user", help="Answer as this user (default: you; others need user_impersonate)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer an inquiry: -r '{"continue": true}' or continue=true."""
    settings = settings_from()
    if response is not None and fields:
        fail("give the response either with -r JSON or as name=value fields, not both", 2)
    if response is not None:
        try:
            data = json.loads(response)
        except ValueError as exc:
            fail(f"-r is not valid JSON: {exc}", 2)
    elif fields:
        data = {name: _json_or_text(value) for name, value in _parse_params(fields).items()}
    else:
        fail("give the response: -r '{\"continue\": true}' or name=value fields", 2)
    body: dict[str, Any] = {"id": inquiry_id, "response": data}
    if user:
        body["user"] = user
    answered = _call(settings, "PUT", f"/api/v1/inquiries/{inquiry_id}", json=body).json()
    if as_json:
        print_json(answered)
    else:
        out.print(f"inquiry {inquiry_id} answered: {json.dumps(answered.get('response'))}")


# -- sensors ----------------------------------------------------------------------------------------


@sensor_app.command("list")
def sensor_list(
    pack: Annotated[str | None, typer.Option("-p", "--pack", help="Only this pack's.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The registered sensors with their state (running, restarting, failed, stopped) and last error."""
    settings = settings_from()
    items = _call(settings, "GET", "/api/v1/sensors", params={"pack": pack} if pack else {}).json()
    if as_json:
        print_json(items)
        return
    table = Table()
    table.add_column("ref", no_wrap=True)
    for name in ("enabled", "state", "node", "pid", "restarts", "last error"):
        table.add_column(name)
    colours = {"running": "green", "restarting": "yellow", "failed": "red", "stopped": "dim"}
    for item in items:
        state = item.get("state") or ("not running" if item.get("enabled") else "disabled")
        error = item.get("last_error") or ""
        if error and item.get("last_error_at"):
            error = f"{item['last_error_at']}: {error}"
        table.add_row(
            item["ref"],
            "yes" if item.get("enabled") else "no",
            Text(state, style=colours.get(state, "")),
            item.get("node") or "",
            str(item["pid"]) if item.get("pid") else "",
            str(item.get("restarts") or 0),
            error,
        )
    out.print(table)


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
    url: Annotated[
        str | None, typer.Option("--url", metavar="URL", help="The API's base URL (overrides ST2LITE_API_URL).")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", metavar="KEY", help="API key to send (overrides the environment).")
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", metavar="TOKEN", help="Auth token to send (overrides everything else).")
    ] = None,
) -> None:
    """Event-driven automation in the style of StackStorm, on Redis alone."""
    _global_overrides.clear()
    if url is not None:
        _global_overrides["api_url"] = url
    if api_key is not None:
        _global_overrides.update(api_key=api_key, auth_token="")  # a key given here beats ST2LITE_AUTH_TOKEN
    if token is not None:
        _global_overrides["auth_token"] = token
    if version:
        out.print(f"st2lite {__version__}")
        raise typer.Exit(0)


def main() -> None:
    app()


def _add_command_groups() -> None:
    """Command groups that live in their own modules (they import this module's helpers)."""
    from st2lite.cli_aliases import alias_app
    from st2lite.cli_auth import apikey_app, auth_app, user_app
    from st2lite.cli_keys import key_app
    from st2lite.cli_resources import action_app, rule_enforcement_app, runner_app, whoami

    app.add_typer(key_app, name="key")
    app.add_typer(action_app, name="action")
    app.add_typer(alias_app, name="alias")
    app.add_typer(runner_app, name="runner")
    app.add_typer(rule_enforcement_app, name="rule-enforcement")
    app.add_typer(user_app, name="user")
    app.add_typer(auth_app, name="auth")
    app.add_typer(apikey_app, name="apikey")
    app.command("whoami")(whoami)


_add_command_groups()


@timer_app.command("list")
def timer_list(
    timer_type: Annotated[
        str | None, typer.Option("--type", help="Only this type (core.st2.IntervalTimer, CronTimer, DateTimer).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The timers enabled rules create, with the rules using each and its next and last ticks."""
    settings = settings_from()
    params = {"timer_type": timer_type} if timer_type else {}
    items = _call(settings, "GET", "/api/v1/timers", params=params).json()
    if as_json:
        print_json(items)
        return
    table = Table()
    table.add_column("type", no_wrap=True)
    for name in ("parameters", "rules", "next tick", "last tick"):
        table.add_column(name)
    for item in items:
        schedule = item.get("schedule") or {}
        table.add_row(
            item["type"].removeprefix("core.st2."),
            json.dumps(item["parameters"], sort_keys=True),
            ", ".join(item["rules"]),
            schedule.get("next_at") or ("not scheduled yet" if not schedule else "none"),
            schedule.get("last_at") or "",
        )
    out.print(table)
