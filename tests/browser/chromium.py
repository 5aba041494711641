"""Debian's Chromium for the browser tests: found on the machine, or installed with ``apt-get``.

Playwright's own browser download needs the internet, which this machine does not have; Debian's
``chromium`` package comes from the package mirror. Installing needs root (CI runs as root); elsewhere
install it yourself (``sudo apt-get install chromium``) or point ``ST2LITE_CHROMIUM`` at a Chromium.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

DEBIAN_CHROMIUM = Path("/usr/bin/chromium")


class ChromiumUnavailable(Exception):
    """There is no Chromium and it cannot be installed here; the message says how to get one."""


def find_chromium() -> Path | None:
    configured = os.environ.get("ST2LITE_CHROMIUM")
    if configured:
        return Path(configured)
    if DEBIAN_CHROMIUM.is_file():
        return DEBIAN_CHROMIUM
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(found) if found else None


def ensure_chromium() -> Path:
    """The Chromium to drive, installing Debian's package first when there is none."""
    found = find_chromium()
    if found is not None:
        if not found.is_file():
            raise ChromiumUnavailable(f"ST2LITE_CHROMIUM is {found}, which is not a file")
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise ChromiumUnavailable(
            "Chromium is not installed and cannot be installed here (needs apt-get as root): "
            "run 'sudo apt-get install chromium' or set ST2LITE_CHROMIUM to a Chromium binary"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0:
            tail = (done.stdout + done.stderr)[-2000:]
            raise ChromiumUnavailable(f"'{' '.join(argv)}' failed ({done.returncode}):\n{tail}")
    if not DEBIAN_CHROMIUM.is_file():
        raise ChromiumUnavailable(f"apt-get installed chromium but {DEBIAN_CHROMIUM} is not there")
    return DEBIAN_CHROMIUM
