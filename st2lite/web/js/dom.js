// Small DOM helpers shared by every page: element building, formatting, status badges, tables.

/**
 * h("a", {href: "#/", class: "x", onclick: fn, dataset: {id: 1}}, "text", child, [more])
 * Children: strings/numbers become text (never HTML), null/undefined/false are skipped, arrays are flattened.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") Object.assign(el.style, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = String(value);
    else if (value === true) el.setAttribute(key, "");
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/** Append children to `el` (skipping null/undefined/false, flattening arrays, strings as text). */
export function add(el, ...children) {
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Replace the children of `el` with `children`. */
export function fill(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

/** Tell screen readers what changed (the page's polite live region). */
export function announce(message) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  window.setTimeout(() => { region.textContent = message; }, 50);
}

export function parseTime(iso) {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** "2026-12-07 04:51:02" in the browser's time zone; the full ISO time is in the title. */
export function fmtTime(iso) {
  const t = parseTime(iso);
  if (t === null) return h("span", { class: "muted" }, "–");
  const d = new Date(t);
  const pad = (n) => String(n).padStart(2, "0");
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return h("time", { datetime: iso, title: iso }, text);
}

/** 850 ms, 12.3 s, 4 min 05 s, 2 h 03 min. */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** Duration of an execution: start to end, or start to now while it runs. */
export function executionDuration(execution) {
  const start = parseTime(execution.start_timestamp);
  if (start === null) return null;
  const end = parseTime(execution.end_timestamp);
  return (end ?? Date.now()) - start;
}

export const STATUSES = [
  "requested", "scheduled", "delayed", "running", "pending", "pausing", "paused", "resuming",
  "succeeded", "failed", "timeout", "abandoned", "canceling", "canceled",
];
export const DONE = new Set(["succeeded", "failed", "timeout", "abandoned", "canceled"]);

/** A coloured status label; the colour is never the only cue (the word is always there). */
export function statusBadge(status) {
  return h("span", { class: `status status-${status || "unknown"}`, dataset: { status: status || "unknown" } }, status || "unknown");
}

/** Pretty JSON in a <pre>. */
export function jsonBlock(value, label) {
  return h("pre", { class: "json", tabindex: "0", "aria-label": label || "JSON" }, JSON.stringify(value, null, 2));
}

/**
 * A table: columns = [{label, cell: (row) => node|string, class?}], rows = array.
 * `caption` is read by screen readers; `empty` shows when there are no rows.
 */
export function table({ caption, columns, rows, empty = "Nothing here yet.", rowProps }) {
  const head = h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label))));
  const body = h("tbody", {});
  for (const row of rows) body.append(tableRow(columns, row, rowProps));
  const t = h("table", { class: "grid" }, caption ? h("caption", {}, caption) : null, head, body);
  if (!rows.length) body.append(h("tr", { class: "empty" }, h("td", { colspan: columns.length }, empty)));
  return t;
}

export function tableRow(columns, row, rowProps) {
  return h("tr", rowProps ? rowProps(row) : {}, columns.map((c) => h("td", { class: c.class }, c.cell(row))));
}

/**
 * A definition list of [label, value] pairs (a value is text, a node or a list of them); a pair whose value
 * is null, undefined or "" is left out.
 */
export function props(rows) {
  const shown = rows.filter(([, value]) => value !== null && value !== undefined && value !== "");
  return h("dl", { class: "props" }, shown.map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]));
}

/** A labelled form control: label text, the control (its id is set from `id`). */
export function field(label, control, id, hint) {
  control.id = id;
  const hintEl = hint ? h("span", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl);
}

/** An error box (role=alert) with the API's message, which says what to do. */
export function errorBox(err) {
  const message = err && err.message ? err.message : String(err);
  return h("div", { class: "error", role: "alert" }, message);
}

export function link(href, text, props = {}) {
  return h("a", { href, ...props }, text);
}

/** The page's heading (focused on navigation so screen readers announce the new page). */
export function pageHeader(title, ...actions) {
  return h("div", { class: "page-header" }, h("h1", { tabindex: "-1", id: "page-title" }, title), h("div", { class: "actions" }, actions));
}

export function refLink(kind, ref) {
  if (!ref) return h("span", { class: "muted" }, "–");
  return link(`#/${kind}/${encodeURIComponent(ref)}`, ref);
}
