// #/sensors: every registered sensor with its state (GET /api/v1/sensortypes), refreshed while open.
import { api } from "../api.js";
import { errorBox, fill, fmtTime, h, pageHeader, table } from "../dom.js";

const REFRESH_MS = 10_000;

/** What each state means, shown next to it. */
export const STATE_HELP = {
  running: "its process is up",
  restarting: "its process exited; restarted after a back-off",
  failed: "could not be loaded or its setup raised; retried",
  stopped: "stopped by its container",
  pending: "no sensor container has started it yet",
  idle: "built-in, and no enabled rule needs it",
  disabled: "disabled in its metadata",
  unconfigured: "its pack needs a config file",
};

export function stateBadge(state) {
  const s = state || "unknown";
  return h("span", { class: `status sensor-state state-${s}`, dataset: { state: s }, title: STATE_HELP[s] || "" }, s);
}

function where(status) {
  if (!status.node) return h("span", { class: "muted" }, "–");
  return status.pid ? `${status.node} (pid ${status.pid})` : status.node;
}

function problem(status) {
  if (!status.last_error) return h("span", { class: "muted" }, "none");
  return h("div", { class: "sensor-error" },
    h("pre", { class: "output sensor-error-text" }, status.last_error),
    status.last_error_at ? h("span", { class: "muted" }, fmtTime(status.last_error_at)) : null,
    status.errors ? h("span", { class: "muted" }, ` (${status.errors} errors in all)`) : null);
}

function summary(sensors) {
  const counts = {};
  for (const s of sensors) {
    const state = (s.status && s.status.state) || "unknown";
    counts[state] = (counts[state] || 0) + 1;
  }
  const parts = Object.entries(counts).sort().map(([state, n]) => `${n} ${state}`);
  return `${sensors.length} sensors: ${parts.join(", ") || "none"}.`;
}

function sensorTable(sensors) {
  return table({
    caption: "Sensors and their state",
    columns: [
      { label: "Sensor", cell: (s) => h("div", {}, h("code", {}, s.ref), s.description ? h("div", { class: "muted" }, s.description) : null) },
      { label: "State", cell: (s) => h("div", {}, stateBadge(s.status.state), h("div", { class: "hint" }, STATE_HELP[s.status.state] || "")) },
      { label: "Container", cell: (s) => where(s.status) },
      { label: "Last heartbeat", cell: (s) => fmtTime(s.status.updated_at) },
      { label: "Restarts", cell: (s) => String(s.status.restarts ?? 0) },
      { label: "Trigger types", cell: (s) => h("ul", { class: "plain" }, (s.trigger_types || []).map((t) => h("li", {}, h("code", {}, t)))) },
      { label: "Poll", cell: (s) => (s.poll_interval ? `every ${s.poll_interval} s` : "–") },
      { label: "Last error", cell: (s) => problem(s.status) },
    ],
    rows: sensors,
    empty: "No sensors are registered.",
    rowProps: (s) => ({ dataset: { ref: s.ref } }),
  });
}

export async function render(main) {
  const summaryLine = h("p", { "data-testid": "sensors-summary" });
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  main.append(
    pageHeader("Sensors"),
    h("p", { class: "muted" }, "Sensors run in the sensor container (st2lite up or st2lite sensors); this page refreshes every 10 seconds."),
    summaryLine,
    body,
  );
  const load = async () => {
    try {
      const { items } = await api.list("/api/v1/sensortypes");
      const sensors = items.map((s) => ({ ...s, status: s.status || {} }));
      fill(summaryLine, summary(sensors));
      fill(body, sensorTable(sensors));
    } catch (err) {
      fill(body, errorBox(err));
    }
  };
  await load();
  const timer = window.setInterval(load, REFRESH_MS);
  return () => window.clearInterval(timer);
}
