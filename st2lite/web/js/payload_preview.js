// A one-line preview of a trigger payload for tables. Pure: no DOM.

/** The payload's interesting part on one line, cut at `max` characters (a webhook's body, not its headers). */
export function payloadPreview(payload, max = 120) {
  if (payload === undefined || payload === null) return "";
  const webhook = typeof payload === "object" && !Array.isArray(payload) && "body" in payload && "headers" in payload;
  const text = webhook ? `body: ${JSON.stringify(payload.body)}` : JSON.stringify(payload);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
