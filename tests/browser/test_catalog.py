"""The sensors, packs and keys pages: what is registered, how the sensors are, datastore values with secrets masked."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Dashboard, log_in, screenshot

SECRET = "misc-very-secret-value-42"


def test_the_sensors_page_shows_each_sensor_and_its_state(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    page.get_by_role("link", name="Sensors").click()
    expect(page.get_by_role("heading", name="Sensors", exact=True)).to_be_visible()
    table = page.get_by_role("table", name="Sensors and their state")
    heartbeat = table.locator("tr[data-ref='dashboard_demo.MiscHeartbeat']")
    # It may still be starting when the page first loads; the page refreshes by itself.
    expect(heartbeat.locator(".sensor-state")).to_have_text("running")
    expect(heartbeat).to_contain_text("its process is up")
    expect(heartbeat).to_contain_text("dashboard_demo.misc_heartbeat")
    expect(heartbeat).to_contain_text("every 60 s")
    # A built-in sensor no rule needs is idle, and says why.
    file_watch = table.locator("tr[data-ref='core.FileWatchSensor']")
    expect(file_watch).to_contain_text("idle")
    expect(file_watch).to_contain_text("no enabled rule needs it")
    expect(page.get_by_test_id("sensors-summary")).to_contain_text(" running")
    screenshot(page, "dashboard-sensors")


def test_the_packs_page_lists_packs_and_a_pack_page_its_content(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    page.goto(dashboard.url + "/#/packs")
    expect(page.get_by_role("heading", name="Packs", exact=True)).to_be_visible()
    demo = page.locator("tr[data-pack='dashboard_demo']")
    expect(demo).to_contain_text("0.1.0")
    expect(page.locator("tr[data-pack='core']")).to_be_visible()
    screenshot(page, "dashboard-packs")

    demo.get_by_role("link", name="dashboard_demo").click()
    expect(page.get_by_role("heading", name="Pack dashboard_demo")).to_be_visible()
    actions = page.get_by_role("table", name="Actions of dashboard_demo")
    ok = actions.locator("tr[data-ref='dashboard_demo.misc_ok']")
    expect(ok).to_contain_text("local-shell-cmd")
    # The secret parameter is marked; the plain one is not.
    expect(ok.get_by_role("listitem").filter(has_text="token")).to_contain_text("secret")
    expect(ok.get_by_role("listitem").filter(has_text="cmd")).not_to_contain_text("secret")
    expect(actions.locator("tr[data-ref='dashboard_demo.misc_fail']")).to_be_visible()
    rules = page.get_by_role("table", name="Rules of dashboard_demo")
    rule = rules.get_by_role("link", name="dashboard_demo.misc_on_heartbeat")
    expect(rule).to_have_attribute("href", "#/rules/dashboard_demo.misc_on_heartbeat")
    expect(page.get_by_role("table", name="Sensors of dashboard_demo")).to_contain_text("dashboard_demo.MiscHeartbeat")
    expect(page.get_by_role("table", name="Trigger types of dashboard_demo")).to_contain_text(
        "dashboard_demo.misc_heartbeat"
    )
    expect(page.get_by_role("table", name="Action aliases of dashboard_demo")).to_contain_text(
        "This pack has no action aliases."
    )


def test_a_misspelt_pack_name_says_which_pack_was_meant(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    page.goto(dashboard.url + "/#/packs/dashbord_demo")
    expect(page.get_by_role("alert")).to_have_text('Pack "dashbord_demo" is not found; did you mean "dashboard_demo"?')


def put_keys(dashboard: Dashboard) -> None:
    dashboard.api("PUT", "/api/v1/keys/misc_plain", json={"name": "misc_plain", "value": "plain-hello"})
    dashboard.api("PUT", "/api/v1/keys/misc_secret", json={"name": "misc_secret", "value": SECRET, "secret": True})


def test_the_keys_page_shows_values_and_masks_secrets(page: Page, dashboard: Dashboard) -> None:
    put_keys(dashboard)
    log_in(page, dashboard)
    page.goto(dashboard.url + "/#/keys")
    expect(page.get_by_role("heading", name="Keys", exact=True)).to_be_visible()
    expect(page.get_by_test_id("keys-read-only")).to_contain_text("Read-only")
    expect(page.locator("tr[data-key='misc_plain']")).to_contain_text("plain-hello")
    secret = page.locator("tr[data-key='misc_secret']")
    expect(secret).to_contain_text("********")
    expect(secret).to_contain_text("secret")
    assert SECRET not in page.content()
    screenshot(page, "dashboard-keys")

    page.get_by_label("Name starts with").fill("misc_pl")
    expect(page.locator("tr[data-key='misc_secret']")).to_have_count(0)
    expect(page.locator("tr[data-key='misc_plain']")).to_be_visible()
    assert page.url.endswith("#/keys?prefix=misc_pl")
    page.get_by_label("Name starts with").fill("nothing_like_this")
    expect(
        page.get_by_role("table", name='Datastore values in st2kv.system starting with "nothing_like_this"')
    ).to_contain_text('No value\'s name starts with "nothing_like_this".')


def test_a_viewer_sees_secrets_masked_too(page: Page, dashboard: Dashboard) -> None:
    put_keys(dashboard)
    dashboard.add_user("kim", "viewer", "kim-password-1")
    log_in(page, dashboard, user="kim", password="kim-password-1")
    page.goto(dashboard.url + "/#/keys")
    expect(page.locator("tr[data-key='misc_secret']")).to_contain_text("********")
    expect(page.locator("tr[data-key='misc_plain']")).to_contain_text("plain-hello")
    assert SECRET not in page.content()
    expect(page.get_by_role("button")).to_have_count(1)  # only "Log out": the page changes nothing


def test_a_bad_scope_in_the_address_says_so_and_shows_the_system_scope(page: Page, dashboard: Dashboard) -> None:
    put_keys(dashboard)
    log_in(page, dashboard)
    page.goto(dashboard.url + "/#/keys?scope=everything")
    expect(page.get_by_test_id("scope-problem")).to_have_text(
        'The scope "everything" is not st2kv.system or st2kv.user; showing st2kv.system.'
    )
    expect(page.get_by_label("Scope")).to_have_value("st2kv.system")
    expect(page.locator("tr[data-key='misc_plain']")).to_be_visible()
    page.get_by_label("Scope").select_option("st2kv.user")
    expect(page.get_by_test_id("scope-problem")).to_be_hidden()
    expect(page.get_by_role("table", name="Datastore values in st2kv.user")).to_contain_text("No values in this scope.")
