// Reading JSON a user typed: the value, or a message naming the problem and where it is (line and column).
// Pure: no DOM.

/** Line and column (both from 1) of a character offset in `text`. */
export function lineColumn(text, offset) {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return { line, column };
}

/** Offset of the first character that makes `text` invalid JSON (null when it is valid). */
export function errorOffset(text) {
  let i = 0;
  const fail = () => {
    throw i;
  };
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const string = () => {
    i++;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c < " ") fail();
      i += c === "\\" ? 2 : 1;
    }
    fail();
  };
  const sequence = (close, item) => {
    i++;
    ws();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      item();
      ws();
      if (text[i] === ",") i++;
      else if (text[i] === close) {
        i++;
        return;
      } else fail();
    }
  };
  const member = () => {
    ws();
    if (text[i] !== '"') fail();
    string();
    ws();
    if (text[i] !== ":") fail();
    i++;
    value();
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === "{") return sequence("}", member);
    if (c === "[") return sequence("]", value);
    if (c === '"') return string();
    const number = /^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/.exec(text.slice(i));
    if (number) {
      i += number[0].length;
      return undefined;
    }
    for (const word of ["true", "false", "null"]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return undefined;
      }
    }
    return fail();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return null;
  } catch (at) {
    return Math.min(at, text.length);
  }
}

function describe(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

/**
 * Parse `text` as a JSON object: {value} or {error}. `what` names the input in messages ("The payload").
 * The error names what is wrong and where: "The payload is not valid JSON at line 3, column 5: ...".
 */
export function parseJsonObject(text, what = "The input") {
  if (!text.trim()) return { error: `${what} is empty: type a JSON object, such as {"body": {"name": "st2"}}.` };
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const message = String(err.message || err);
    const found = message.match(/at position (\d+)/);
    const offset = errorOffset(text) ?? (found ? Number(found[1]) : text.length);
    const { line, column } = lineColumn(text, offset);
    const problem = message
      .replace(/\s*\(line \d+ column \d+\)/, "")
      .replace(/,? ?(in JSON )?at position \d+/, "")
      .replace(/^JSON\.parse: /, "")
      .replace(/, (\.\.\.)?".*" is not valid JSON$/s, "")
      .replace(/ at line \d+ column \d+ of the JSON data$/, "")
      .replace(/ in JSON$/, "")
      .trim();
    return { error: `${what} is not valid JSON at line ${line}, column ${column}: ${problem}.` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { error: `${what} must be a JSON object ({...}), not ${describe(value)}.` };
  }
  return { value };
}
