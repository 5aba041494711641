"""What an operator gets: the buttons that run, cancel and re-run (and they work), but no rule toggles, which
need an admin (rule_modify). The viewer's side is in each page's tests."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import Dashboard, log_in
from tests.browser.test_execution_page import open_execution, run, status_of, wait_status

OPERATOR, PASSWORD = "otto", "otto-password-1"
TOGGLE = re.compile(r"^(Enable|Disable) ")


def test_an_operator_cancels_and_re_runs_but_cannot_toggle_rules(page: Page, dashboard: Dashboard) -> None:
    dashboard.add_user(OPERATOR, "operator", PASSWORD)
    sleeper = run(dashboard, "dashboard_demo.exec_sleep")
    wait_status(dashboard, sleeper, "running")
    log_in(page, dashboard, user=OPERATOR, password=PASSWORD)
    expect(page.get_by_test_id("session-user")).to_have_text(f"{OPERATOR} (operator)")

    open_execution(page, dashboard, sleeper)
    expect(page.get_by_role("button", name="Re-run")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.get_by_test_id("execution-status")).to_have_text("canceled")
    assert status_of(dashboard, sleeper) == "canceled"

    page.get_by_role("link", name="Rules", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Rules")).to_be_visible()
    expect(page.get_by_role("link", name="dashboard_demo.exec_hello_webhook")).to_be_visible()
    expect(page.get_by_role("button", name=TOGGLE)).to_have_count(0)
    page.get_by_role("link", name="dashboard_demo.exec_hello_webhook").click()
    expect(page.get_by_role("button", name="Test")).to_be_visible()  # testing changes nothing: every role may
    expect(page.get_by_role("button", name=TOGGLE)).to_have_count(0)
