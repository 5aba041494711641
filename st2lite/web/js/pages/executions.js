// #/executions: the top-level executions, newest first, kept live by the event stream; filters in the hash query.
import { api, subscribe } from "../api.js";
import { apiParams, matches, readFilters } from "../execution_filters.js";
import {
  announce, DONE, errorBox, executionDuration, field, fill, fmtDuration, fmtTime, h, link, pageHeader, refLink,
  STATUSES, statusBadge,
} from "../dom.js";

const LIMIT = 50;

function triggerCell(e) {
  const type = (e.trigger && (e.trigger.type || e.trigger.ref)) || null;
  if (!type) return h("span", { class: "muted" }, "–");
  const instance = e.trigger_instance && e.trigger_instance.id;
  return instance ? link(`#/triggers/${encodeURIComponent(instance)}`, type, { title: `trigger instance ${instance}` }) : type;
}

const COLUMNS = [
  { label: "Status", cell: (e) => statusBadge(e.status) },
  {
    label: "Action",
    cell: (e) => link(`#/executions/${encodeURIComponent(e.id)}`, (e.action && e.action.ref) || e.id, { "aria-label": `${(e.action && e.action.ref) || ""} execution ${e.id}` }),
  },
  { label: "Rule", cell: (e) => refLink("rules", e.rule && e.rule.ref) },
  { label: "Trigger", cell: triggerCell },
  { label: "Started", cell: (e) => fmtTime(e.start_timestamp) },
  { label: "Duration", cell: (e) => h("span", { class: "duration" }, fmtDuration(executionDuration(e))), class: "num" },
];

function row(e, fresh) {
  return h(
    "tr",
    { class: fresh ? "fresh" : null, dataset: { testid: `execution-row-${e.id}`, executionId: e.id, status: e.status } },
    COLUMNS.map((c) => h("td", { class: c.class }, c.cell(e))),
  );
}

function filtersForm(filters, onChange) {
  const status = h("select", {}, h("option", { value: "" }, "Any status"), STATUSES.map((s) => h("option", { value: s }, s)));
  status.value = filters.status;
  const action = h("input", { type: "text", value: filters.action, placeholder: "pack.action", autocomplete: "off" });
  const rule = h("input", { type: "text", value: filters.rule, placeholder: "pack.rule", autocomplete: "off" });
  const from = h("input", { type: "datetime-local", value: filters.from, step: "1" });
  const to = h("input", { type: "datetime-local", value: filters.to, step: "1" });
  const read = () => ({ status: status.value, action: action.value.trim(), rule: rule.value.trim(), from: from.value, to: to.value });
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter executions", onsubmit: (ev) => { ev.preventDefault(); onChange(read()); } },
    field("Status", status, "filter-status"),
    field("Action", action, "filter-action"),
    field("Rule", rule, "filter-rule"),
    field("From", from, "filter-from"),
    field("To", to, "filter-to"),
    h("div", { class: "field" }, h("button", { type: "submit", class: "primary" }, "Apply filters")),
    h("div", { class: "field" }, h("button", {
      type: "button",
      onclick: () => {
        status.value = ""; action.value = ""; rule.value = ""; from.value = ""; to.value = "";
        onChange(read());
      },
    }, "Clear")),
  );
  status.addEventListener("change", () => onChange(read()));
  return form;
}

export function render(main, _params, ctx) {
  let filters = readFilters(ctx.query);
  const rows = new Map(); // id -> {execution, tr}
  const message = h("div", { "aria-live": "polite" });
  const summary = h("p", { class: "muted", id: "executions-summary" });
  const tbody = h("tbody", {});
  const table = h(
    "table",
    { class: "grid executions", "aria-describedby": "executions-summary" },
    h("caption", {}, "Executions, newest first (live)"),
    h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
    tbody,
  );
  let generation = 0;
  let total = 0; // how many match the filters: the API's count, plus the rows the stream added since

  function showSummary() {
    fill(summary, total > rows.size ? `Showing the newest ${rows.size} of ${total}.` : `${total} execution${total === 1 ? "" : "s"}.`);
  }

  function showEmpty() {
    if (!rows.size) fill(tbody, h("tr", { class: "empty" }, h("td", { colspan: COLUMNS.length }, "No executions match these filters.")));
  }

  function put(e, { prepend = false, fresh = false } = {}) {
    const old = rows.get(e.id);
    const tr = row(e, fresh);
    if (old) {
      old.tr.replaceWith(tr);
    } else {
      const empty = tbody.querySelector("tr.empty");
      if (empty) empty.remove();
      if (prepend) tbody.prepend(tr);
      else tbody.append(tr);
    }
    rows.set(e.id, { execution: e, tr });
  }

  async function load() {
    const mine = ++generation;
    buffered = buffered || [];
    fill(message);
    const query = apiParams(filters, LIMIT);
    if (query.error) {
      rows.clear();
      fill(tbody);
      showEmpty();
      fill(summary);
      fill(message, errorBox(query.error));
      buffered = null;
      return;
    }
    try {
      const listed = await api.list("/api/v1/executions", query.params);
      if (mine !== generation) return;
      rows.clear();
      fill(tbody);
      for (const e of listed.items) put(e);
      showEmpty();
      total = listed.total;
      showSummary();
    } catch (err) {
      if (mine === generation) fill(message, errorBox(err));
    }
    if (mine !== generation) return;
    const events = buffered || [];
    buffered = null;
    for (const [e, created] of events) onEvent(e, created);
  }

  let buffered = null; // events that arrive while a list loads, applied once it is in

  function onEvent(e, created) {
    if (!e || !e.id) return;
    if (buffered) {
      buffered.push([e, created]);
      return;
    }
    const known = rows.get(e.id);
    if (known) {
      // An event older than what is shown (its status log is shorter) changes nothing.
      if ((e.log || []).length < (known.execution.log || []).length) return;
      put(e);
      if (known.execution.status !== e.status && DONE.has(e.status)) announce(`Execution of ${e.action && e.action.ref} ${e.status}`);
      return;
    }
    if (!matches(e, filters)) return;
    // New: created now, or it just reached the status the list is filtered on.
    if (!created && !filters.status) return;
    put(e, { prepend: true, fresh: true });
    total += 1;
    showSummary();
    while (rows.size > LIMIT * 2 && tbody.lastElementChild) {
      const last = tbody.lastElementChild;
      rows.delete(last.dataset.executionId);
      last.remove();
    }
  }

  main.append(
    pageHeader("Executions"),
    filtersForm(filters, (next) => {
      filters = next;
      ctx.setQuery(next);
      load();
    }),
    message,
    summary,
    table,
  );
  showEmpty();
  load();

  const close = subscribe(
    {
      "st2.execution__create": (e) => onEvent(e, true),
      "st2.execution__update": (e) => onEvent(e, false),
    },
    {},
    { onSync: load }, // what the stream cannot replay (before it opened, during an interruption): read again
  );
  // Running executions' durations tick.
  const timer = window.setInterval(() => {
    for (const { execution, tr } of rows.values()) {
      if (DONE.has(execution.status) || !execution.start_timestamp) continue;
      const cell = tr.querySelector(".duration");
      if (cell) cell.textContent = fmtDuration(executionDuration(execution));
    }
  }, 1000);
  return () => {
    close();
    window.clearInterval(timer);
  };
}
