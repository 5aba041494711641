"""The rules pages: the list with its enable toggle (admins only), a rule's page with its YAML, its enforcements
and the box that tests it against a payload (every bad payload named with where it is wrong)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import yaml
from playwright.sync_api import Page, Request, expect

from tests.browser.conftest import Dashboard, log_in, screenshot

DEPLOY = "dashboard_demo.deploy_notice"
TOGGLE = "dashboard_demo.toggle_demo"


def fire_deploy(dashboard: Dashboard, body: dict[str, Any]) -> dict[str, Any]:
    """POST the deploy webhook and wait for what it started: the answer has the trigger instance and executions."""
    answer: dict[str, Any] = dashboard.api("POST", "/api/v1/webhooks/rules-deploy?wait=30", json=body)
    assert answer["complete"], answer
    return answer


def open_rule(page: Page, dashboard: Dashboard, ref: str) -> None:
    page.goto(f"{dashboard.url}/#/rules/{ref}")
    expect(page.get_by_role("heading", name=f"Rule {ref}")).to_be_visible()
    # The sample payload is in (or known to be missing) before the test types its own.
    expect(page.locator("#rule-test-origin")).to_contain_text(re.compile("Prefilled with|No instance of"))


def test_an_admin_disables_a_rule_from_the_list_and_enables_it_again(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    page.goto(dashboard.url + "/#/rules")
    expect(page.get_by_role("heading", name="Rules")).to_be_visible()
    row = page.get_by_test_id(f"rule-{TOGGLE}")
    expect(row).to_contain_text("core.st2.webhook")
    expect(row).to_contain_text("core.noop")
    expect(row).to_contain_text("enabled")
    expect(row).to_contain_text("never")
    screenshot(page, "dashboard-rules")

    row.get_by_role("button", name=f"Disable {TOGGLE}").click()
    expect(row.get_by_text("disabled", exact=True)).to_be_visible()
    expect(row.get_by_role("button", name=f"Enable {TOGGLE}")).to_be_focused()
    assert dashboard.api("GET", f"/api/v1/rules/{TOGGLE}")["enabled"] is False

    row.get_by_role("button", name=f"Enable {TOGGLE}").click()
    expect(row.get_by_text("enabled", exact=True)).to_be_visible()
    assert dashboard.api("GET", f"/api/v1/rules/{TOGGLE}")["enabled"] is True


def test_the_list_filters_by_pack_and_text_and_keeps_the_filters_in_the_address(
    page: Page, dashboard: Dashboard
) -> None:
    log_in(page, dashboard)
    page.goto(dashboard.url + "/#/rules")
    page.get_by_label("Pack").select_option("dashboard_demo")
    expect(page.get_by_test_id(f"rule-{DEPLOY}")).to_be_visible()
    expect(page.get_by_test_id("rule-default.sample_rule_with_webhook")).to_have_count(0)
    page.get_by_label("Search").fill("toggle")
    expect(page.get_by_test_id(f"rule-{TOGGLE}")).to_be_visible()
    expect(page.get_by_test_id(f"rule-{DEPLOY}")).to_have_count(0)
    page.get_by_label("Search").fill("no rule has this text")
    expect(page.get_by_role("cell", name="No rule matches these filters.")).to_be_visible()
    page.get_by_label("Search").fill("toggle")
    page.reload()
    expect(page.get_by_label("Pack")).to_have_value("dashboard_demo")
    expect(page.get_by_label("Search")).to_have_value("toggle")
    expect(page.get_by_test_id(f"rule-{DEPLOY}")).to_have_count(0)


def test_a_viewer_sees_no_toggle_but_may_test_a_rule(page: Page, dashboard: Dashboard) -> None:
    dashboard.add_user("rita", "viewer", "rita-password-1")
    log_in(page, dashboard, user="rita", password="rita-password-1")
    page.goto(dashboard.url + "/#/rules")
    expect(page.get_by_test_id(f"rule-{TOGGLE}")).to_contain_text("enabled")
    expect(page.get_by_role("button", name=re.compile("^(Disable|Enable) "))).to_have_count(0)
    expect(page.get_by_role("columnheader", name="Change")).to_have_count(0)

    open_rule(page, dashboard, DEPLOY)
    expect(page.get_by_role("button", name=re.compile("^(Disable|Enable) "))).to_have_count(0)
    page.get_by_label("Payload (JSON)").fill('{"body": {"env": "prod", "count": 3, "service": "db"}}')
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.get_by_test_id("rule-test-verdict")).to_have_text("MATCHED all 2 criteria passed")


def test_a_refused_toggle_shows_the_api_message(page: Page, dashboard: Dashboard) -> None:
    rule = {
        "name": "gone_soon",
        "pack": "dashboard_demo",
        "enabled": True,
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": "rules-gone"}},
        "action": {"ref": "core.noop"},
    }
    dashboard.api("POST", "/api/v1/rules", json=rule)
    log_in(page, dashboard)
    page.goto(dashboard.url + "/#/rules")
    row = page.get_by_test_id("rule-dashboard_demo.gone_soon")
    expect(row).to_be_visible()
    dashboard.api("DELETE", "/api/v1/rules/dashboard_demo.gone_soon")  # behind the page's back
    row.get_by_role("button", name="Disable dashboard_demo.gone_soon").click()
    expect(page.get_by_role("alert")).to_have_text(
        'Could not change dashboard_demo.gone_soon: Rule "dashboard_demo.gone_soon" is not found; '
        "list the rules with GET /api/v1/rules"
    )


def test_the_rule_page_shows_its_yaml_and_the_enforcement_of_a_webhook(page: Page, dashboard: Dashboard) -> None:
    service = f"svc-{uuid.uuid4().hex[:8]}"
    fired = fire_deploy(dashboard, {"env": "prod", "count": 4, "service": service})
    (execution,) = fired["executions"]
    assert execution["status"] == "succeeded", execution
    instance = fired["trigger_instance"]

    log_in(page, dashboard)
    open_rule(page, dashboard, DEPLOY)
    shown = yaml.safe_load(page.get_by_test_id("rule-yaml").inner_text())
    assert shown == {
        "name": "deploy_notice",
        "pack": "dashboard_demo",
        "description": dashboard.api("GET", f"/api/v1/rules/{DEPLOY}")["description"],
        "enabled": True,
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": "rules-deploy"}},
        "criteria": {
            "trigger.body.env": {"type": "equals", "pattern": "prod"},
            "trigger.body.count": {"type": "greaterthan", "pattern": 2},
        },
        "action": {
            "ref": "core.echo",
            "parameters": {"message": "deploy {{ trigger.body.service }} to {{ trigger.body.env }}"},
        },
    }
    enforcement = page.get_by_test_id(f"enforcement-{instance}")
    expect(enforcement).to_contain_text(execution["id"])
    expect(enforcement).to_contain_text("succeeded")
    expect(enforcement).to_contain_text("started the action")
    enforcement.get_by_role("link", name=execution["id"]).click()
    expect(page).to_have_url(re.compile(f"#/executions/{execution['id']}$"))


def test_a_matching_payload_shows_every_criterion_passed_and_the_action_parameters(
    page: Page, dashboard: Dashboard
) -> None:
    log_in(page, dashboard)
    open_rule(page, dashboard, DEPLOY)
    page.get_by_label("Payload (JSON)").fill('{\n  "body": {"env": "prod", "count": 5, "service": "api"}\n}')
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.get_by_test_id("rule-test-verdict")).to_have_text("MATCHED all 2 criteria passed")
    env = page.get_by_test_id("criterion-trigger.body.env")
    expect(env).to_contain_text("passed")
    expect(env).to_contain_text("trigger.body.env is 'prod', which equals 'prod'")
    expect(page.get_by_test_id("criterion-trigger.body.count")).to_contain_text("passed")
    expect(page.get_by_role("heading", name="Action it would run: core.echo")).to_be_visible()
    expect(page.get_by_label("Action parameters")).to_contain_text('"message": "deploy api to prod"')
    page.get_by_test_id("rule-test-result").scroll_into_view_if_needed()
    screenshot(page, "dashboard-rule-test")


def test_a_payload_that_does_not_match_names_the_failing_criterion_and_why(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    open_rule(page, dashboard, DEPLOY)
    page.get_by_label("Payload (JSON)").fill('{"body": {"env": "staging", "count": 5}}')
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.get_by_test_id("rule-test-verdict")).to_have_text("NOT MATCHED 1 of 2 criteria failed")
    env = page.get_by_test_id("criterion-trigger.body.env")
    expect(env).to_contain_text("failed")
    expect(env).to_contain_text("trigger.body.env is 'staging', which does not equal 'prod'")
    expect(page.get_by_test_id("criterion-trigger.body.count")).to_contain_text("passed")
    expect(page.get_by_text("Nothing would run: core.echo runs only when every criterion passes.")).to_be_visible()


def test_a_bad_payload_is_named_with_its_place_and_never_sent(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    open_rule(page, dashboard, DEPLOY)
    sent: list[str] = []

    def record(request: Request) -> None:
        if request.url.endswith("/test"):
            sent.append(request.url)

    page.on("request", record)
    box = page.get_by_label("Payload (JSON)")
    cases = {
        '{"body": {"env": "prod",}}': "The payload is not valid JSON at line 1, column 25: "
        "Expected double-quoted property name.",
        '{\n  "body": {"env": "prod"}\n  "x": 1\n}': "The payload is not valid JSON at line 3, column 3: "
        "Expected ',' or '}' after property value.",
        '{"body": {"env": prod}}': "The payload is not valid JSON at line 1, column 18: Unexpected token 'p'.",
        '["prod"]': "The payload must be a JSON object ({...}), not an array.",
        "   ": 'The payload is empty: type a JSON object, such as {"body": {"name": "st2"}}.',
    }
    for text, message in cases.items():
        box.fill(text)
        page.get_by_role("button", name="Test", exact=True).click()
        expect(page.get_by_role("alert")).to_have_text(message)
        expect(box).to_have_attribute("aria-invalid", "true")
    assert sent == []
    # A good payload afterwards is sent and clears the mark.
    box.fill('{"body": {}}')
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.get_by_test_id("rule-test-verdict")).to_contain_text("NOT MATCHED")
    expect(box).not_to_have_attribute("aria-invalid", "true")
    assert len(sent) == 1


def test_the_yaml_writer_round_trips_through_a_yaml_reader(page: Page, dashboard: Dashboard) -> None:
    """yaml.js quotes what YAML would read as something else and keeps multi-line strings as blocks."""
    page.goto(dashboard.url + "/")
    tricky = {
        "plain": "deploy {{ trigger.body.service }}",
        "words": ["true", "no", "null", "~", "1.0", "0x1f", "2026-01-01", "", " lead", "trail ", "a: b", "a #b"],
        "script": "set -e\necho 'hi'\n",
        "gaps": "a\n\nb",
        "types": {"n": 2, "f": 1.5, "neg": -3, "t": True, "none": None, "empty": {}, "list": []},
        "nested": [{"a": [1, [2, {"b": "c"}]]}, "-dash", "café ✓", 'say "hi"', "tab\there"],
        "key: with colon": {"123": "number-like key"},
    }
    text = page.evaluate("(v) => import('/ui/js/yaml.js').then((m) => m.toYaml(v))", tricky)
    assert yaml.safe_load(text) == tricky, text
    assert "script: |\n  set -e\n  echo 'hi'\n" in text
