// A chain's timeline as numbers: which row each task's execution goes on and where its bar starts and ends.
// Pure: no DOM, no clock of its own (the caller passes `now`), so it can be reasoned about and tested alone.
import { parseTime as ms } from "./dom.js";

/** The task name and item index of a chain's child execution (context.chain = {name, item?}). */
export function taskOf(child) {
  const chain = (child && child.context && child.context.chain) || {};
  const name = typeof chain.name === "string" && chain.name ? chain.name : (child.action && child.action.ref) || child.id;
  const item = Number.isInteger(chain.item) ? chain.item : null;
  return { name, item };
}

/** "fan[2]" for an item of a with-items task, "fan" otherwise. */
export function barLabel(child) {
  const { name, item } = taskOf(child);
  return item === null ? name : `${name}[${item}]`;
}

/**
 * Lay out a chain's children (its direct tasks, any order) on a timeline.
 *
 * chain: the chain execution ({start_timestamp, end_timestamp}); children: its child executions;
 * now: epoch ms (running bars grow to it).
 * Returns {start, end, span, rows}: rows in the order tasks first started, one per task name, each
 * {task, bars}; a bar is {id, label, status, item, start, end, running, offset, width, left, widthPct}
 * (offset/width in ms from the chain's start; left/widthPct in percent of the span, a bar at least 0.5 %
 * wide so an instant task stays visible). with-items children share their task's row, sorted by item.
 */
export function layout(chain, children, now) {
  const chainStart = ms(chain && chain.start_timestamp);
  const starts = children.map((c) => ms(c.start_timestamp)).filter((t) => t !== null);
  const start = chainStart ?? (starts.length ? Math.min(...starts) : now);
  const bars = children.map((child) => {
    const s = ms(child.start_timestamp) ?? start;
    const e = ms(child.end_timestamp);
    const running = e === null;
    const end = Math.max(s, running ? now : e);
    const { name, item } = taskOf(child);
    return { id: child.id, task: name, item, label: barLabel(child), status: child.status, start: s, end, running };
  });
  const chainEnd = ms(chain && chain.end_timestamp);
  const end = Math.max(chainEnd ?? now, start + 1, ...bars.map((b) => b.end));
  const span = end - start;
  const byTask = new Map();
  for (const bar of [...bars].sort((a, b) => a.start - b.start || (a.item ?? -1) - (b.item ?? -1))) {
    bar.offset = bar.start - start;
    bar.width = bar.end - bar.start;
    bar.left = Math.min(99.5, (bar.offset / span) * 100);
    bar.widthPct = Math.min(100 - bar.left, Math.max(0.5, (bar.width / span) * 100));
    if (!byTask.has(bar.task)) byTask.set(bar.task, []);
    byTask.get(bar.task).push(bar);
  }
  const rows = [...byTask.entries()].map(([task, list]) => ({
    task,
    bars: list.sort((a, b) => (a.item ?? -1) - (b.item ?? -1) || a.start - b.start),
  }));
  return { start, end, span, rows };
}

/** Tick marks for an axis of `span` ms: about `count` round steps, each {at (ms), pct}. */
export function ticks(span, count = 5) {
  if (!(span > 0)) return [{ at: 0, pct: 0 }];
  const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000, 1800000, 3600000];
  const step = steps.find((s) => span / s <= count) ?? Math.ceil(span / count);
  const out = [];
  for (let at = 0; at <= span; at += step) out.push({ at, pct: (at / span) * 100 });
  return out;
}

/** The first task of a chain that failed (name), from its result's task records or its children. */
export function firstFailedTask(chain, children) {
  const bad = new Set(["failed", "timeout", "abandoned", "canceled"]);
  const records = (chain && chain.result && Array.isArray(chain.result.tasks)) ? chain.result.tasks : [];
  const record = records.find((r) => r && bad.has(r.state));
  if (record) return record.name;
  const child = [...children].sort((a, b) => (ms(a.start_timestamp) ?? 0) - (ms(b.start_timestamp) ?? 0)).find((c) => bad.has(c.status));
  return child ? taskOf(child).name : null;
}
