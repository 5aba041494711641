"""Every main page passes a basic accessibility audit: labelled controls, named buttons and links, one heading
per page, captioned tables, described charts, no positive tabindex, no sideways scrolling on a 1280x720 laptop
screen; and the keyboard reaches the content."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Dashboard, log_in

PAGES = [
    ("#/", "Overview"),
    ("#/executions", "Executions"),
    ("#/rules", "Rules"),
    ("#/triggers", "Triggers"),
    ("#/sensors", "Sensors"),
    ("#/packs", "Packs"),
    ("#/keys", "Keys"),
]

#: A small laptop screen: no page may need sideways scrolling there.
LAPTOP = {"width": 1280, "height": 720}

#: Runs in the page: a list of problems, each naming the element.
AUDIT = """() => {
  const problems = [];
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const describe = (el) => el.outerHTML.slice(0, 120);
  const named = (el) => (el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") ||
    el.getAttribute("title") || (el.textContent || "").trim() || el.querySelector("img[alt]"));
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (!visible(el) || el.type === "hidden") continue;
    if (!(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
      problems.push("unlabelled control: " + describe(el));
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (visible(el) && !named(el)) problems.push("control without a name: " + describe(el));
  }
  const h1 = [...document.querySelectorAll("h1")].filter(visible);
  if (h1.length !== 1) problems.push("pages need exactly one h1, found " + h1.length);
  for (const t of document.querySelectorAll("main table")) {
    if (!t.querySelector("caption") && !t.getAttribute("aria-label") && !t.getAttribute("aria-labelledby"))
      problems.push("table without a caption or label: " + describe(t));
  }
  for (const svg of document.querySelectorAll("main svg")) {
    const hidden = svg.getAttribute("aria-hidden") === "true";
    if (!hidden && !svg.getAttribute("aria-label") && !svg.getAttribute("aria-labelledby"))
      problems.push("chart without a text alternative: " + describe(svg));
  }
  for (const el of document.querySelectorAll("[tabindex]")) {
    if (Number(el.getAttribute("tabindex")) > 0) problems.push("positive tabindex: " + describe(el));
  }
  if (!document.documentElement.lang) problems.push("html has no lang");
  const width = document.documentElement.scrollWidth;
  if (width > window.innerWidth + 1)
    problems.push("the page is " + width + " px wide in a " + window.innerWidth + " px window");
  return problems;
}"""


@pytest.mark.parametrize(("address", "title"), PAGES)
def test_page_passes_the_audit(page: Page, dashboard: Dashboard, address: str, title: str) -> None:
    page.set_viewport_size(LAPTOP)
    log_in(page, dashboard)
    page.goto(dashboard.url + "/" + address)
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Loading…")
    assert page.evaluate(AUDIT) == []
    expect(page).to_have_title(f"{title} · st2lite")


def test_the_keyboard_skips_to_the_content_and_walks_the_navigation(page: Page, dashboard: Dashboard) -> None:
    log_in(page, dashboard)
    page.goto(dashboard.url + "/#/rules")
    page.reload()  # a fresh load: focus starts at the top of the page
    expect(page.get_by_role("heading", level=1, name="Rules")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Rules")).to_be_focused()
    assert page.evaluate("window.location.hash") == "#/rules"  # skipping is not a navigation
    page.get_by_role("link", name="Overview", exact=True).focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Executions", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Executions")).to_be_focused()
    expect(page.get_by_role("link", name="Executions", exact=True)).to_have_attribute("aria-current", "page")
