"""The triggers pages: trigger instances arriving live with their payloads, filtered by trigger type, the trigger
types, and one instance's page with what it caused (rule enforcements -> executions)."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import Dashboard, log_in, screenshot

DEPLOY = "dashboard_demo.deploy_notice"


def test_a_webhook_shows_up_live_with_its_payload(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    page.goto(dashboard.url + "/#/triggers")
    expect(page.get_by_role("heading", name="Triggers", exact=True)).to_be_visible()
    types = page.get_by_role("table", name="Trigger types")
    expect(types.get_by_role("cell", name="core.st2.webhook", exact=True)).to_be_visible()
    instances = page.get_by_role("table", name="Trigger instances (newest first)")
    expect(instances).to_be_visible()

    marker = f"live-{uuid.uuid4().hex[:8]}"
    sent = dashboard.api("POST", "/api/v1/webhooks/rules-deploy", json={"env": "dev", "count": 1, "service": marker})
    row = page.get_by_test_id(f"instance-{sent['id']}")
    expect(row).to_contain_text("core.st2.webhook")  # without a reload: from the event stream
    expect(row).to_contain_text(f'"service":"{marker}"')
    expect(row).to_contain_text("processed")
    screenshot(page, "dashboard-triggers")


def test_the_instances_filter_by_trigger_type(page: Page, dashboard: Dashboard) -> None:
    marker = f"notify-{uuid.uuid4().hex[:8]}"
    notify = dashboard.api(
        "POST", "/api/v1/webhooks/st2", json={"trigger": "core.st2.generic.notifytrigger", "payload": {"m": marker}}
    )
    hook = dashboard.api("POST", "/api/v1/webhooks/rules-deploy?wait=30", json={"env": "dev", "count": 0})
    log_in(page, dashboard)
    page.goto(dashboard.url + "/#/triggers")
    expect(page.get_by_test_id(f"instance-{notify['id']}")).to_contain_text(marker)

    page.get_by_label("Trigger type", exact=True).select_option("core.st2.webhook")
    expect(page).to_have_url(re.compile(r"#/triggers\?trigger=core\.st2\.webhook$"))
    expect(page.get_by_test_id(f"instance-{hook['trigger_instance']}")).to_be_visible()
    expect(page.get_by_test_id(f"instance-{notify['id']}")).to_have_count(0)
    page.reload()
    expect(page.get_by_label("Trigger type", exact=True)).to_have_value("core.st2.webhook")
    expect(page.get_by_test_id(f"instance-{hook['trigger_instance']}")).to_be_visible()
    expect(page.get_by_test_id(f"instance-{notify['id']}")).to_have_count(0)


def test_an_instance_page_leads_from_the_payload_to_the_rule_and_the_execution(
    page: Page, dashboard: Dashboard
) -> None:
    service = f"chain-{uuid.uuid4().hex[:8]}"
    fired = dashboard.api(
        "POST", "/api/v1/webhooks/rules-deploy?wait=30", json={"env": "prod", "count": 3, "service": service}
    )
    (execution,) = fired["executions"]
    instance = fired["trigger_instance"]
    log_in(page, dashboard)
    page.goto(dashboard.url + "/#/triggers")
    page.get_by_test_id(f"instance-{instance}").get_by_role("link", name=instance).click()
    expect(page.get_by_role("heading", name=f"Trigger instance {instance}")).to_be_visible()
    expect(page.get_by_label("The trigger payload (JSON)")).to_contain_text(f'"service": "{service}"')
    caused = page.get_by_test_id(f"caused-{DEPLOY}")
    expect(caused).to_contain_text("matched, started the action")
    expect(caused).to_contain_text(execution["id"])
    expect(caused).to_contain_text("succeeded")
    screenshot(page, "dashboard-trigger-instance")

    # The rule link opens the rule's test box with this very payload.
    caused.get_by_role("link", name=DEPLOY).click()
    expect(page.get_by_role("heading", name=f"Rule {DEPLOY}")).to_be_visible()
    expect(page.locator("#rule-test-origin")).to_contain_text(
        f"Prefilled with the payload of trigger instance {instance}"
    )
    expect(page.get_by_label("Payload (JSON)")).to_have_value(re.compile(service))
    page.go_back()
    page.get_by_test_id(f"caused-{DEPLOY}").get_by_role("link", name=execution["id"]).click()
    expect(page).to_have_url(re.compile(f"#/executions/{execution['id']}$"))


def test_an_instance_no_rule_matched_says_so(page: Page, dashboard: Dashboard) -> None:
    fired = dashboard.api("POST", "/api/v1/webhooks/rules-deploy?wait=30", json={"env": "dev", "count": 9})
    assert fired["executions"] == []
    log_in(page, dashboard)
    page.goto(f"{dashboard.url}/#/triggers/{fired['trigger_instance']}")
    expect(
        page.get_by_role("cell", name="No enabled rule matched this instance, so it started nothing.")
    ).to_be_visible()


def test_an_unknown_instance_shows_the_api_message(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    page.goto(f"{dashboard.url}/#/triggers/no-such-instance")
    expect(page.get_by_role("alert")).to_contain_text(
        "trigger instance 'no-such-instance' not found; it may not be processed yet or it expired"
    )
