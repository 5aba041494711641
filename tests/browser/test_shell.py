"""The dashboard's frame: served at ``/`` without credentials, logging in and out, roles shown."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import Dashboard, log_in


def test_the_page_and_its_files_are_served_without_credentials(dashboard: Dashboard) -> None:
    page = httpx.get(dashboard.url + "/", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = httpx.get(dashboard.url + "/ui/js/app.js", timeout=10)
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert httpx.get(dashboard.url + "/ui/js/nothing-here.js", timeout=10).status_code == 404
    # The data stays closed: the page is public, the API is not.
    assert httpx.get(dashboard.url + "/api/v1/executions", timeout=10).status_code == 401


def test_log_in_with_a_password_then_out(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    expect(page.get_by_test_id("session-user")).to_have_text("st2admin (admin)")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to st2lite")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    # Logged out for real: a page that needs data sends the user back to the login form.
    page.goto(dashboard.url + "/#/executions")
    expect(page.get_by_role("heading", name="Log in to st2lite")).to_be_visible()


def test_a_wrong_password_says_so_and_keeps_the_user_on_the_login_form(page: Page, dashboard: Dashboard) -> None:
    log_in_attempt = dashboard.url + "/"
    page.goto(log_in_attempt)
    page.get_by_label("User", exact=True).fill("st2admin")
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong user or password: check them and try again.")
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()


def test_log_in_with_an_api_key_of_a_viewer(page: Page, dashboard: Dashboard) -> None:
    dashboard.add_user("vera", "viewer", "vera-password-1")
    key = dashboard.api("POST", "/api/v1/apikeys", json={"user": "vera"})["key"]
    page.goto(dashboard.url + "/")
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Use API key").click()
    expect(page.get_by_test_id("session-user")).to_have_text("vera (viewer)")


def test_a_bad_api_key_is_refused_with_a_message(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/")
    page.get_by_label("API key", exact=True).fill("0" * 48)
    page.get_by_role("button", name="Use API key").click()
    expect(page.get_by_role("alert")).to_have_text("That API key is not valid (unknown, disabled or deleted).")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()


def test_a_deep_link_survives_the_login(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/#/rules")
    expect(page.get_by_role("heading", name="Log in to st2lite")).to_be_visible()
    page.get_by_label("User", exact=True).fill("st2admin")
    page.get_by_label("Password", exact=True).fill(dashboard.admin_password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Rules", exact=True)).to_have_attribute("aria-current", "page")
