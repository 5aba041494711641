// #/ Overview: what runs now, what waits, what failed recently (GET /api/v1/overview), refreshed while open.
import { api, subscribe } from "../api.js";
import { barLayout, chartSummary, renderBarChart } from "../chart.js";
import { announce, errorBox, fill, fmtTime, h, link, pageHeader, parseTime, table } from "../dom.js";

/** The windows the select offers, in minutes. */
export const WINDOWS = [15, 60, 240, 1440];
const DEFAULT_WINDOW = 60;
const REFRESH_MS = 10_000;
/** Events refresh the page at most this often. */
const EVENT_THROTTLE_MS = 2_000;
const FAILED = ["failed", "timeout", "abandoned"];

function windowName(minutes) {
  if (minutes < 60) return `${minutes} minutes`;
  if (minutes === 60) return "1 hour";
  if (minutes < 1440) return `${minutes / 60} hours`;
  return "24 hours";
}

/** The window from the hash query: {minutes, problem} (problem: a message when the value was not usable). */
export function parseWindow(raw) {
  if (raw === null || raw === undefined || raw === "") return { minutes: DEFAULT_WINDOW, problem: null };
  const n = Number(raw);
  if (WINDOWS.includes(n)) return { minutes: n, problem: null };
  return {
    minutes: DEFAULT_WINDOW,
    problem: `The window "${raw}" is not one of ${WINDOWS.join(", ")} minutes; showing the last hour instead.`,
  };
}

function card(title, value, testid, ...detail) {
  return h("section", { class: "card stat-card", "aria-label": title },
    h("h2", {}, title),
    h("p", { class: "stat", "data-testid": testid }, String(value)),
    detail);
}

function cards(data) {
  const queues = Object.entries(data.queue_depth || {});
  const depth = queues.reduce((sum, [, n]) => sum + n, 0);
  const failed = FAILED.reduce((sum, s) => sum + ((data.totals || {})[s] || 0), 0);
  const since = parseTime(data.generated_at) - data.minutes * 60_000;
  const misses = (data.sla_misses || []).filter((m) => (parseTime(m.occurred_at) ?? 0) >= since).length;
  return h("div", { class: "cards overview-cards" },
    card("Running now", data.running, "stat-running"),
    card("Scheduled", data.scheduled, "stat-scheduled", h("p", { class: "muted" }, "Waiting for a worker")),
    card("Queue depth", depth, "stat-queue-depth",
      h("ul", { class: "queue-list", "aria-label": "Jobs waiting per queue" },
        queues.map(([name, n]) => h("li", {}, h("code", {}, name), `: ${n}`)))),
    card(`Failed in ${windowName(data.minutes)}`, failed, "stat-failed",
      h("p", { class: "muted" }, "failed, timeout or abandoned")),
    card(`SLA misses in ${windowName(data.minutes)}`, misses, "stat-sla-misses"));
}

function legend(statuses) {
  if (!statuses.length) return null;
  return h("ul", { class: "chart-legend", "aria-label": "Legend" },
    statuses.map((s) => h("li", {}, h("span", { class: `swatch bar-${s}`, "aria-hidden": "true" }), s)));
}

function chartTable(layout, view) {
  const rows = layout.bars.filter((b) => b.total > 0);
  const columns = [
    { label: layout.minutesPerBar > 1 ? "From" : "Minute", cell: (b) => fmtTime(b.start) },
    ...layout.statuses.map((s) => ({ label: s, cell: (b) => String(b.counts[s] || 0) })),
    { label: "Total", cell: (b) => String(b.total) },
  ];
  const details = h("details", { class: "chart-data", open: view.tableOpen },
    h("summary", {}, "Show the numbers as a table"),
    table({ caption: "Executions per minute by status", columns, rows, empty: "No executions in this window." }));
  details.addEventListener("toggle", () => { view.tableOpen = details.open; });
  return details;
}

function chart(data, view) {
  const layout = barLayout(data.per_minute || [], { maxBars: 120 });
  const summary = chartSummary(layout, data.minutes);
  const first = (data.per_minute || [])[0];
  return h("section", { class: "card own-heading", "aria-labelledby": "chart-title" },
    h("h2", { id: "chart-title" }, "Executions per minute"),
    h("p", { class: "muted", "data-testid": "chart-summary" }, summary),
    legend(layout.statuses),
    h("div", { class: "chart-box" },
      h("span", { class: "chart-max", "aria-hidden": "true" }, `${layout.max}`),
      renderBarChart(layout, { label: summary })),
    h("div", { class: "chart-axis", "aria-hidden": "true" },
      first ? fmtTime(first.minute) : null, h("span", {}, "now")),
    data.truncated ? h("p", { class: "notice" }, "The window held more than 10,000 executions: the oldest are not counted.") : null,
    chartTable(layout, view));
}

