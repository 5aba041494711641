"""The executions list (``#/executions``): live through the event stream, filtered through the hash query."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import Dashboard, log_in, screenshot
from tests.e2e.conftest import wait_for


def test_a_webhook_execution_appears_and_turns_succeeded_without_reload(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    page.get_by_role("link", name="Executions").click()
    expect(page.get_by_role("heading", name="Executions", exact=True)).to_be_visible()
    expect(page.get_by_text("Executions, newest first (live)")).to_be_visible()
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    summary = page.locator("#executions-summary")
    expect(summary).to_have_text(re.compile(r"^\d+ executions?\.$"))
    before = _count(summary.text_content())

    who = f"tester-{uuid.uuid4().hex[:6]}"
    dashboard.api("POST", "/api/v1/webhooks/exec_hello", json={"who": who})
    execution = _newest(dashboard, "dashboard_demo.exec_hello", who)

    row = page.locator(f'[data-testid="execution-row-{execution}"]')
    expect(row).to_be_visible()
    expect(row.get_by_text("succeeded", exact=True)).to_be_visible()
    expect(row.get_by_role("link", name="dashboard_demo.exec_hello_webhook")).to_be_visible()
    expect(row.get_by_role("link", name="core.st2.webhook")).to_be_visible()
    expect(row).to_contain_text(" ms")  # its duration
    assert page.evaluate("window.__sameDocument") is True
    # The newest execution is the first row.
    expect(page.locator("tbody tr").first).to_have_attribute("data-execution-id", execution)
    # The count follows the rows the stream adds (other executions may start meanwhile: at least one more).
    assert _count(summary.text_content()) >= before + 1
    screenshot(page, "dashboard-executions")


def _count(summary: str | None) -> int:
    found = re.search(r"(\d+) executions?\.$", summary or "")
    assert found, f"the list's summary says {summary!r}"
    return int(found.group(1))


def test_filters_go_to_the_hash_and_the_api(page: Page, dashboard: Dashboard) -> None:
    failed = dashboard.api("POST", "/api/v1/executions", json={"action": "dashboard_demo.exec_fail"})["id"]
    hello = dashboard.api("POST", "/api/v1/executions", json={"action": "dashboard_demo.exec_hello"})["id"]
    log_in(page, dashboard)
    page.goto(dashboard.url + "/#/executions")
    page.get_by_label("Action", exact=True).fill("dashboard_demo.exec_fail")
    page.get_by_label("Status", exact=True).select_option("failed")
    expect(page.locator(f'[data-execution-id="{failed}"]')).to_be_visible()
    expect(page.locator(f'[data-execution-id="{hello}"]')).to_have_count(0)
    for row in page.locator("tbody tr[data-execution-id]").all():
        expect(row).to_contain_text("dashboard_demo.exec_fail")
        expect(row).to_contain_text("failed")
    assert "status=failed" in page.url and "action=dashboard_demo.exec_fail" in page.url

    # A reload keeps the filters (they are in the hash).
    page.reload()
    expect(page.get_by_label("Status", exact=True)).to_have_value("failed")
    expect(page.get_by_label("Action", exact=True)).to_have_value("dashboard_demo.exec_fail")
    expect(page.locator(f'[data-execution-id="{failed}"]')).to_be_visible()

    # A new matching execution appears live; one that does not match stays out.
    other = dashboard.api("POST", "/api/v1/executions", json={"action": "dashboard_demo.exec_hello"})["id"]
    again = dashboard.api("POST", "/api/v1/executions", json={"action": "dashboard_demo.exec_fail"})["id"]
    expect(page.locator(f'[data-execution-id="{again}"]')).to_contain_text("failed")
    expect(page.locator(f'[data-execution-id="{other}"]')).to_have_count(0)


def test_a_rule_filter_lists_only_that_rules_executions(page: Page, dashboard: Dashboard) -> None:
    who = f"rule-{uuid.uuid4().hex[:6]}"
    dashboard.api("POST", "/api/v1/webhooks/exec_hello", json={"who": who})
    by_rule = _newest(dashboard, "dashboard_demo.exec_hello", who)
    by_hand = dashboard.api("POST", "/api/v1/executions", json={"action": "dashboard_demo.exec_hello"})["id"]
    log_in(page, dashboard)
    page.goto(dashboard.url + "/#/executions?rule=dashboard_demo.exec_hello_webhook")
    expect(page.get_by_label("Rule", exact=True)).to_have_value("dashboard_demo.exec_hello_webhook")
    expect(page.locator(f'[data-execution-id="{by_rule}"]')).to_be_visible()
    expect(page.locator(f'[data-execution-id="{by_hand}"]')).to_have_count(0)


def test_a_time_range_that_ends_before_it_starts_says_so(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    page.goto(dashboard.url + "/#/executions")
    page.get_by_label("From", exact=True).fill("2026-05-02T10:00:00")
    page.get_by_label("To", exact=True).fill("2026-05-01T10:00:00")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("alert")).to_have_text(
        'The time range is empty: "To" must be after "From". Change one of them.'
    )
    expect(page.get_by_text("No executions match these filters.")).to_be_visible()


def test_a_time_range_in_the_past_lists_nothing_new(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    page.goto(dashboard.url + "/#/executions?from=2001-01-01T00:00:00&to=2001-01-02T00:00:00")
    expect(page.get_by_text("No executions match these filters.")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)


def _newest(dashboard: Dashboard, action: str, who: str) -> str:
    """The id of the execution of ``action`` whose ``who`` parameter is ``who`` (waits for the rule to run it)."""

    def found() -> str | None:
        items = dashboard.api("GET", "/api/v1/executions", params={"action": action, "limit": 20})
        return next((e["id"] for e in items if e["parameters"].get("who") == who), None)

    return wait_for(found, timeout=20, what=f"an execution of {action} for {who}")
