"""local-shell-cmd and local-shell-script against real subprocesses."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from st2lite.actions import ParameterSpec
from st2lite.exceptions import RunnerError
from st2lite.runners import get_runner
from st2lite.runners.base import RunContext, RunResult
from st2lite.statuses import ExecutionStatus

S = ExecutionStatus


def _run_cmd(cmd: str, **runner_parameters: Any) -> RunResult:
    ctx = RunContext(
        execution_id="ex-cmd",
        action_ref="core.local",
        pack="core",
        runner_parameters={"cmd": cmd, **runner_parameters},
        api_url="http://127.0.0.1:9101",
    )
    return get_runner("local-shell-cmd").run(ctx)


def _pack(tmp_path: Path, name: str, text: str, *, executable: bool = True) -> Path:
    script = tmp_path / "actions" / name
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(text)
    script.chmod(0o755 if executable else 0o644)
    return tmp_path


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for(predicate: Any, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


@pytest.mark.parametrize(
    ("cmd", "code", "status"),
    [("true", 0, S.SUCCEEDED), ("exit 1", 1, S.FAILED), ("exit 3", 3, S.FAILED), ("kill -TERM $$", -15, S.ABANDONED)],
)
def test_exit_code_mapping(cmd: str, code: int, status: ExecutionStatus) -> None:
    result = _run_cmd(cmd)
    assert result.status is status
    assert result.result["return_code"] == code
    assert result.result["succeeded"] is (code == 0)


def test_stdout_json_is_decoded_and_stderr_kept() -> None:
    result = _run_cmd("""echo '{"items": [1, 2]}'; echo 'oops' >&2""")
    assert result.status is S.SUCCEEDED
    assert result.result["stdout"] == {"items": [1, 2]}
    assert result.result["stderr"] == "oops"


def test_invalid_utf8_is_replaced() -> None:
    result = _run_cmd(r"printf 'a\377b\n'")
    assert result.result["stdout"] == "a\ufffdb"


def test_environment_and_cwd(tmp_path: Path) -> None:
    result = _run_cmd(
        'echo "$ST2_ACTION_PACK_NAME|$ST2_ACTION_EXECUTION_ID|$ST2_ACTION_API_URL|$GREETING|$(pwd)"',
        env={"GREETING": "hi"},
        cwd=str(tmp_path),
    )
    assert result.result["stdout"] == f"core|ex-cmd|http://127.0.0.1:9101|hi|{tmp_path}"


def test_bad_cwd_is_reported(tmp_path: Path) -> None:
    with pytest.raises(RunnerError) as info:
        _run_cmd("true", cwd=str(tmp_path / "missing"))
    assert str(info.value) == (
        f"action 'core.local': cwd '{tmp_path / 'missing'}' is not a folder; fix the cwd parameter"
    )


def test_missing_cmd_is_reported() -> None:
    ctx = RunContext(execution_id="e", action_ref="core.local", pack="core")
    with pytest.raises(RunnerError) as info:
        get_runner("local-shell-cmd").run(ctx)
    assert str(info.value) == (
        "action 'core.local' (local-shell-cmd) has no 'cmd' to run; "
        "set cmd in the action metadata or pass it when running the action"
    )


def test_output_lines_are_streamed() -> None:
    seen: list[tuple[str, str]] = []
    ctx = RunContext(
        execution_id="e",
        action_ref="core.local",
        pack="core",
        runner_parameters={"cmd": "echo one; echo two >&2; printf three"},
    )
    result = get_runner("local-shell-cmd").run(ctx, on_output=lambda stream, line: seen.append((stream, line)))
    assert result.status is S.SUCCEEDED
    assert [line for stream, line in seen if stream == "stdout"] == ["one\n", "three"]
    assert [line for stream, line in seen if stream == "stderr"] == ["two\n"]


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    started = time.monotonic()
    result = _run_cmd(f"sleep 30 & echo $! > {pid_file}; wait", timeout=0.5)
    assert time.monotonic() - started < 5
    assert result.status is S.TIMEOUT
    assert result.result["return_code"] == -9
    assert result.error == "Action failed to complete in 0.5 seconds"
    assert result.result["error"] == "Action failed to complete in 0.5 seconds"
    child = int(pid_file.read_text())
    assert _wait_for(lambda: not _alive(child)), f"child {child} survived the timeout"


def test_finished_command_does_not_wait_for_a_lingering_child(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    started = time.monotonic()
    result = _run_cmd(f"sleep 30 & echo $! > {pid_file}; echo done", timeout=30)
    assert time.monotonic() - started < 5
    assert result.status is S.SUCCEEDED
    assert result.result["stdout"] == "done"
    assert _wait_for(lambda: not _alive(int(pid_file.read_text())))


ARGS_SCRIPT = """#!/usr/bin/env bash
for arg in "$@"; do echo "[$arg]"; done
echo "env=$ST2_ACTION_PACK_NAME"
"""


def _script_ctx(pack_path: Path, entry_point: str, **fields: Any) -> RunContext:
    specs = {
        "host": ParameterSpec(type="string", position=0),
        "tags": ParameterSpec(type="array", position=1),
        "count": ParameterSpec(type="integer"),
        "force": ParameterSpec(type="boolean"),
        "quiet": ParameterSpec(type="boolean"),
        "note": ParameterSpec(type="string"),
    }
    return RunContext(
        execution_id="ex-script",
        action_ref="ops.restart",
        pack="ops",
        pack_path=str(pack_path),
        entry_point=entry_point,
        action_parameter_specs=specs,
        **fields,
    )


def test_script_gets_positional_and_named_arguments(tmp_path: Path) -> None:
    pack = _pack(tmp_path, "restart.sh", ARGS_SCRIPT)
    ctx = _script_ctx(
        pack,
        "restart.sh",
        parameters={"host": "web 1", "tags": ["a", "b"], "count": 3, "force": True, "quiet": False, "note": ""},
        runner_parameters={"timeout": 10},
    )
    result = get_runner("local-shell-script").run(ctx)
    assert result.status is S.SUCCEEDED, result
    assert result.result["stdout"].splitlines() == ["[web 1]", "[a,b]", "[--count=3]", "[--force]", "env=ops"]


def test_script_kwarg_op(tmp_path: Path) -> None:
    pack = _pack(tmp_path, "restart.sh", ARGS_SCRIPT)
    ctx = _script_ctx(pack, "restart.sh", parameters={"count": 2}, runner_parameters={"kwarg_op": "-"})
    assert get_runner("local-shell-script").run(ctx).result["stdout"].splitlines()[:3] == ["[]", "[]", "[-count=2]"]


def test_non_executable_script_runs_with_its_shebang(tmp_path: Path) -> None:
    pack = _pack(tmp_path, "hello.py", "#!/usr/bin/env python3\nimport sys\nprint(sys.argv[1:])\n", executable=False)
    result = get_runner("local-shell-script").run(_script_ctx(pack, "hello.py", parameters={"host": "h"}))
    assert result.result["stdout"] == "['h', '']"


def test_non_executable_script_without_shebang_runs_with_bash(tmp_path: Path) -> None:
    pack = _pack(tmp_path, "plain.sh", 'echo "${BASH_VERSION:+bash} $1"\nexit 4\n', executable=False)
    result = get_runner("local-shell-script").run(_script_ctx(pack, "plain.sh", parameters={"host": "h"}))
    assert result.status is S.FAILED
    assert result.result["return_code"] == 4
    assert result.result["stdout"] == "bash h"


def test_missing_script_is_reported(tmp_path: Path) -> None:
    (tmp_path / "actions").mkdir()
    with pytest.raises(RunnerError, match="entry_point 'gone.sh' is not a file"):
        get_runner("local-shell-script").run(_script_ctx(tmp_path, "gone.sh"))


def test_script_with_a_missing_interpreter_is_reported(tmp_path: Path) -> None:
    pack = _pack(tmp_path, "odd.sh", "#!/nonexistent/interp\n", executable=False)
    with pytest.raises(RunnerError) as info:
        get_runner("local-shell-script").run(_script_ctx(pack, "odd.sh"))
    assert str(info.value) == (
        "action 'ops.restart': cannot start '/nonexistent/interp': No such file or directory; "
        "check that it is installed and executable"
    )
