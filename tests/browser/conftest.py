"""Fixtures of the dashboard's browser tests: a real ``st2lite up`` and Debian's Chromium driven by Playwright.

- ``chromium_path`` (session): ``/usr/bin/chromium``, installed with ``apt-get`` when missing and we may
  (:mod:`tests.browser.chromium`). When it cannot be had the tests are skipped with the reason, or fail when
  ``CI`` is set (CI must run them).
- ``dashboard`` (module): ``st2lite up`` (API, rules engine, sensor container, 2 workers; its own embedded
  Redis) with the packs in ``tests/browser/packs/`` and the admin ``st2admin`` whose password it printed.
- ``browser`` (module) and ``page`` (test): a headless Chromium page at 1366x800; a script error on the
  page fails the test.
- :func:`log_in` fills the login form; :func:`screenshot` saves ``docs/images/<name>.png`` when
  ``ST2LITE_SCREENSHOTS=1`` (``make screenshots``), so a test run leaves the tree as it was.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.browser.chromium import ChromiumUnavailable, ensure_chromium
from tests.e2e.conftest import Procs, Up, _st2lite_command, service_env

PACKS = Path(__file__).parent / "packs"
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
ADMIN_PASSWORD = re.compile(r"Created user st2admin \(admin\) with password: (\S+)")
#: Without the background-networking flags Chromium keeps dialling Google's hosts on this closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: How long a browser action or assertion waits for the page to reach what it expects (ms): generous, since
#: the machines CI runs on are small and busy.
UI_TIMEOUT_MS = 20_000
expect.set_options(timeout=UI_TIMEOUT_MS)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    try:
        return str(ensure_chromium())
    except ChromiumUnavailable as problem:
        if in_ci():
            pytest.fail(f"CI must run the dashboard's browser tests, but {problem}")
        pytest.skip(str(problem))


@dataclass
class Dashboard:
    """A running ``st2lite up`` and how to reach it."""

    up: Up
    admin_password: str

    @property
    def url(self) -> str:
        return self.up.api_url

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """An API call as the admin (API key); the answer's JSON (None for 204). Fails on an error status."""
        response = self.up._http.request(method, self.url + path, **kwargs)
        assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def add_user(self, name: str, role: str, password: str) -> None:
        """``st2lite user add NAME --role ROLE`` in this st2lite's home."""
        env = service_env(ST2LITE_HOME=self.up.home, ST2LITE_REDIS_URL=self.up.redis_url)
        done = subprocess.run(
            [*_st2lite_command(), "user", "add", name, "--role", role, "--password-stdin"],
            input=password,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"st2lite user add {name}: {done.stdout}{done.stderr}"


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    folder = tmp_path_factory.mktemp("dashboard")
    procs = Procs(folder)
    site = folder / "site"
    site.mkdir()
    try:
        up = Up.start(procs, folder / "home", site, ST2LITE_PACKS_PATH=PACKS)
        printed = ADMIN_PASSWORD.search(up.output())
        assert printed, f"st2lite up printed no admin password:\n{up.output()}"
        yield Dashboard(up, printed.group(1))
    finally:
        procs.cleanup()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Per module: Playwright's sync API runs an event loop in this thread while it is open, and the other
    test folders call ``asyncio.run``, which refuses to start inside a running loop."""
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 800}, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"the dashboard raised script errors: {errors}"


def log_in(page: Page, dashboard: Dashboard, user: str = "st2admin", password: str | None = None) -> None:
    """Open the dashboard and log in with a user and password (the admin's by default)."""
    page.goto(dashboard.url + "/")
    expect(page.get_by_role("heading", name="Log in to st2lite")).to_be_visible()
    page.get_by_label("User", exact=True).fill(user)
    page.get_by_label("Password", exact=True).fill(password if password is not None else dashboard.admin_password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("session-user")).to_contain_text(user)


def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    """Save ``docs/images/<name>.png`` of the window (or the whole page) when ``ST2LITE_SCREENSHOTS=1``."""
    if os.environ.get("ST2LITE_SCREENSHOTS") == "1":
        IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(IMAGES / f"{name}.png"), full_page=full_page)
