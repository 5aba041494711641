// A small YAML writer for JSON values (what the API returns), used to show a rule as its file would read.
// Pure: no DOM. Strings that YAML could read as something else (true, 1.0, "a: b", ...) are double-quoted
// (a JSON string is a valid YAML double-quoted scalar); multi-line strings become literal blocks.

const RESERVED = /^(true|false|yes|no|on|off|y|n|null|~)$/i;
const STARTS_SPECIAL = /^[-?:,[\]{}#&*!|>'"%@`\s]/;
const LOOKS_NUMERIC = /^[-+]?(\.?\d|\.(inf|nan)$)/i;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function isBlock(value) {
  if (Array.isArray(value)) return value.length > 0;
  return value !== null && typeof value === "object" && Object.keys(value).length > 0;
}

function needsQuotes(text) {
  return (
    text === "" ||
    RESERVED.test(text) ||
    STARTS_SPECIAL.test(text) ||
    LOOKS_NUMERIC.test(text) ||
    CONTROL.test(text) ||
    /\s$/.test(text) ||
    /:(\s|$)/.test(text) ||
    /\s#/.test(text)
  );
}

/** A string as a one-line YAML scalar. */
export function yamlString(text) {
  return needsQuotes(text) ? JSON.stringify(text) : text;
}

/** A scalar (or empty collection) on one line. */
function inline(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : JSON.stringify(String(value));
  if (typeof value === "string") return yamlString(value);
  if (Array.isArray(value)) return "[]";
  return "{}";
}

/** The lines of a literal block for a multi-line string, or null when it must stay a quoted scalar. */
function literal(text) {
  if (!text.includes("\n") || /^[ \t]/.test(text) || /\n\n$/.test(text) || /[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) {
    return null;
  }
  const keep = text.endsWith("\n");
  const lines = (keep ? text.slice(0, -1) : text).split("\n");
  return { indicator: keep ? "|" : "|-", lines: lines.map((l) => (l ? `  ${l}` : "")) };
}

/** A value after "key:" or "-": the rest of its line and the lines under it (indented by the caller). */
function entry(prefix, value) {
  if (isBlock(value)) {
    const inner = lines(value);
    if (prefix.startsWith("-")) return [`${prefix} ${inner[0]}`, ...inner.slice(1).map((l) => `  ${l}`)];
    return [prefix, ...inner.map((l) => `  ${l}`)];
  }
  if (typeof value === "string") {
    const block = literal(value);
    if (block) return [`${prefix} ${block.indicator}`, ...block.lines];
  }
  return [`${prefix} ${inline(value)}`];
}

function lines(value) {
  const out = [];
  if (Array.isArray(value)) {
    for (const item of value) out.push(...entry("-", item));
  } else {
    for (const [key, item] of Object.entries(value)) out.push(...entry(`${yamlString(key)}:`, item));
  }
  return out;
}

/** The YAML text of a JSON value, ending with a newline. */
export function toYaml(value) {
  if (isBlock(value)) return `${lines(value).join("\n")}\n`;
  return `${inline(value)}\n`;
}
