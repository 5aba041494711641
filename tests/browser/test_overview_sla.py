"""An SLA miss reaches the overview: a real ``action.sla`` policy, a late execution, the row and its links.

Its own module (its own ``st2lite up``): the overview's other tests count every execution of theirs exactly.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Dashboard, log_in
from tests.e2e.conftest import wait_for

SLOW = "dashboard_demo.misc_slow"  # sleeps 3 s; its policy dashboard_demo.misc_sla allows 1 s


def test_a_late_execution_shows_as_an_sla_miss_with_links(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    expect(page.get_by_test_id("stat-sla-misses")).to_have_text("0")
    late = dashboard.api("POST", "/api/v1/executions", json={"action": SLOW})["id"]

    table = page.get_by_role("table", name="The newest executions that ran past their SLA policy's deadline")
    row = table.get_by_role("row").filter(has_text=late)
    expect(row).to_contain_text(SLOW)
    expect(row).to_contain_text("dashboard_demo.misc_sla")
    expect(page.get_by_test_id("stat-sla-misses")).to_have_text("1")

    # The row's links: the late execution, and the trigger instance the miss was emitted as.
    misses = dashboard.api("GET", "/api/v1/triggerinstances", params={"trigger": "core.st2.sla_missed"})
    instance = next(i["id"] for i in misses if i["payload"]["execution_id"] == late)
    row.get_by_role("link", name=instance).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Trigger instance {instance}")
    page.go_back()
    page.get_by_role("table", name="The newest executions that ran past their SLA policy's deadline").get_by_role(
        "link", name=late
    ).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Execution of {SLOW}")
    wait_for(
        lambda: dashboard.api("GET", f"/api/v1/executions/{late}")["status"] == "succeeded" or None,
        what="the late execution to finish anyway",
        timeout=30,
    )
