"""The overview page: counts, the per-minute chart and failing actions follow executions without a reload."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Dashboard, log_in, screenshot

OK = "dashboard_demo.misc_ok"
FAIL = "dashboard_demo.misc_fail"


def run(dashboard: Dashboard, action: str) -> str:
    execution: dict[str, str] = dashboard.api("POST", "/api/v1/executions", json={"action": action, "parameters": {}})
    return execution["id"]


def chart_counts(page: Page) -> dict[str, int]:
    """Sum of the chart's bar segments' ``data-count`` by ``data-status``."""
    counts: dict[str, int] = page.eval_on_selector_all(
        "svg[data-testid=executions-chart] rect.bar",
        """rects => rects.reduce((acc, r) => {
            acc[r.dataset.status] = (acc[r.dataset.status] || 0) + Number(r.dataset.count); return acc; }, {})""",
    )
    return counts


def table_total(page: Page) -> int:
    """The sum of the "Total" column of the chart's data table."""
    total: int = page.eval_on_selector_all(
        "details.chart-data tbody tr:not(.empty) td:last-child",
        "cells => cells.reduce((sum, c) => sum + Number(c.textContent), 0)",
    )
    return total


def test_the_overview_follows_executions_without_a_reload(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    expect(page.get_by_test_id("stat-queue-depth")).to_have_text("0")
    expect(page.get_by_role("region", name="Queue depth")).to_contain_text("actions: 0")
    page.evaluate("window.__same_page = true")

    failed = [run(dashboard, FAIL) for _ in range(2)]
    for _ in range(3):
        run(dashboard, OK)

    summary = page.get_by_test_id("chart-summary")
    expect(summary).to_contain_text("5 executions in the last 60 minutes")
    expect(summary).to_contain_text("3 succeeded, 2 failed")
    expect(page.get_by_test_id("stat-failed")).to_have_text("2")
    row = page.get_by_role("table", name="Actions that failed in the last 1 hour, most failures first").get_by_role(
        "row", name=FAIL
    )
    expect(row).to_contain_text("2 / 2")
    # The last failure links to one of the two failed executions.
    href = row.get_by_role("link").nth(1).get_attribute("href") or ""
    assert href.removeprefix("#/executions/") in failed
    assert chart_counts(page) == {"succeeded": 3, "failed": 2}
    chart = page.get_by_role("img", name="5 executions in the last 60 minutes", exact=False)
    expect(chart).to_be_visible()
    expect(page.get_by_role("list", name="Legend")).to_contain_text("succeeded")
    screenshot(page, "dashboard-overview", full_page=True)
    # The text alternative: the same numbers in a table, which stays open through the refreshes.
    page.get_by_text("Show the numbers as a table").click()
    data = page.get_by_role("table", name="Executions per minute by status")
    expect(data).to_be_visible()
    assert table_total(page) == 5
    run(dashboard, OK)
    expect(summary).to_contain_text("4 succeeded, 2 failed")
    expect(data).to_be_visible()
    assert table_total(page) == 6
    assert page.evaluate("window.__same_page") is True, "the page was reloaded"


def test_the_window_is_kept_in_the_address(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    page.get_by_label("Window").select_option(label="Last 15 minutes")
    expect(page.get_by_test_id("chart-summary")).to_contain_text("15 minutes")
    assert page.url.endswith("#/?minutes=15")
    page.reload()
    expect(page.get_by_label("Window")).to_have_value("15")
    expect(page.get_by_role("region", name="Failed in 15 minutes")).to_be_visible()


def test_a_bad_window_in_the_address_says_so_and_shows_the_last_hour(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    page.goto(dashboard.url + "/#/?minutes=abc")
    expect(page.get_by_test_id("window-problem")).to_have_text(
        'The window "abc" is not one of 15, 60, 240, 1440 minutes; showing the last hour instead.'
    )
    expect(page.get_by_label("Window")).to_have_value("60")
    expect(page.get_by_role("region", name="Failed in 1 hour")).to_be_visible()
    # Choosing a window clears the message.
    page.get_by_label("Window").select_option("240")
    expect(page.get_by_test_id("window-problem")).to_be_hidden()
    expect(page.get_by_role("region", name="Failed in 4 hours")).to_be_visible()


def test_a_viewer_sees_the_overview_and_no_buttons(page: Page, dashboard: Dashboard) -> None:
    dashboard.add_user("olive", "viewer", "olive-password-1")
    log_in(page, dashboard, user="olive", password="olive-password-1")
    expect(page.get_by_test_id("chart-summary")).to_contain_text("in the last 60 minutes")
    expect(page.get_by_role("region", name="Running now")).to_be_visible()
    expect(page.get_by_role("button")).to_have_count(1)  # only "Log out"


def test_a_day_of_minutes_is_drawn_as_120_bars_stacked_in_status_order(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    layout = page.evaluate(
        """async () => {
            const { barLayout } = await import("/ui/js/chart.js");
            const perMinute = Array.from({ length: 1440 }, (_, i) => ({
                minute: `minute-${i}`,
                counts: { failed: i === 1439 ? 1 : 0, running: i === 0 ? 1 : 0, succeeded: i < 12 ? 3 : 0 },
            }));
            const l = barLayout(perMinute, { width: 800, height: 200, maxBars: 120 });
            return { bars: l.bars.length, per: l.minutesPerBar, max: l.max, statuses: l.statuses,
                     first: l.bars[0], last: l.bars[119] };
        }"""
    )
    assert (layout["bars"], layout["per"], layout["max"]) == (120, 12, 37)
    assert layout["statuses"] == ["succeeded", "failed", "running"]
    first = layout["first"]
    assert (first["start"], first["end"], first["total"]) == ("minute-0", "minute-11", 37)
    # Stacked bottom-up: succeeded at the bottom of the full-height bar, running on top.
    assert [(s["status"], s["count"]) for s in first["segments"]] == [("succeeded", 36), ("running", 1)]
    assert abs(first["segments"][0]["y"] + first["segments"][0]["height"] - 200) < 1e-9
    assert abs(first["segments"][1]["y"]) < 1e-9
    assert [(s["status"], s["count"]) for s in layout["last"]["segments"]] == [("failed", 1)]
