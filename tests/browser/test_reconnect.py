"""The dashboard survives its API process being killed: the supervisor restarts it, the page's event stream
reconnects by itself, and the list goes on updating without a reload (its own module: it kills the API)."""

from __future__ import annotations

import os
import signal
import uuid

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import Dashboard, log_in
from tests.e2e.conftest import alive, command_lines, wait_for

API_COMMAND = "-m st2lite.services api"


def api_pid(dashboard: Dashboard) -> int | None:
    pids = [pid for pid, line in command_lines(dashboard.up.process.pid).items() if API_COMMAND in line]
    return pids[0] if len(pids) == 1 else None


def answers(dashboard: Dashboard) -> bool | None:
    try:
        return httpx.get(dashboard.url + "/api/v1/health", timeout=2).status_code == 200 or None
    except httpx.HTTPError:
        return None


def test_the_live_list_resumes_after_the_api_is_killed(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    page.get_by_role("link", name="Executions", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Executions")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    first = wait_for(lambda: api_pid(dashboard), what="the API process of st2lite up")
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: not alive(first) or None, what="the killed API process to go", timeout=10)
    wait_for(
        lambda: (api_pid(dashboard) or first) != first or None, what="the supervisor to restart the API", timeout=60
    )
    wait_for(lambda: answers(dashboard), what="the restarted API to answer", timeout=60)

    # Fired at once: the page's stream may not be back yet, and had sent no event to resume after.
    accepted = dashboard.api("POST", "/api/v1/webhooks/exec_hello", json={"who": f"after-{uuid.uuid4().hex[:6]}"})
    execution = wait_for(
        lambda: next(
            iter(dashboard.api("GET", "/api/v1/executions", params={"trigger_instance": accepted["id"]})), None
        ),
        what="the webhook's execution",
    )["id"]
    row = page.locator(f'[data-testid="execution-row-{execution}"]')
    expect(row).to_contain_text("succeeded", timeout=40_000)  # the browser retries after a few seconds
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
