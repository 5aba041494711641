// A chain's timeline on the page: one lane per task (one per item for with-items tasks, under their task),
// a bar per task execution linking to it, coloured by status, and the same facts as a table (the text version).
// Updated in place each tick so focus and links survive; the maths is js/gantt.js.
import { fill, fmtDuration, h, link, statusBadge } from "./dom.js";
import { layout, ticks } from "./gantt.js";

function describe(bar) {
  return `${bar.label}: ${bar.status}, started at +${fmtDuration(bar.offset)}, ${bar.running ? "running for" : "ran"} ${fmtDuration(bar.width)}`;
}

function lanes(lay) {
  const out = [];
  for (const row of lay.rows) {
    const fanned = row.bars.some((b) => b.item !== null);
    if (!fanned) {
      out.push({ label: row.task, group: null, bars: row.bars });
      continue;
    }
    out.push({ label: `${row.task} (${row.bars.length} items)`, group: row.task, bars: [] });
    for (const bar of row.bars) out.push({ label: bar.label, group: row.task, item: true, bars: [bar] });
  }
  return out;
}

/** {el, update(chain, children, now)}: the timeline section, to update as the chain runs. */
export function createTimeline() {
  const axis = h("div", { class: "gantt-axis", "aria-hidden": "true" });
  const body = h("div", { class: "gantt-lanes" });
  const tbody = h("tbody", {});
  const total = h("p", { class: "hint" });
  const el = h("section", { class: "card gantt", "aria-labelledby": "timeline-heading", "data-testid": "gantt" },
    h("h2", { id: "timeline-heading" }, "Timeline"),
    total,
    h("div", { class: "gantt-chart", role: "group", "aria-label": "Tasks on a timeline (each bar links to its execution)" },
      h("div", { class: "gantt-head" }, h("span", { class: "gantt-label" }, "Task"), axis),
      body),
    h("details", { class: "gantt-text" },
      h("summary", {}, "Tasks as a table"),
      h("table", { class: "grid" },
        h("caption", {}, "The chain's tasks: when each started (from the chain's start) and how long it ran"),
        h("thead", {}, h("tr", {}, ["Task", "Status", "Started at", "Duration"].map((c) => h("th", { scope: "col" }, c)))),
        tbody)));
  let structure = "";
  const parts = new Map(); // bar id -> {bar element, status cell, start cell, duration cell}

  function build(lay) {
    parts.clear();
    const laneEls = [];
    const rowEls = [];
    for (const lane of lanes(lay)) {
      const track = h("div", { class: "gantt-track" });
      for (const bar of lane.bars) {
        const a = link(`#/executions/${encodeURIComponent(bar.id)}`, "", { class: "gantt-bar", dataset: { testid: "gantt-bar", label: bar.label } });
        track.append(a);
        const status = h("td", {});
        const startCell = h("td", {});
        const duration = h("td", {});
        rowEls.push(h("tr", { dataset: { testid: "gantt-row" } }, h("td", {}, link(`#/executions/${encodeURIComponent(bar.id)}`, bar.label)), status, startCell, duration));
        parts.set(bar.id, { a, status, startCell, duration });
      }
      laneEls.push(h("div", { class: `gantt-lane${lane.item ? " item" : ""}${lane.group && !lane.item ? " group" : ""}` },
        h("span", { class: "gantt-label", title: lane.label }, lane.label), track));
    }
    fill(body, laneEls);
    fill(tbody, rowEls);
  }

  function update(chain, children, now) {
    const lay = layout(chain, children, now);
    const key = lay.rows.map((r) => `${r.task}:${r.bars.map((b) => b.id).join(",")}`).join("|");
    if (key !== structure) {
      structure = key;
      build(lay);
    }
    for (const row of lay.rows) {
      for (const bar of row.bars) {
        const p = parts.get(bar.id);
        if (!p) continue;
        p.a.className = `gantt-bar bar-${bar.status}${bar.running ? " running" : ""}`;
        p.a.style.left = `${bar.left}%`;
        p.a.style.width = `${bar.widthPct}%`;
        const text = describe(bar);
        p.a.setAttribute("aria-label", text);
        p.a.title = text;
        p.a.dataset.status = bar.status;
        if (p.status.dataset.status !== bar.status) {
          fill(p.status, statusBadge(bar.status));
          p.status.dataset.status = bar.status;
        }
        p.startCell.textContent = `+${fmtDuration(bar.offset)}`;
        p.duration.textContent = fmtDuration(bar.width);
      }
    }
    fill(axis, ticks(lay.span).map((t) => {
      const mark = h("span", { class: "gantt-tick" }, `+${fmtDuration(t.at)}`);
      mark.style.left = `${t.pct}%`;
      return mark;
    }));
    const count = lay.rows.reduce((n, r) => n + r.bars.length, 0);
    total.textContent = count
      ? `${lay.rows.length} task${lay.rows.length === 1 ? "" : "s"}, ${count} execution${count === 1 ? "" : "s"}, over ${fmtDuration(lay.span)}.`
      : "No task has started yet.";
  }

  return { el, update };
}
