// The executions list's filters: from the hash query, to the API's query, and whether a streamed execution
// matches them (so live rows respect the filters too). Pure: no DOM, no I/O.

export const FILTER_KEYS = ["status", "action", "rule", "from", "to"];

/** {status, action, rule, from, to} (strings, "" when unset) from URLSearchParams. */
export function readFilters(query) {
  const out = {};
  for (const key of FILTER_KEYS) out[key] = (query.get(key) || "").trim();
  return out;
}

/** A datetime-local value ("2026-12-07T04:50") as epoch ms in the browser's time zone, or null. */
function localMs(value) {
  if (!value) return null;
  const t = new Date(value).getTime();
  return Number.isNaN(t) ? null : t;
}

/**
 * The API query of the filters: {params} or {error} with what the user must fix.
 * Top-level executions only (parent=null), newest first, `limit` of them.
 */
export function apiParams(filters, limit = 50) {
  const from = localMs(filters.from);
  const to = localMs(filters.to);
  if (filters.from && from === null) return { error: `"From" is not a date and time: ${filters.from}` };
  if (filters.to && to === null) return { error: `"To" is not a date and time: ${filters.to}` };
  if (from !== null && to !== null && to <= from) {
    return { error: "The time range is empty: \"To\" must be after \"From\". Change one of them." };
  }
  const params = { parent: "null", limit };
  if (filters.status) params.status = filters.status;
  if (filters.action) params.action = filters.action;
  if (filters.rule) params.rule = filters.rule;
  if (from !== null) params.timestamp_gt = new Date(from).toISOString();
  if (to !== null) params.timestamp_lt = new Date(to).toISOString();
  return { params };
}

/** True when a (streamed) execution is top-level and matches the filters. */
export function matches(execution, filters) {
  if (!execution || execution.parent) return false;
  if (filters.status && execution.status !== filters.status) return false;
  if (filters.action && (execution.action && execution.action.ref) !== filters.action) return false;
  if (filters.rule && (execution.rule && execution.rule.ref) !== filters.rule) return false;
  const created = Date.parse(execution.created_at || execution.start_timestamp || "");
  const from = localMs(filters.from);
  const to = localMs(filters.to);
  if (from !== null && !(created > from)) return false;
  if (to !== null && !(created < to)) return false;
  return true;
}
