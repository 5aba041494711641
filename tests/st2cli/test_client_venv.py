"""The st2client virtualenv builder: which interpreter it takes, when it rebuilds, and skip or fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .client_venv import PYTHON_ENV, ST2CLIENT_VERSION, VenvUnavailable, _usable, ensure_venv, find_python
from .conftest import unavailable


def fake_python(folder: Path, version: str) -> Path:
    """An executable that answers the version probe like a Python ``version`` would."""
    path = folder / f"python{version}"
    path.write_text(f"#!/bin/sh\necho {version.replace('.', ' ')}\n")
    path.chmod(0o755)
    return path


def test_a_named_interpreter_that_does_not_run_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PYTHON_ENV, "/bin/false")

    with pytest.raises(VenvUnavailable) as raised:
        find_python()

    assert (
        str(raised.value) == f"{PYTHON_ENV}=/bin/false does not run; st2client {ST2CLIENT_VERSION} needs 3.11 or 3.12"
    )


def test_a_named_python_3_13_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    python = fake_python(tmp_path, "3.13")
    monkeypatch.setenv(PYTHON_ENV, str(python))

    with pytest.raises(VenvUnavailable) as raised:
        ensure_venv(tmp_path / "venv")

    assert (
        str(raised.value) == f"{PYTHON_ENV}={python} is Python 3.13; st2client {ST2CLIENT_VERSION} needs 3.11 or 3.12"
    )
    assert not (tmp_path / "venv").exists()


def test_a_named_python_3_12_is_taken(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    python = fake_python(tmp_path, "3.12")
    monkeypatch.setenv(PYTHON_ENV, str(python))

    assert find_python() == str(python)


def test_a_virtualenv_built_for_another_version_is_not_used(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "st2lite-st2client.json").write_text(json.dumps({"st2client": "3.8.1"}))

    assert not _usable(venv)


def test_without_a_virtualenv_the_test_is_skipped_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    problem = VenvUnavailable("no Python 3.11 or 3.12 found")

    with pytest.raises(pytest.skip.Exception, match="no Python 3.11 or 3.12 found"):
        unavailable(problem)


def test_without_a_virtualenv_ci_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    problem = VenvUnavailable("no Python 3.11 or 3.12 found")

    with pytest.raises(pytest.fail.Exception, match="CI must run the st2 CLI tests, but no Python 3.11 or 3.12 found"):
        unavailable(problem)


def test_a_virtualenv_whose_st2_does_not_run_is_not_used(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "st2lite-st2client.json").write_text(json.dumps({"st2client": ST2CLIENT_VERSION}))
    (venv / "bin" / "st2").symlink_to(tmp_path / "uninstalled-python")

    assert not _usable(venv)
