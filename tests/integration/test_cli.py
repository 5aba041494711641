"""The ``st2lite`` command as a subprocess, against a real API, ``st2lite rules`` and ``st2lite worker``.

The module shares one running stack (``live_api``); each test makes its own
executions and trigger instances and looks only at those.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import FIXTURE_PACKS, REPO, ApiServer, wait_for

from st2lite import keys
from st2lite.embedded_redis import free_port

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

SAMPLE_RULE = REPO / "rules" / "sample_rule_with_webhook.yaml"


def ok(result: subprocess.CompletedProcess[str], code: int = 0) -> subprocess.CompletedProcess[str]:
    """Check the exit code, showing the output when it is wrong."""
    assert result.returncode == code, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


# -- run --------------------------------------------------------------------------------------------


def test_run_waits_for_the_execution_and_prints_its_output(live_api: ApiServer) -> None:
    result = ok(live_api.cli("run", "core.local", "cmd=echo hi"))

    assert "action.ref: core.local" in result.stdout
    assert "status: succeeded" in result.stdout
    assert '"stdout": "hi"' in result.stdout
    assert '"return_code": 0' in result.stdout


def test_run_exits_1_when_the_action_fails(live_api: ApiServer) -> None:
    result = ok(live_api.cli("run", "core.local", "cmd=exit 3"), 1)

    assert "status: failed" in result.stdout
    assert '"return_code": 3' in result.stdout


def test_run_exits_1_when_the_action_times_out(live_api: ApiServer) -> None:
    result = ok(live_api.cli("run", "core.local", "cmd=sleep 5", "timeout=1"), 1)

    assert "status: timeout" in result.stdout


def test_run_interrupted_stops_waiting_with_130_and_the_execution_goes_on(live_api: ApiServer) -> None:
    before = set(live_api.execution_ids())
    process = subprocess.Popen(
        [sys.executable, "-m", "st2lite", "run", "core.local", "cmd=sleep 2; echo done"],
        env=live_api.env,
        cwd=live_api.cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def running() -> str | None:
        new = [i for i in live_api.execution_ids() if i not in before]
        return new[0] if new and live_api.execution(new[0])["status"] == "running" else None

    execution_id = wait_for(running, "the execution to run")
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=15)

    assert process.returncode == 130, stderr
    assert stderr.strip() == (
        f"stopped waiting; execution {execution_id} goes on: st2lite execution get {execution_id}"
    )
    assert stdout == ""
    assert live_api.wait_final(execution_id)["result"]["stdout"] == "done"


def test_run_piped_prints_no_spinner(live_api: ApiServer) -> None:
    """stderr is a pipe here: nothing but the result, on stdout, and an empty stderr."""
    result = ok(live_api.cli("run", "core.local", "cmd=sleep 0.5; echo piped"))

    assert result.stderr == ""
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    assert result.stdout.startswith("id: ")
    assert '"stdout": "piped"' in result.stdout


def run_with_stderr_on_a_tty(api: ApiServer, *args: str) -> tuple[int, str, str]:
    """Run ``st2lite ARGS`` with stderr on a pseudo-terminal and stdout on a pipe: (exit code, stdout, terminal)."""
    master, slave = pty.openpty()
    env = {**api.env, "TERM": "xterm", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "st2lite", *args],
        env=env,
        cwd=api.cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    terminal = bytearray()
    while True:  # read until the child closes the terminal (EOF or EIO)
        ready, _, _ = select.select([master], [], [], 30.0)
        if not ready:
            process.kill()
            pytest.fail(f"st2lite {' '.join(args)} wrote nothing to its terminal for 30s")
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        terminal.extend(chunk)
    os.close(master)
    assert process.stdout is not None
    stdout = process.stdout.read().decode()
    return process.wait(timeout=30), stdout, terminal.decode(errors="replace")


def test_run_on_a_terminal_shows_a_spinner_with_live_status_and_elapsed_time(live_api: ApiServer) -> None:
    code, stdout, terminal = run_with_stderr_on_a_tty(live_api, "run", "core.local", "cmd=sleep 1.5; echo tty")

    assert code == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal)  # colours and cursor moves
    seen = re.findall(r"core\.local [0-9a-f]{24}: (\w+) \(([0-9]+\.[0-9])s\)", text)
    assert seen, terminal
    assert seen[0][0] == "requested" and "running" in {status for status, _ in seen}
    assert float(seen[-1][1]) >= 1.0  # the elapsed time counts up
    assert terminal.endswith("\x1b[2K")  # the spinner line is erased when the wait ends
    assert "\x1b" not in stdout and "running (" not in stdout  # the spinner never reaches stdout
    assert '"stdout": "tty"' in stdout


def test_run_json_on_a_terminal_shows_no_spinner(live_api: ApiServer) -> None:
    code, stdout, terminal = run_with_stderr_on_a_tty(live_api, "run", "core.local", "cmd=exit 4", "--json")

    assert code == 1
    assert terminal == ""
    assert json.loads(stdout)["status"] == "failed"


def test_run_json_prints_the_final_execution_as_json(live_api: ApiServer) -> None:
    execution = as_json(ok(live_api.cli("run", "core.local", "cmd=echo json", "--json")))

    assert execution["status"] == "succeeded"
    assert execution["action"]["ref"] == "core.local"
    assert execution["parameters"]["cmd"] == "echo json"
    assert execution["result"]["stdout"] == "json"
    assert live_api.execution(execution["id"])["status"] == "succeeded"


def test_run_async_returns_the_id_without_waiting(live_api: ApiServer) -> None:
    result = ok(live_api.cli("run", "--async", "core.local", "cmd=echo later"))

    assert "status: requested" in result.stdout
    assert "result:" not in result.stdout
    [execution_id] = [line.split(": ", 1)[1] for line in result.stdout.splitlines() if line.startswith("id: ")]
    assert live_api.wait_final(execution_id)["result"]["stdout"] == "later"


def test_run_prints_output_with_square_brackets_as_it_is(live_api: ApiServer) -> None:
    result = ok(live_api.cli("run", "core.local", 'cmd=echo "[/x] [bold]y"'))

    assert '"stdout": "[/x] [bold]y"' in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["core.locl", "cmd=date"],
            1,
            "error: Action core.locl not found; list the registered actions or register its pack (HTTP 404)",
        ),
        (["core.local", "date"], 2, "error: 'date' is not a parameter; write name=value, for example cmd=date"),
    ],
    ids=["unknown-action", "not-name-value"],
)
def test_run_rejected_says_why(live_api: ApiServer, args: list[str], code: int, message: str) -> None:
    before = live_api.execution_ids()

    result = ok(live_api.cli("run", *args), code)

    assert result.stderr.strip() == message
    assert live_api.execution_ids() == before


def test_run_error_messages_quoting_square_brackets_are_printed_as_they_are(live_api: ApiServer) -> None:
    result = ok(live_api.cli("run", "core.local", "cmd=date", "opt[/x]=1"), 2)  # the API's 400: invalid input

    assert result.stderr.strip() == (
        "error: action 'core.local' has no parameter(s) opt[/x]; its parameters are: "
        "cmd, cwd, env, kwarg_op, sudo, sudo_password, timeout. Remove or rename them (HTTP 400)"
    )


# -- execution list | get ---------------------------------------------------------------------------


def run_over_http(api: ApiServer, cmd: str) -> dict[str, Any]:
    """Run ``core.local`` through the API (no CLI) and wait until it ends."""
    response = api.http.post("/api/v1/executions", json={"action": "core.local", "parameters": {"cmd": cmd}})
    assert response.status_code == 201, response.text
    return api.wait_final(response.json()["id"])


def test_execution_list_and_get(live_api: ApiServer) -> None:
    first = run_over_http(live_api, "echo first")
    second = run_over_http(live_api, "exit 4")

    listed = as_json(ok(live_api.cli("execution", "list", "--status", "failed", "--json")))
    got = as_json(ok(live_api.cli("execution", "get", first["id"], "--json")))
    text = ok(live_api.cli("execution", "get", second["id"]))

    assert listed[0]["id"] == second["id"]  # newest first
    assert {e["status"] for e in listed} == {"failed"}
    assert got["id"] == first["id"]
    assert got["status"] == "succeeded"
    assert got["result"]["stdout"] == "first"
    assert f"id: {second['id']}" in text.stdout
    assert "status: failed" in text.stdout
    assert "log:" in text.stdout
    assert text.stdout.rstrip().endswith(" failed")


def test_execution_list_says_when_there_are_more(live_api: ApiServer) -> None:
    run_over_http(live_api, "true")
    run_over_http(live_api, "true")
    total = int(live_api.http.get("/api/v1/executions").headers["X-Total-Count"])

    result = ok(live_api.cli("execution", "list", "-n", "1"))

    assert result.stderr.strip() == f"Note: only the newest 1 of {total} executions are shown; use -n for more."


def test_execution_get_of_an_unknown_id_says_so(live_api: ApiServer) -> None:
    result = ok(live_api.cli("execution", "get", "6650f0c2a1b2c3d4e5f60a01"), 1)

    assert result.stderr.strip() == (
        "error: execution '6650f0c2a1b2c3d4e5f60a01' not found; it may have expired "
        "(see 'execution_ttl' in docs/configuration.md) (HTTP 404)"
    )


# -- trigger send -----------------------------------------------------------------------------------


def test_trigger_send_dispatches_a_custom_trigger_type_to_the_rules_engine(live_api: ApiServer) -> None:
    payload = {"alerts": [{"severity": "critical", "host": "db1"}]}

    sent = as_json(ok(live_api.cli("trigger", "send", "examples.alert", "--payload", json.dumps(payload), "--json")))

    assert sent["trigger"] == "examples.alert"
    assert sent["payload"] == payload
    raw = wait_for(lambda: live_api.redis.get(keys.trigger_instance(sent["id"])), "the rules engine to record it")
    record = orjson.loads(raw)
    assert (record["trigger"], record["payload"]) == ("examples.alert", payload)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["examples.alrt"],
            2,
            "error: trigger type 'examples.alrt' is not registered; register the pack that declares it "
            "('st2lite pack register') or check the spelling (HTTP 400)",
        ),
        (
            ["examples.alert", "--payload", "{alerts: []}"],
            2,
            "error: --payload is not valid JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
    ],
    ids=["unknown-type", "not-json"],
)
def test_trigger_send_rejected_says_why_and_sends_nothing(
    live_api: ApiServer, args: list[str], code: int, message: str
) -> None:
    before = live_api.trigger_stream()

    result = ok(live_api.cli("trigger", "send", *args), code)

    assert result.stderr.strip() == message
    assert live_api.trigger_stream() == before


# -- rule test --------------------------------------------------------------------------------------


@pytest.fixture
def matching(tmp_path: Path) -> Path:
    return write_json(
        tmp_path / "matching.json",
        {"trigger": "core.st2.webhook", "payload": {"headers": {}, "body": {"name": "st2", "n": 1}}},
    )


def test_rule_test_matched_exits_0_with_the_rendered_action(live_api: ApiServer, matching: Path) -> None:
    text = ok(live_api.cli("rule", "test", str(SAMPLE_RULE), "--trigger-instance", str(matching)))
    verdict = as_json(ok(live_api.cli("rule", "test", str(SAMPLE_RULE), "--trigger-instance", str(matching), "--json")))

    parameters = {
        "cmd": 'echo "webhook sample from $NAME: $BODY"',
        "env": {"NAME": "st2", "BODY": '{"name": "st2", "n": 1}'},
    }
    assert verdict["matched"] is True
    assert verdict["action"] == {"ref": "core.local", "parameters": parameters}
    lines = text.stdout.splitlines()
    assert lines[0] == "rule default.sample_rule_with_webhook: MATCHED (all 1 criteria passed)"
    assert lines[-1] == f"action core.local with parameters {json.dumps(parameters)}"


def test_rule_test_marks_each_passing_criterion(live_api: ApiServer, matching: Path) -> None:
    text = ok(live_api.cli("rule", "test", str(SAMPLE_RULE), "--trigger-instance", str(matching)))

    assert "  [pass] trigger.body.name equals 'st2' (value: 'st2')" in text.stdout.splitlines()


def test_rule_test_not_matched_exits_1_and_says_which_criterion_failed(live_api: ApiServer, tmp_path: Path) -> None:
    instance = write_json(tmp_path / "bob.json", {"trigger": "core.st2.webhook", "payload": {"body": {"name": "bob"}}})

    text = ok(live_api.cli("rule", "test", str(SAMPLE_RULE), "--trigger-instance", str(instance)), 1)
    verdict = as_json(
        ok(live_api.cli("rule", "test", str(SAMPLE_RULE), "--trigger-instance", str(instance), "--json"), 1)
    )

    assert verdict["matched"] is False
    assert verdict["action"] == {"ref": "core.local", "parameters": None}
    assert verdict["reason"] == "1 of 1 criteria failed"
    assert text.stdout.splitlines() == [
        "rule default.sample_rule_with_webhook: NOT MATCHED (1 of 1 criteria failed)",
        "  [FAIL] trigger.body.name equals 'st2' (value: 'bob')",
    ]


BAD_RULES = {
    "yaml": (
        "name: x\ntrigger:\n  type: core.st2.webhook\n   url: x\naction:\n  ref: core.local\n",
        "{path}:4: invalid YAML: mapping values are not allowed here; "
        "check the indentation and quoting on this line and the one above",
    ),
    "operator": (
        "name: x\ntrigger:\n  type: core.st2.webhook\ncriteria:\n  trigger.body.name:\n"
        "    type: equalz\n    pattern: st2\naction:\n  ref: core.local\n",
        "{path}:4: criteria 'trigger.body.name': unknown operator 'equalz' (did you mean 'equals'?); use one of: ",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_RULES))
def test_rule_test_of_an_invalid_rule_file_exits_2_with_file_and_line(
    live_api: ApiServer, matching: Path, tmp_path: Path, case: str
) -> None:
    text, message = BAD_RULES[case]
    rule = tmp_path / "rule.yaml"
    rule.write_text(text)

    result = ok(live_api.cli("rule", "test", str(rule), "--trigger-instance", str(matching)), 2)

    expected = "error: " + message.format(path=rule)
    if message.endswith(": "):  # the operator list goes on
        assert result.stderr.startswith(expected)
        assert "equals" in result.stderr[len(expected) :].split(", ")
    else:
        assert result.stderr.strip() == expected
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "{not json",
            "{path}: cannot read a JSON trigger instance: "
            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        (
            '{"payload": {}}',
            '{path}: a trigger instance is a JSON object {{"trigger": "<type ref>", "payload": {{...}}}}',
        ),
    ],
    ids=["not-json", "no-trigger"],
)
def test_rule_test_of_an_invalid_trigger_instance_exits_2(
    live_api: ApiServer, tmp_path: Path, content: str, message: str
) -> None:
    instance = tmp_path / "instance.json"
    instance.write_text(content)

    result = ok(live_api.cli("rule", "test", str(SAMPLE_RULE), "--trigger-instance", str(instance)), 2)

    assert result.stderr.strip() == "error: " + message.format(path=instance)


# -- pack validate | register | list ----------------------------------------------------------------


def test_pack_validate_lists_every_problem_with_file_and_line(live_api: ApiServer) -> None:
    result = ok(live_api.cli("pack", "validate", "tests/fixtures/packs/broken", env={}, cwd=REPO), 1)

    lines = result.stdout.splitlines()
    assert lines[-1] == "2 packs, 10 actions, 1 rules valid; 7 problems"
    problems = lines[:-1]
    assert len(problems) == 7
    where = [line.split(": ", 1)[0] for line in problems]
    assert where == [
        "tests/fixtures/packs/broken/actions/bad_runner.yaml:2",
        "tests/fixtures/packs/broken/actions/missing_script.yaml:4",
        "tests/fixtures/packs/broken/rules/bad_runner_rule.yaml:8",
        "tests/fixtures/packs/broken/rules/bad_yaml.yaml:4",
        "tests/fixtures/packs/broken/rules/misspelt.yaml:5",
        "tests/fixtures/packs/broken/rules/unknown_action.yaml:8",
        "tests/fixtures/packs/broken/rules/unknown_operator.yaml:11",
    ]
    assert (
        "tests/fixtures/packs/broken/actions/bad_runner.yaml:2: field 'runner_type': "
        "unknown runner type 'local-shell-cmdd'; did you mean 'local-shell-cmd'?"
    ) in problems
    assert (
        "tests/fixtures/packs/broken/rules/misspelt.yaml:5: field 'critera': unknown field; did you mean 'criteria'?"
    ) in problems
    assert (
        "tests/fixtures/packs/broken/rules/unknown_action.yaml:8: field 'action.ref': "
        "unknown action 'broken.ecko'; did you mean 'broken.echo'?"
    ) in problems


def test_pack_validate_of_a_good_pack_exits_0(live_api: ApiServer) -> None:
    good = ok(live_api.cli("pack", "validate", str(FIXTURE_PACKS / "examples")))

    assert good.stdout.strip() == "2 packs, 13 actions, 3 rules valid; 0 problems"


def test_pack_validate_of_a_missing_folder_exits_2(live_api: ApiServer, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    result = ok(live_api.cli("pack", "validate", str(missing)), 2)

    assert result.stderr.strip() == (
        f"error: {missing}: does not exist; give a pack folder (one with a pack.yaml) or a folder of packs"
    )


def test_pack_register_then_list_and_run_without_restarting(live_api: ApiServer, tmp_path: Path) -> None:
    pack = tmp_path / "extra"
    (pack / "actions").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: extra\ndescription: Registered by a test\nversion: 1.2.3\nauthor: t\n")
    (pack / "actions" / "shout.yaml").write_text(
        "name: shout\nrunner_type: local-shell-cmd\nparameters:\n  word:\n    type: string\n    required: true\n"
        '  cmd:\n    default: "echo {{ word | upper }}"\n'
    )

    registered = as_json(ok(live_api.cli("pack", "register", str(pack), "--json")))
    listed = as_json(ok(live_api.cli("pack", "list", "--json")))

    assert registered["packs"] == ["core", "extra"]
    assert registered["problems"] == []
    rows = {row["ref"]: row for row in listed}
    assert {"core", "examples", "default", "extra"} <= set(rows)  # the others are still registered
    assert rows["extra"] == {
        "ref": "extra",
        "version": "1.2.3",
        "description": "Registered by a test",
        "actions": 1,
        "rules": 0,
    }

    def accepted() -> Any:
        response = live_api.http.post(
            "/api/v1/executions", json={"action": "extra.shout", "parameters": {"word": "hey"}}
        )
        return response.json() if response.status_code == 201 else None

    created = wait_for(accepted, "the running API to see the new pack")
    assert live_api.wait_final(created["id"])["result"]["stdout"] == "HEY"


# -- audit export -----------------------------------------------------------------------------------


def audit_trail(api: ApiServer) -> tuple[str, str, list[tuple[str, str | None]]]:
    """Send one matching webhook, wait for its execution; the (kind, status) of its audit events in order."""
    response = api.http.post("/api/v1/webhooks/hello", json={"name": "st2"})
    assert response.status_code == 202, response.text
    instance = response.json()["id"]

    def started() -> str | None:
        listed = api.http.get("/api/v1/executions", params={"rule": "default.hello", "limit": -1}).json()
        return next((e["id"] for e in listed if e.get("trigger_instance", {}).get("id") == instance), None)

    execution = wait_for(started, "the webhook's execution")
    assert api.wait_final(execution)["status"] == "succeeded"
    exported = ok(api.cli("audit", "export"))
    events = [json.loads(line) for line in exported.stdout.splitlines()]
    mine = [e for e in events if e.get("trigger_instance") == instance or e.get("execution") == execution]
    return instance, execution, [(e["kind"], e.get("status")) for e in mine]


def test_audit_export_has_every_step_of_a_webhook(live_api: ApiServer) -> None:
    _instance, _execution, trail = audit_trail(live_api)

    assert set(trail) == {
        ("trigger_instance.received", None),
        ("rule.matched", None),
        ("execution.created", "requested"),
        ("execution.status", "scheduled"),
        ("execution.status", "running"),
        ("execution.status", "succeeded"),
    }
    assert len(trail) == 6
    assert trail[0] == ("trigger_instance.received", None)
    assert trail[-3:] == [
        ("execution.status", "scheduled"),
        ("execution.status", "running"),
        ("execution.status", "succeeded"),
    ]


def test_audit_export_lists_a_webhook_s_events_in_causal_order(live_api: ApiServer) -> None:
    _instance, _execution, trail = audit_trail(live_api)

    assert trail == [
        ("trigger_instance.received", None),
        ("rule.matched", None),
        ("execution.created", "requested"),
        ("execution.status", "scheduled"),
        ("execution.status", "running"),
        ("execution.status", "succeeded"),
    ]


# -- settings and connection errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "env", "message"),
    [
        (
            ["execution", "list"],
            {"ST2LITE_API_PORT": "notanumber"},
            "error: invalid configuration: setting 'api_port' (ST2LITE_API_PORT): "
            "Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            ["pack", "list"],
            {"ST2LITE_REDIS_URL": "http://127.0.0.1:6379"},
            "error: invalid configuration: setting 'redis_url' (ST2LITE_REDIS_URL): "
            "Value error, must start with redis://, rediss:// or unix:// (or be empty for the embedded Redis)",
        ),
        (
            ["audit", "export"],
            {"ST2LITE_CONFIG": "/nonexistent/st2lite.yaml"},
            "error: ST2LITE_CONFIG names '/nonexistent/st2lite.yaml', which is not a file; fix the path or unset it",
        ),
    ],
    ids=["port-not-a-number", "redis-url", "config-file"],
)
def test_bad_settings_exit_2_naming_the_setting(
    live_api: ApiServer, command: list[str], env: dict[str, str], message: str
) -> None:
    before = live_api.execution_ids()

    result = ok(live_api.cli(*command, env=env), 2)

    assert result.stderr.strip() == message
    assert result.stdout == ""
    assert live_api.execution_ids() == before


def test_an_unreachable_api_is_reported_with_its_address(live_api: ApiServer) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = ok(live_api.cli("execution", "list", env={"ST2LITE_API_URL": url}), 1)

    message = result.stderr.strip()
    assert message.startswith(f"error: cannot reach the st2lite API at {url}: ")
    assert message.endswith("; is 'st2lite up' running?")


@pytest.mark.parametrize("command", [("pack", "register")])  # pack list goes through the API
def test_a_redis_that_cannot_be_reached_is_one_line_and_exit_code_2(
    live_api: ApiServer, command: tuple[str, ...]
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    result = live_api.cli(*command, env={"ST2LITE_REDIS_URL": url})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: cannot reach Redis at {url}: "), result.stderr
    assert result.stderr.rstrip().endswith("start it (st2lite up starts one) or fix ST2LITE_REDIS_URL")
    assert "Traceback" not in result.stderr
    assert live_api.cli("pack", "list", "--json").returncode == 0  # the registered packs are untouched