function failingActions(data) {
  return h("section", { class: "card own-heading", "aria-labelledby": "failing-title" },
    h("h2", { id: "failing-title" }, "Failing actions"),
    table({
      caption: `Actions that failed in the last ${windowName(data.minutes)}, most failures first`,
      columns: [
        { label: "Action", cell: (a) => link(`#/executions?action=${encodeURIComponent(a.action)}`, a.action) },
        { label: "Failed / total", cell: (a) => `${a.failed} / ${a.total}` },
        { label: "Last failure", cell: (a) => link(`#/executions/${encodeURIComponent(a.last_failed_execution)}`, fmtTime(a.last_failed_at)) },
      ],
      rows: data.failing_actions || [],
      empty: "No action failed in this window.",
    }));
}

function slaMisses(data) {
  return h("section", { class: "card own-heading", "aria-labelledby": "sla-title" },
    h("h2", { id: "sla-title" }, "SLA misses"),
    table({
      caption: "The newest executions that ran past their SLA policy's deadline",
      columns: [
        { label: "Time", cell: (m) => fmtTime(m.occurred_at) },
        { label: "Action", cell: (m) => m.payload.action_ref || "–" },
        { label: "Execution", cell: (m) => (m.payload.execution_id ? link(`#/executions/${encodeURIComponent(m.payload.execution_id)}`, m.payload.execution_id) : "–") },
        { label: "Policy", cell: (m) => m.payload.policy || "–" },
        { label: "Trigger instance", cell: (m) => link(`#/triggers/${encodeURIComponent(m.trigger_instance)}`, m.trigger_instance) },
      ],
      rows: data.sla_misses || [],
      empty: "No SLA misses.",
    }));
}

/** Replace the page's data, keeping the keyboard focus on the same link or control when it was inside. */
function redraw(body, data, view) {
  const active = document.activeElement;
  const inside = active && body.contains(active);
  const key = inside ? active.getAttribute("href") || active.tagName : null;
  fill(body, cards(data), chart(data, view), h("div", { class: "overview-tables" }, failingActions(data), slaMisses(data)));
  if (!inside) return;
  const again = [...body.querySelectorAll("a[href], summary")].find((el) => (el.getAttribute("href") || el.tagName) === key);
  if (again) again.focus({ preventScroll: true });
}

export async function render(main, _params, ctx) {
  const { minutes, problem } = parseWindow(ctx.query.get("minutes"));
  const select = h("select", {}, WINDOWS.map((m) => h("option", { value: String(m), selected: m === minutes }, `Last ${windowName(m)}`)));
  const updated = h("p", { class: "muted", "data-testid": "overview-updated", "aria-live": "off" });
  const body = h("div", { "data-testid": "overview-body" }, h("p", { class: "muted" }, "Loading…"));
  let current = minutes;
  let inflight = false;
  let again = false;
  let failing = new Set();
  let shown = "";
  /** What survives a refresh: whether the chart's table is open. */
  const view = { tableOpen: false };

  const load = async () => {
    if (inflight) {
      again = true;
      return;
    }
    inflight = true;
    try {
      const data = await api.get("/api/v1/overview", { minutes: current });
      const nowFailing = new Set((data.failing_actions || []).map((a) => a.action));
      const fresh = [...nowFailing].filter((a) => !failing.has(a));
      if (failing.size && fresh.length) announce(`New failing action: ${fresh.join(", ")}`);
      failing = nowFailing;
      const signature = JSON.stringify({ ...data, generated_at: null });
      if (signature !== shown) {
        shown = signature;
        redraw(body, data, view);
      }
      fill(updated, "Updated ", fmtTime(data.generated_at), "; refreshes every 10 seconds and on new executions.");
    } catch (err) {
      shown = "";
      fill(body, errorBox(err));
    } finally {
      inflight = false;
      if (again) {
        again = false;
        load();
      }
    }
  };

  select.addEventListener("change", () => {
    current = Number(select.value);
    ctx.setQuery({ minutes: current === DEFAULT_WINDOW ? null : current });
    problemBox.hidden = true;
    load();
  });

  const problemBox = h("p", { class: "notice", role: "status", "data-testid": "window-problem", hidden: !problem }, problem || "");
  main.append(
    pageHeader("Overview"),
    h("div", { class: "filters" }, h("div", { class: "field" }, h("label", { for: "overview-window" }, "Window"), Object.assign(select, { id: "overview-window" }))),
    problemBox,
    updated,
    body,
  );
  await load();

  const timer = window.setInterval(load, REFRESH_MS);
  let last = 0;
  let pending = null;
  const onEvent = () => {
    const wait = last + EVENT_THROTTLE_MS - Date.now();
    if (wait <= 0) {
      last = Date.now();
      load();
    } else if (!pending) {
      pending = window.setTimeout(() => {
        pending = null;
        last = Date.now();
        load();
      }, wait);
    }
  };
  const close = subscribe({ "st2.execution__create": onEvent, "st2.execution__update": onEvent }, {}, { onSync: load });
  return () => {
    window.clearInterval(timer);
    if (pending) window.clearTimeout(pending);
    close();
  };
}
