"""Pure result mapping of the shell, python and http runners, and shell command building."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import httpx
import pytest

from st2lite.action_base import Action
from st2lite.exceptions import ConfigError, ContentError, DatastoreError, EncryptionKeyError
from st2lite.runners.base import ProcessOutcome
from st2lite.runners.http import response_result
from st2lite.runners.python import python_result
from st2lite.runners.python_wrapper import ActionService, find_action_class
from st2lite.runners.shell import script_interpreter, shell_result, sudo_prefix
from st2lite.statuses import ExecutionStatus

S = ExecutionStatus
DELIM = "<<d>>"


def _outcome(code: int, stdout: str = "", stderr: str = "", timed_out: bool = False) -> ProcessOutcome:
    return ProcessOutcome(return_code=code, stdout=stdout, stderr=stderr, timed_out=timed_out)


# --- shell ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"),
    [(0, S.SUCCEEDED), (1, S.FAILED), (2, S.FAILED), (127, S.FAILED), (-9, S.TIMEOUT), (-15, S.ABANDONED)],
)
def test_shell_exit_code_mapping(code: int, status: ExecutionStatus) -> None:
    result = shell_result(_outcome(code), timeout=60, sudo_password_used=False)
    assert result.status is status
    assert result.result["return_code"] == code
    assert result.result["succeeded"] is (code == 0)
    assert result.result["failed"] is (code != 0)


def test_shell_timeout_sets_minus_nine_and_error() -> None:
    result = shell_result(_outcome(-9, timed_out=True), timeout=1.5, sudo_password_used=False)
    assert result.status is S.TIMEOUT
    assert result.error == "Action failed to complete in 1.5 seconds"
    assert result.result == {
        "succeeded": False,
        "failed": True,
        "return_code": -9,
        "stdout": "",
        "stderr": "",
        "error": "Action failed to complete in 1.5 seconds",
    }


def test_shell_output_is_stripped_and_json_decoded() -> None:
    result = shell_result(_outcome(0, '{"a": [1, 2]}\n', "plain\n\n"), timeout=60, sudo_password_used=False)
    assert result.result["stdout"] == {"a": [1, 2]}
    assert result.result["stderr"] == "plain\n"
    assert "error" not in result.result


def test_shell_bad_sudo_password() -> None:
    outcome = _outcome(1, stderr="sudo: 3 incorrect password attempts")
    result = shell_result(outcome, timeout=60, sudo_password_used=True)
    assert result.status is S.FAILED
    assert result.result["return_code"] == -1
    assert result.error == ("Invalid sudo password provided or sudo is not configured for this user; fix sudo_password")
    assert shell_result(outcome, timeout=60, sudo_password_used=False).result["return_code"] == 1


def test_sudo_prefix() -> None:
    assert sudo_prefix(sudo=False, password=None, is_root=False) == []
    assert sudo_prefix(sudo=True, password="pw", is_root=True) == []
    assert sudo_prefix(sudo=True, password=None, is_root=False) == ["sudo", "-n", "-E", "--"]
    assert sudo_prefix(sudo=True, password="pw", is_root=False) == ["sudo", "-S", "-p", "", "-E", "--"]


def test_script_interpreter(tmp_path: Path) -> None:
    executable = tmp_path / "exec.sh"
    executable.write_text("#!/bin/sh\necho hi\n")
    executable.chmod(0o755)
    assert script_interpreter(executable) == []
    shebang = tmp_path / "shebang.py"
    shebang.write_text("#!/usr/bin/env python3\nprint(1)\n")
    assert script_interpreter(shebang) == ["/usr/bin/env", "python3"]
    plain = tmp_path / "plain.sh"
    plain.write_text("echo hi\n")
    assert script_interpreter(plain) == ["bash"]
    bare = tmp_path / "bare.sh"
    bare.write_text("#!/bin/sh\n")
    assert script_interpreter(bare) == ["/bin/sh"]


# --- python --------------------------------------------------------------------------------------


def test_python_result_extracts_value_and_keeps_prints() -> None:
    stdout = f'hello\n{DELIM}{{"status": null, "result": {{"x": 1}}}}{DELIM}\n'
    result = python_result(_outcome(0, stdout, "log line\n"), delimiter=DELIM, timeout=600)
    assert result.status is S.SUCCEEDED
    assert result.result == {"result": {"x": 1}, "stdout": "hello\n", "stderr": "log line\n", "exit_code": 0}
    assert result.error is None


def test_python_result_false_status_fails() -> None:
    stdout = f'{DELIM}{{"status": false, "result": "nope"}}{DELIM}\n'
    result = python_result(_outcome(0, stdout), delimiter=DELIM, timeout=600)
    assert result.status is S.FAILED
    assert result.result["result"] == "nope"


def test_python_result_error_payload_fails() -> None:
    stdout = f'{DELIM}{{"error": "ValueError: boom"}}{DELIM}\n'
    result = python_result(_outcome(1, stdout, "Traceback..."), delimiter=DELIM, timeout=600)
    assert result.status is S.FAILED
    assert result.error == "ValueError: boom"
    assert result.result["result"] is None


def test_python_result_without_payload_uses_exit_code() -> None:
    result = python_result(_outcome(3, "partial"), delimiter=DELIM, timeout=600)
    assert result.status is S.FAILED
    assert result.result["stdout"] == "partial"
    assert result.error == "the action process exited with code 3; see stderr"


def test_python_result_timeout_wins() -> None:
    result = python_result(_outcome(-9, "x", timed_out=True), delimiter=DELIM, timeout=2)
    assert result.status is S.TIMEOUT
    assert result.error == "Action failed to complete in 2 seconds"
    assert result.result["error"] == "Action failed to complete in 2 seconds"


def _module(name: str, *classes: type) -> ModuleType:
    module = ModuleType(name)
    for cls in classes:
        cls.__module__ = name
        setattr(module, cls.__name__, cls)
    return module


def test_find_action_class_picks_leaf_subclass() -> None:
    class Base(Action):
        def run(self, **kwargs: object) -> object:
            return None

    class Leaf(Base):
        pass

    module = _module("m1", Base, Leaf)
    module.Imported = Action  # type: ignore[attr-defined]
    assert find_action_class(module, Path("a.py")) is Leaf


def test_find_action_class_none() -> None:
    with pytest.raises(ContentError) as info:
        find_action_class(_module("m2"), Path("/p/a.py"))
    assert str(info.value) == (
        "/p/a.py: defines no subclass of Action; "
        "write 'from st2common.runners.base_action import Action' and a class extending it"
    )


def test_find_action_class_ambiguous() -> None:
    class One(Action):
        def run(self, **kwargs: object) -> object:
            return 1

    class Two(Action):
        def run(self, **kwargs: object) -> object:
            return 2

    with pytest.raises(ContentError) as info:
        find_action_class(_module("m3", One, Two), Path("/p/a.py"))
    assert str(info.value) == "/p/a.py: defines several Action classes (One, Two); keep one per action file"


def test_action_service_without_redis_url() -> None:
    service = ActionService("demo", "Act", None)
    with pytest.raises(ConfigError) as info:
        service.get_value("k")
    assert str(info.value) == (
        "the datastore is not reachable from this action: ST2LITE_REDIS_URL is not set; "
        "run the action through an st2lite worker, which sets it"
    )


def test_action_service_rejects_bad_input_before_reaching_redis(tmp_path: Path) -> None:
    # Nothing listens on port 1: each error must come from checking the input, not from Redis.
    missing_key = tmp_path / "no.key"
    service = ActionService("demo", "Act", "redis://127.0.0.1:1/0", str(missing_key))
    with pytest.raises(DatastoreError) as info:
        service.set_value("k", 1)  # type: ignore[arg-type]
    assert str(info.value) == (
        "the value of 'demo.Act:k' must be a string, not int; "
        "serialise structures to JSON first (the datastore stores strings, as StackStorm's)"
    )
    with pytest.raises(EncryptionKeyError) as key_info:
        service.set_value("k", "v", encrypt=True)
    assert str(key_info.value) == (
        f"no datastore key file at {missing_key}, so secrets cannot be encrypted or decrypted; "
        "run 'st2lite key generate-key' (or set datastore_key_file / ST2LITE_DATASTORE_KEY_FILE to the key file)"
    )
    with pytest.raises(DatastoreError) as info:
        service.delete_value("k", scope="global")
    assert str(info.value) == (
        "scope 'global' is not a datastore scope; use system or user (st2kv.system and st2kv.user also work)"
    )
    with pytest.raises(DatastoreError) as info:
        service.set_value("k", "v", ttl=0)
    assert str(info.value) == (
        "ttl must be a whole number of seconds above 0, got 0; leave it out for a value that never expires"
    )


def test_action_base_defaults() -> None:
    class Act(Action):
        def run(self, **kwargs: object) -> object:
            return kwargs

    act = Act()
    assert act.config == {}
    assert act.action_service is None
    assert act.logger.name == "actions.python.Act"
    assert Act(config={"a": 1}, action_service="svc").config == {"a": 1}


def test_compat_module_reexports_the_same_class() -> None:
    from st2common.runners.base_action import Action as CompatAction

    assert CompatAction is Action


# --- http ----------------------------------------------------------------------------------------


def _response(status: int, content: bytes, content_type: str) -> httpx.Response:
    request = httpx.Request("GET", "http://example.test/x")
    return httpx.Response(status, content=content, headers={"content-type": content_type}, request=request)


def test_http_json_body_is_parsed() -> None:
    result = response_result(_response(200, b'{"ok": true}', "application/json; charset=utf-8"))
    assert result.status is S.SUCCEEDED
    assert result.result["body"] == {"ok": True}
    assert result.result["parsed"] is True
    assert result.result["status_code"] == 200
    assert result.result["headers"]["content-type"] == "application/json; charset=utf-8"


def test_http_vendor_json_is_parsed() -> None:
    assert response_result(_response(200, b"[1]", "application/problem+json")).result["body"] == [1]


def test_http_bad_json_is_kept_as_text() -> None:
    result = response_result(_response(200, b"{nope", "application/json"))
    assert result.result["body"] == "{nope"
    assert result.result["parsed"] is False


def test_http_text_is_not_parsed() -> None:
    result = response_result(_response(200, b'{"a": 1}', "text/plain"))
    assert result.result["body"] == '{"a": 1}'
    assert result.result["parsed"] is False


@pytest.mark.parametrize(("code", "status"), [(200, S.SUCCEEDED), (206, S.SUCCEEDED), (207, S.FAILED)])
def test_http_success_range(code: int, status: ExecutionStatus) -> None:
    assert response_result(_response(code, b"", "text/plain")).status is status


def test_http_error_status_message() -> None:
    assert response_result(_response(404, b"", "text/plain")).error == "HTTP 404 Not Found"
