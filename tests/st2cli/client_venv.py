"""The virtualenv the real StackStorm CLI (``st2client``) runs from in the tests, built once and cached.

st2client pins old versions of its dependencies (requests, urllib3,
jsonschema 3.2 ...), so it lives in a virtualenv of its own, never in
st2lite's. It needs Python 3.11 or 3.12: 3.13 removed the ``pipes`` module
it imports. The virtualenv is ``.venv-st2client/`` at the repository root (not
in git); a stamp file inside records what it was built for, and it is
rebuilt when :data:`ST2CLIENT_VERSION` changes or it no longer runs. A file
lock keeps two test processes from building it at once.

``python tests/st2cli/client_venv.py`` builds it by hand and prints the path of ``st2``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["ST2CLIENT_VERSION", "VENV", "VenvUnavailable", "ensure_venv", "find_python"]

#: The st2client release the compatibility tests drive.
ST2CLIENT_VERSION = "3.9.0"
REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-st2client"
#: Names an interpreter to build the virtualenv with (Python 3.11 or 3.12).
PYTHON_ENV = "ST2LITE_ST2CLIENT_PYTHON"
#: Python versions st2client 3.9.0 runs on.
SUPPORTED = ((3, 11), (3, 12))
_STAMP = "st2lite-st2client.json"
#: Seconds pip gets to install st2client and its dependencies.
_INSTALL_TIMEOUT = 600


class VenvUnavailable(Exception):
    """The st2client virtualenv cannot be built here; the message says how to fix that."""


def _version_of(python: str) -> tuple[int, int] | None:
    """``(major, minor)`` of the interpreter ``python``, or None when it does not run."""
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    major, minor = done.stdout.split()
    return int(major), int(minor)


def find_python() -> str:
    """A Python 3.11/3.12 interpreter: ``$ST2LITE_ST2CLIENT_PYTHON``, else this one, python3.12, python3.11, python3.

    Raises:
        VenvUnavailable: The named interpreter does not fit, or none was found.
    """
    named = os.environ.get(PYTHON_ENV)
    if named:
        version = _version_of(named)
        if version not in SUPPORTED:
            found = "does not run" if version is None else f"is Python {version[0]}.{version[1]}"
            raise VenvUnavailable(f"{PYTHON_ENV}={named} {found}; st2client {ST2CLIENT_VERSION} needs 3.11 or 3.12")
        return named
    candidates = [
        getattr(sys, "_base_executable", sys.executable),
        *(shutil.which(n) for n in ("python3.12", "python3.11", "python3")),
    ]
    for python in candidates:
        if python and _version_of(python) in SUPPORTED:
            return python
    raise VenvUnavailable(
        f"no Python 3.11 or 3.12 found (st2client {ST2CLIENT_VERSION} does not run on 3.13+); "
        f"install one, or name it with {PYTHON_ENV}=/path/to/python3.12"
    )


def _stamp(venv: Path) -> dict[str, str] | None:
    try:
        found: dict[str, str] = json.loads((venv / _STAMP).read_text())
    except (OSError, ValueError):
        return None
    return found


def _usable(venv: Path) -> bool:
    """True when ``venv`` was built for :data:`ST2CLIENT_VERSION` and its ``st2`` still runs."""
    stamp = _stamp(venv)
    if stamp is None or stamp.get("st2client") != ST2CLIENT_VERSION:
        return False
    try:
        done = subprocess.run(
            [str(venv / "bin" / "st2"), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):  # gone, or its interpreter was uninstalled
        return False
    return done.returncode == 0 and ST2CLIENT_VERSION in done.stdout + done.stderr


def _run(argv: list[str], what: str, timeout: float) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise VenvUnavailable(f"{what} did not finish within {timeout:.0f}s (offline?)") from exc
    output = done.stdout + done.stderr
    if done.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise VenvUnavailable(f"{what} failed (exit {done.returncode}):\n{tail}")
    return output


def _build(venv: Path, python: str) -> None:
    shutil.rmtree(venv, ignore_errors=True)
    try:
        _run([python, "-m", "venv", str(venv)], f"{python} -m venv {venv}", 120)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        _run(
            [*pip, "install", "--quiet", "--timeout", "30", f"st2client=={ST2CLIENT_VERSION}"],
            f"pip install st2client=={ST2CLIENT_VERSION} (into {venv})",
            _INSTALL_TIMEOUT,
        )
        version = _run([str(venv / "bin" / "st2"), "--version"], "st2 --version", 60)
    except VenvUnavailable as exc:
        shutil.rmtree(venv, ignore_errors=True)
        raise VenvUnavailable(
            f"cannot build the st2client virtualenv: {exc}\n"
            f"It needs network access to PyPI (or a mirror pip is configured for) and Python 3.11/3.12 "
            f"({PYTHON_ENV} names one); build it by hand with: python tests/st2cli/client_venv.py"
        ) from exc
    stamp = {"st2client": ST2CLIENT_VERSION, "python": python, "version": version.strip()}
    (venv / _STAMP).write_text(json.dumps(stamp, indent=2) + "\n")


def ensure_venv(venv: Path = VENV) -> Path:
    """The ``st2`` command of the st2client virtualenv, building the virtualenv first if needed.

    Raises:
        VenvUnavailable: It cannot be built here (no suitable Python, no network...).
    """
    st2 = venv / "bin" / "st2"
    lock_path = venv.with_name(venv.name + ".lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be building it: wait for it
        try:
            if not _usable(venv):
                _build(venv, find_python())
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return st2


if __name__ == "__main__":
    try:
        sys.stdout.write(f"{ensure_venv()}\n")
    except VenvUnavailable as problem:
        sys.exit(str(problem))
