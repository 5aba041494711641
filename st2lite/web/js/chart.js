// Stacked bar chart of executions per minute by status: the layout maths (pure) and a small SVG renderer.

const SVG_NS = "http://www.w3.org/2000/svg";

/** Stacking order, bottom first: finished states, then those still under way. Unknown statuses go last. */
export const STACK_ORDER = [
  "succeeded", "failed", "timeout", "abandoned", "canceled", "canceling",
  "running", "resuming", "pending", "pausing", "paused", "scheduled", "delayed", "requested",
];

/** The statuses with a count in any bucket, in stacking order. */
export function statusesOf(buckets) {
  const seen = new Set();
  for (const bucket of buckets) {
    for (const [status, count] of Object.entries(bucket.counts || {})) if (count > 0) seen.add(status);
  }
  const known = STACK_ORDER.filter((s) => seen.has(s));
  const other = [...seen].filter((s) => !STACK_ORDER.includes(s)).sort();
  return [...known, ...other];
}

/**
 * Merge consecutive per-minute buckets so that there are at most `maxBars`:
 * [{minute, counts}] -> [{start, end, minutes, counts, total}] (`end` is the last merged minute's start).
 */
export function groupMinutes(perMinute, maxBars) {
  const size = Math.max(1, Math.ceil(perMinute.length / Math.max(1, maxBars)));
  const groups = [];
  for (let i = 0; i < perMinute.length; i += size) {
    const slice = perMinute.slice(i, i + size);
    const counts = {};
    for (const bucket of slice) {
      for (const [status, count] of Object.entries(bucket.counts || {})) counts[status] = (counts[status] || 0) + count;
    }
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    groups.push({ start: slice[0].minute, end: slice[slice.length - 1].minute, minutes: slice.length, counts, total });
  }
  return groups;
}

/**
 * Bar geometry in a `width` x `height` box: one bar per group, segments stacked bottom-up in STACK_ORDER.
 * Returns {bars: [{x, width, start, end, minutes, total, segments: [{status, count, y, height}]}], max, statuses,
 * minutesPerBar}. Empty minutes get a bar without segments; `max` is the tallest bar's total (0 when all empty).
 */
export function barLayout(perMinute, { width = 800, height = 200, maxBars = 120, gap = 1 } = {}) {
  const groups = groupMinutes(perMinute, maxBars);
  const statuses = statusesOf(groups);
  const max = groups.reduce((m, g) => Math.max(m, g.total), 0);
  const slot = groups.length ? width / groups.length : width;
  const barWidth = Math.max(1, slot - gap);
  const bars = groups.map((group, i) => {
    let top = height;
    const segments = [];
    for (const status of statuses) {
      const count = group.counts[status] || 0;
      if (!count) continue;
      const h = max ? (count / max) * height : 0;
      top -= h;
      segments.push({ status, count, y: Math.max(0, top), height: h });
    }
    return { ...group, x: i * slot, width: barWidth, segments };
  });
  return { bars, max, statuses, minutesPerBar: groups.length ? groups[0].minutes : 1 };
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const child of children) el.append(child);
  return el;
}

/** One sentence summing the chart up (its text alternative's headline). */
export function chartSummary(layout, minutes) {
  const totals = {};
  for (const bar of layout.bars) for (const s of bar.segments) totals[s.status] = (totals[s.status] || 0) + s.count;
  const parts = layout.statuses.map((s) => `${totals[s]} ${s}`);
  const all = Object.values(totals).reduce((a, b) => a + b, 0);
  if (!all) return `No executions in the last ${minutes} minutes.`;
  const each = layout.minutesPerBar > 1 ? `each bar ${layout.minutesPerBar} minutes` : "one bar per minute";
  return `${all} executions in the last ${minutes} minutes (${each}): ${parts.join(", ")}; busiest bar ${layout.max}.`;
}

/**
 * The chart as an <svg role="img"> scaled to its container; `label` is its accessible name.
 * Each segment is a <rect class="bar bar-<status>"> with data-status, data-count and data-start, and a <title>.
 */
export function renderBarChart(layout, { width = 800, height = 200, label = "" } = {}) {
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    preserveAspectRatio: "none",
    role: "img",
    "aria-label": label,
    class: "bar-chart",
    "data-testid": "executions-chart",
  });
  for (const frac of [0.25, 0.5, 0.75]) {
    root.append(svg("line", { class: "gridline", x1: 0, x2: width, y1: height * frac, y2: height * frac }));
  }
  for (const bar of layout.bars) {
    for (const seg of bar.segments) {
      const rect = svg("rect", {
        class: `bar bar-${seg.status}`,
        x: bar.x.toFixed(2),
        y: seg.y.toFixed(2),
        width: bar.width.toFixed(2),
        height: Math.max(seg.height, 0.5).toFixed(2),
        "data-status": seg.status,
        "data-count": seg.count,
        "data-start": bar.start,
      });
      rect.append(svg("title", {}, `${seg.count} ${seg.status} (${bar.start})`));
      root.append(rect);
    }
  }
  return root;
}
