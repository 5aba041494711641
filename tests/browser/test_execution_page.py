"""The execution page (``#/executions/<id>``): output, a chain's timeline, cancel, re-run, inquiries, roles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Dashboard, log_in, screenshot
from tests.e2e.conftest import wait_for


def run(dashboard: Dashboard, action: str, **parameters: Any) -> str:
    created = dashboard.api("POST", "/api/v1/executions", json={"action": action, "parameters": parameters})
    return str(created["id"])


def status_of(dashboard: Dashboard, execution_id: str) -> str:
    return str(dashboard.api("GET", f"/api/v1/executions/{execution_id}")["status"])


def wait_status(dashboard: Dashboard, execution_id: str, *statuses: str) -> str:
    return wait_for(
        lambda: (s := status_of(dashboard, execution_id)) in statuses and s,
        timeout=30,
        what=f"execution {execution_id} to be {' or '.join(statuses)}",
    )


def open_execution(page: Page, dashboard: Dashboard, execution_id: str) -> None:
    page.goto(f"{dashboard.url}/#/executions/{execution_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Execution of")


@pytest.fixture
def sleeper(dashboard: Dashboard) -> Iterator[str]:
    """A running ``sleep 60`` (canceled at the end, whatever the test did)."""
    execution_id = run(dashboard, "dashboard_demo.exec_sleep")
    yield execution_id
    if status_of(dashboard, execution_id) not in ("canceled", "succeeded", "failed", "timeout", "abandoned"):
        dashboard.api("DELETE", f"/api/v1/executions/{execution_id}")


def test_output_streams_with_stderr_marked_and_the_result_shows(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    execution_id = run(dashboard, "dashboard_demo.exec_hello", who="ada")
    open_execution(page, dashboard, execution_id)
    expect(page.get_by_role("heading", level=1)).to_have_text("Execution of dashboard_demo.exec_hello")
    expect(page.get_by_test_id("execution-status")).to_have_text("succeeded")
    output = page.get_by_test_id("execution-output")
    expect(output.locator('[data-stream="stdout"]')).to_have_text("hello ada\n")
    expect(output.locator('[data-stream="stderr"]')).to_have_text("a warning for ada\n")
    expect(page.get_by_label("Parameters (JSON)")).to_contain_text('"who": "ada"')
    expect(page.get_by_label("Result (JSON)")).to_contain_text('"return_code": 0')
    expect(page.get_by_text("Run by")).to_be_visible()
    output.scroll_into_view_if_needed()
    screenshot(page, "dashboard-execution-output")


def test_a_chain_shows_one_bar_per_task_and_per_item(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    chain = run(dashboard, "dashboard_demo.exec_fanout")
    wait_status(dashboard, chain, "succeeded")
    open_execution(page, dashboard, chain)
    timeline = page.get_by_test_id("gantt")
    expect(timeline.get_by_role("heading", name="Timeline")).to_be_visible()
    bars = timeline.get_by_test_id("gantt-bar")
    expect(bars).to_have_count(5)  # prepare, fan[0], fan[1], fan[2], finish
    labels = [bars.nth(i).get_attribute("data-label") for i in range(5)]
    assert labels == ["prepare", "fan[0]", "fan[1]", "fan[2]", "finish"]
    for i in range(5):
        expect(bars.nth(i)).to_have_attribute("data-status", "succeeded")
        expect(bars.nth(i)).to_have_attribute(
            "aria-label", re.compile(rf"^{re.escape(labels[i])}: succeeded, started at \+.+, ran .+$")
        )
    expect(timeline.get_by_text("fan (3 items)")).to_be_visible()
    # The text version: a table with the same five.
    timeline.get_by_text("Tasks as a table").click()
    expect(timeline.get_by_test_id("gantt-row")).to_have_count(5)
    screenshot(page, "dashboard-execution-chain")
    # Each bar leads to its task's execution.
    children = dashboard.api("GET", f"/api/v1/executions/{chain}/children")
    second = next(c for c in children if c["context"]["chain"] == {"name": "fan", "item": 1})
    bars.nth(2).click()
    expect(page).to_have_url(f"{dashboard.url}/#/executions/{second['id']}")
    expect(page.get_by_test_id("execution-output")).to_contain_text("item green")
    expect(page.get_by_role("link", name=chain)).to_be_visible()  # "Part of" the chain


def test_cancel_a_running_action_after_confirming(page: Page, dashboard: Dashboard, sleeper: str) -> None:
    log_in(page, dashboard)
    open_execution(page, dashboard, sleeper)
    expect(page.get_by_test_id("execution-output")).to_contain_text("going to sleep")
    expect(page.get_by_test_id("execution-status")).to_have_text("running")
    page.get_by_role("button", name="Cancel").click()
    # Nothing happens on the first click: it asks.
    expect(page.get_by_text("Sure?")).to_be_visible()
    assert status_of(dashboard, sleeper) == "running"
    page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.get_by_test_id("execution-status")).to_have_text("canceled")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    assert status_of(dashboard, sleeper) == "canceled"


def test_re_run_opens_the_new_execution(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    first = run(dashboard, "dashboard_demo.exec_hello", who="bo")
    wait_status(dashboard, first, "succeeded")
    open_execution(page, dashboard, first)
    page.get_by_role("button", name="Re-run").click()
    expect(page).not_to_have_url(f"{dashboard.url}/#/executions/{first}")
    expect(page.get_by_role("link", name=first)).to_be_visible()  # "Re-run of"
    new_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_test_id("execution-status")).to_have_text("succeeded")
    again = dashboard.api("GET", f"/api/v1/executions/{new_id}")
    assert again["parameters"]["who"] == "bo"
    assert again["context"]["re-run"]["ref"] == first


def test_re_run_a_failed_chain_from_its_failed_task(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    chain = run(dashboard, "dashboard_demo.exec_broken")
    wait_status(dashboard, chain, "failed")
    open_execution(page, dashboard, chain)
    expect(page.get_by_test_id("gantt-bar").nth(1)).to_have_attribute("data-status", "failed")
    page.get_by_role("button", name="Re-run from failed task (explode)").click()
    expect(page).not_to_have_url(f"{dashboard.url}/#/executions/{chain}")
    new_id = page.url.rsplit("/", 1)[1]
    again = dashboard.api("GET", f"/api/v1/executions/{new_id}")
    assert again["context"]["re-run"] == {"ref": chain, "tasks": ["explode"], "reset": []}
    expect(page.get_by_test_id("execution-status")).to_have_text("failed")
    # The new chain kept setup from the first run and ran only explode again.
    children = dashboard.api("GET", f"/api/v1/executions/{new_id}/children")
    assert [c["context"]["chain"]["name"] for c in children] == ["explode"]


def test_an_inquiry_form_refuses_bad_answers_and_a_good_one_resumes_the_chain(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    chain = run(dashboard, "dashboard_demo.exec_approval")
    open_execution(page, dashboard, chain)
    form = page.locator(".inquiry")
    expect(form.get_by_role("heading", name="Waiting for a response")).to_be_visible()
    # Not a number: the page says so before asking the API.
    form.get_by_label("replicas (required)").fill("lots")
    form.get_by_role("button", name="Send response").click()
    expect(form.get_by_role("alert")).to_have_text('replicas must be a whole number, not "lots"')
    # Out of the schema's range: the API's own message.
    form.get_by_label("replicas (required)").fill("9")
    form.get_by_role("button", name="Send response").click()
    expect(form.get_by_role("alert")).to_contain_text("does not match the schema")
    expect(form.get_by_role("alert")).to_contain_text("9 is greater than the maximum of 5")
    # A good answer: the chain goes on and finishes.
    form.get_by_label("approved (required)").check()
    form.get_by_label("replicas (required)").fill("3")
    form.get_by_label("colour").select_option("green")
    form.get_by_role("button", name="Send response").click()
    expect(page.locator("main").get_by_role("status")).to_have_text("Response sent; the execution goes on.")
    expect(page.get_by_test_id("execution-status")).to_have_text("succeeded")
    expect(page.get_by_test_id("gantt-bar")).to_have_count(2)
    expect(page.locator(".inquiry")).to_have_count(0)
    published = dashboard.api("GET", f"/api/v1/executions/{chain}")["result"]["published"]
    assert published["replicas"] in (3, "3")


def test_a_viewer_sees_no_buttons(page: Page, dashboard: Dashboard, sleeper: str) -> None:
    dashboard.add_user("vic", "viewer", "vic-password-1")
    failed_chain = run(dashboard, "dashboard_demo.exec_broken")
    asking = run(dashboard, "dashboard_demo.exec_approval")
    wait_status(dashboard, failed_chain, "failed")
    log_in(page, dashboard, user="vic", password="vic-password-1")

    open_execution(page, dashboard, sleeper)
    expect(page.get_by_test_id("execution-output")).to_contain_text("going to sleep")
    expect(page.get_by_role("button", name="Re-run")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)

    open_execution(page, dashboard, failed_chain)
    expect(page.get_by_test_id("execution-status")).to_have_text("failed")
    expect(page.get_by_role("button")).to_have_text(["Log out"])  # the page's only button is the session's

    open_execution(page, dashboard, asking)
    expect(page.get_by_text("An operator or admin can answer it.")).to_be_visible()
    expect(page.get_by_role("button", name="Send response")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    dashboard.api("DELETE", f"/api/v1/executions/{asking}")


def test_an_unknown_execution_says_so(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    page.goto(f"{dashboard.url}/#/executions/0123456789abcdef01234567")
    expect(page.get_by_role("alert")).to_contain_text("0123456789abcdef01234567")
