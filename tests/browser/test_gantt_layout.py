"""``js/gantt.js`` (the chain timeline's pure layout), run in Chromium on hand-made executions."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from tests.browser.conftest import Dashboard

T0 = "2026-12-07T10:00:00.000Z"


def at(ms: int) -> str:
    return f"2026-12-07T10:00:{ms // 1000:02d}.{ms % 1000:03d}Z"


def child(ident: str, name: str, start: int, end: int | None, status: str, item: int | None = None) -> dict[str, Any]:
    chain: dict[str, Any] = {"name": name} if item is None else {"name": name, "item": item}
    return {
        "id": ident,
        "status": status,
        "start_timestamp": at(start),
        "end_timestamp": None if end is None else at(end),
        "context": {"chain": chain},
        "action": {"ref": "core.noop"},
    }


def run_layout(page: Page, dashboard: Dashboard, chain: dict[str, Any], children: list[Any], now_ms: int) -> Any:
    page.goto(dashboard.url + "/")  # the module is served from the dashboard; no login needed to import it
    return page.evaluate(
        """async ([chain, children, now]) => {
            const { layout, firstFailedTask } = await import("/ui/js/gantt.js");
            const out = layout(chain, children, Date.parse(now));
            return {
              span: out.span,
              rows: out.rows.map((r) => ({task: r.task, bars: r.bars.map((b) => [b.label, b.offset, b.width,
                Math.round(b.left * 10) / 10, Math.round(b.widthPct * 10) / 10, b.running])})),
              failed: firstFailedTask(chain, children),
            };
        }""",
        [chain, children, at(now_ms)],
    )


def test_tasks_in_start_order_items_on_their_row_running_bars_grow_to_now(page: Page, dashboard: Dashboard) -> None:
    chain = {"start_timestamp": T0, "end_timestamp": None, "result": {}}
    children = [
        child("c3", "fan", 2000, 6000, "succeeded", item=1),
        child("c1", "prepare", 0, 1000, "succeeded"),
        child("c2", "fan", 1000, 3000, "failed", item=0),
        child("c4", "finish", 6000, None, "running"),
    ]
    out = run_layout(page, dashboard, chain, children, now_ms=8000)
    assert out["span"] == 8000
    assert out["rows"] == [
        {"task": "prepare", "bars": [["prepare", 0, 1000, 0, 12.5, False]]},
        {"task": "fan", "bars": [["fan[0]", 1000, 2000, 12.5, 25, False], ["fan[1]", 2000, 4000, 25, 50, False]]},
        {"task": "finish", "bars": [["finish", 6000, 2000, 75, 25, True]]},
    ]
    assert out["failed"] == "fan"


def test_an_instant_task_stays_visible_and_no_bar_leaves_the_axis(page: Page, dashboard: Dashboard) -> None:
    chain = {
        "start_timestamp": T0,
        "end_timestamp": at(10000),
        "result": {"tasks": [{"name": "b", "state": "timeout"}]},
    }
    children = [child("c1", "a", 0, 0, "succeeded"), child("c2", "b", 10000, 10000, "timeout")]
    out = run_layout(page, dashboard, chain, children, now_ms=20000)
    (a,) = out["rows"][0]["bars"]
    (b,) = out["rows"][1]["bars"]
    assert a[2] == 0 and a[4] == 0.5  # zero ms long, drawn 0.5 % wide
    assert b[3] + b[4] <= 100  # starts at the very end, still inside the axis
    assert out["failed"] == "b"  # from the chain's own task records
