"""The runner registry, the shared runner helpers and the noop runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from st2lite.exceptions import RunnerError
from st2lite.runners import RUNNERS, get_runner
from st2lite.runners.base import (
    RunContext,
    action_environment,
    decode_json_fields,
    resolve_entry_point,
    strip_shell_chars,
    timeout_message,
)
from st2lite.statuses import ExecutionStatus


def _ctx(**fields: object) -> RunContext:
    base: dict[str, object] = {"execution_id": "ex1", "action_ref": "demo.act", "pack": "demo"}
    base.update(fields)
    return RunContext.model_validate(base)


def test_registry_holds_stackstorm_runner_names() -> None:
    assert set(RUNNERS) == {
        "local-shell-cmd",
        "local-shell-script",
        "python-script",
        "http-request",
        "noop",
        "action-chain",
        "inquirer",
        "callback",
    }
    assert all(RUNNERS[name].name == name for name in RUNNERS)


def test_unknown_runner_lists_known_names() -> None:
    with pytest.raises(RunnerError) as info:
        get_runner("orquesta")
    assert str(info.value) == (
        "unknown runner type 'orquesta'; use one of: "
        "action-chain, callback, http-request, inquirer, local-shell-cmd, local-shell-script, noop, python-script"
    )


@pytest.mark.parametrize(
    ("runner", "name", "default"),
    [
        ("local-shell-cmd", "timeout", 60),
        ("local-shell-cmd", "kwarg_op", "--"),
        ("local-shell-cmd", "sudo", False),
        ("local-shell-script", "timeout", 60),
        ("python-script", "timeout", 600),
        ("python-script", "log_level", "DEBUG"),
        ("http-request", "method", "GET"),
        ("http-request", "allow_redirects", False),
        ("http-request", "verify_ssl_cert", True),
        ("http-request", "timeout", 60),
    ],
)
def test_runner_parameter_defaults(runner: str, name: str, default: object) -> None:
    assert get_runner(runner).parameters[name].default == default


def test_secret_runner_parameters_are_marked() -> None:
    assert get_runner("local-shell-cmd").parameters["sudo_password"].secret
    assert get_runner("http-request").parameters["password"].secret
    assert "cmd" not in get_runner("local-shell-script").parameters


def test_runner_values_layering() -> None:
    runner = get_runner("local-shell-cmd")
    ctx = _ctx(parameters={"cmd": "from-action", "other": 1}, runner_parameters={"timeout": 5})
    values = runner.runner_values(ctx)
    assert values["cmd"] == "from-action"
    assert values["timeout"] == 5
    assert values["kwarg_op"] == "--"
    assert "other" not in values
    ctx = _ctx(parameters={"cmd": "from-action"}, runner_parameters={"cmd": "from-runner"})
    assert runner.runner_values(ctx)["cmd"] == "from-runner"


@pytest.mark.parametrize(
    ("ctx_timeout", "param", "expected"),
    [(None, None, 60.0), (None, 7, 7.0), (2.5, 7, 2.5), (None, 0, None)],
)
def test_effective_timeout(ctx_timeout: float | None, param: int | None, expected: float | None) -> None:
    runner_parameters = {} if param is None else {"timeout": param}
    ctx = _ctx(timeout=ctx_timeout, runner_parameters=runner_parameters)
    assert get_runner("local-shell-cmd").effective_timeout(ctx) == expected


def test_noop_succeeds_with_static_result() -> None:
    result = get_runner("noop").run(_ctx())
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.result == {"failed": False, "succeeded": True, "return_code": 0}
    assert result.error is None


def test_strip_shell_chars_drops_one_line_ending() -> None:
    assert strip_shell_chars("a\n\n") == "a\n"
    assert strip_shell_chars("a\r\n") == "a"
    assert strip_shell_chars("a") == "a"


def test_decode_json_fields_only_decodes_valid_json() -> None:
    out = decode_json_fields({"stdout": '{"a": 1}', "stderr": "not json", "x": "1"}, ("stdout", "stderr"))
    assert out == {"stdout": {"a": 1}, "stderr": "not json", "x": "1"}
    assert decode_json_fields({"stdout": ""}, ("stdout",)) == {"stdout": ""}


def test_timeout_message() -> None:
    assert timeout_message(60) == "Action failed to complete in 60 seconds"
    assert timeout_message(0.5) == "Action failed to complete in 0.5 seconds"


def test_action_environment_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_WORKER", "w")
    monkeypatch.setenv("ST2_ACTION_PACK_NAME", "spoofed")
    ctx = _ctx(env={"EXTRA": "e", "FROM_WORKER": "ctx"}, api_url="http://api")
    env = action_environment(ctx, {"N": 3, "FLAG": True, "DROP": None, "EXTRA": "user"})
    assert env["FROM_WORKER"] == "ctx"
    assert env["EXTRA"] == "user"
    assert env["N"] == "3"
    assert env["FLAG"] == "true"
    assert "DROP" not in env
    assert env["ST2_ACTION_PACK_NAME"] == "demo"
    assert env["ST2_ACTION_EXECUTION_ID"] == "ex1"
    assert env["ST2_ACTION_API_URL"] == "http://api"


def test_resolve_entry_point(tmp_path: Path) -> None:
    script = tmp_path / "actions" / "sub" / "run.sh"
    script.parent.mkdir(parents=True)
    script.write_text("echo hi\n")
    assert resolve_entry_point(_ctx(pack_path=str(tmp_path), entry_point="sub/run.sh")) == script


def test_resolve_entry_point_missing_file(tmp_path: Path) -> None:
    (tmp_path / "actions").mkdir()
    with pytest.raises(RunnerError) as info:
        resolve_entry_point(_ctx(pack_path=str(tmp_path), entry_point="nope.sh"))
    assert str(info.value) == (
        f"action 'demo.act': entry_point 'nope.sh' is not a file (looked for {tmp_path}/actions/nope.sh); "
        "create it or fix entry_point in the action metadata"
    )


def test_resolve_entry_point_folder_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "actions" / "dir").mkdir(parents=True)
    with pytest.raises(RunnerError, match="entry_point 'dir' is not a file"):
        resolve_entry_point(_ctx(pack_path=str(tmp_path), entry_point="dir"))


@pytest.mark.parametrize("entry_point", ["../secret.sh", "/etc/passwd"])
def test_resolve_entry_point_outside_actions(tmp_path: Path, entry_point: str) -> None:
    with pytest.raises(RunnerError) as info:
        resolve_entry_point(_ctx(pack_path=str(tmp_path), entry_point=entry_point))
    assert str(info.value) == (
        f"action 'demo.act': entry_point '{entry_point}' points outside {tmp_path}/actions; "
        "keep action scripts under the pack's actions/ folder"
    )


def test_resolve_entry_point_empty() -> None:
    with pytest.raises(RunnerError) as info:
        resolve_entry_point(_ctx(pack_path="/x"))
    assert str(info.value) == (
        "action 'demo.act' has no entry_point; set it in the action metadata (a path under actions/)"
    )


def test_resolve_entry_point_without_pack_path() -> None:
    with pytest.raises(RunnerError) as info:
        resolve_entry_point(_ctx(entry_point="run.sh"))
    assert str(info.value) == (
        "action 'demo.act' has no pack path; register its pack again with 'st2lite pack register'"
    )
