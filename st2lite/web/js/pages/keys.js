// #/keys: datastore values (GET /api/v1/keys), read-only; secrets come masked from the server and stay so.
import { api } from "../api.js";
import { errorBox, field, fill, fmtTime, h, pageHeader, table } from "../dom.js";

export const SCOPES = [
  ["st2kv.system", "System (st2kv.system)"],
  ["st2kv.user", "My user values (st2kv.user)"],
];
const DEFAULT_SCOPE = "st2kv.system";
const PAGE = 500;
const TYPING_MS = 300;

/** The scope from the hash query: {scope, problem} (problem: a message when the value was not usable). */
export function parseScope(raw) {
  if (!raw) return { scope: DEFAULT_SCOPE, problem: null };
  if (SCOPES.some(([value]) => value === raw)) return { scope: raw, problem: null };
  return { scope: DEFAULT_SCOPE, problem: `The scope "${raw}" is not st2kv.system or st2kv.user; showing st2kv.system.` };
}

function valueCell(item) {
  if (item.secret) {
    return h("span", { class: "secret-value" },
      h("code", { class: "secret" }, item.value),
      " ",
      h("span", { class: "badge secret-badge", title: "Stored encrypted; shown masked" }, "secret"));
  }
  return h("code", { class: "key-value" }, item.value);
}

function expiry(item) {
  if (!item.expire_timestamp) return h("span", { class: "muted" }, "never");
  return h("span", {}, fmtTime(item.expire_timestamp), item.ttl ? h("span", { class: "muted" }, ` (ttl ${item.ttl} s)`) : null);
}

export async function render(main, _params, ctx) {
  const { scope, problem } = parseScope(ctx.query.get("scope"));
  let prefix = ctx.query.get("prefix") || "";
  const scopeSelect = h("select", {}, SCOPES.map(([value, label]) => h("option", { value, selected: value === scope }, label)));
  const prefixInput = h("input", { type: "search", value: prefix, autocomplete: "off", spellcheck: "false" });
  const count = h("p", { class: "muted", "data-testid": "keys-count", role: "status" });
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const problemBox = h("p", { class: "notice", role: "status", "data-testid": "scope-problem", hidden: !problem }, problem || "");

  let seq = 0;
  const load = async () => {
    const mine = ++seq;
    try {
      const { items, total } = await api.list("/api/v1/keys", { scope: scopeSelect.value, prefix, limit: PAGE });
      if (mine !== seq) return; // a newer filter answered first
      fill(count, items.length < total ? `Showing ${items.length} of ${total} values.` : `${total} values.`);
      fill(body, table({
        caption: `Datastore values in ${scopeSelect.value}${prefix ? ` starting with "${prefix}"` : ""}`,
        columns: [
          { label: "Name", cell: (k) => h("code", {}, k.name) },
          { label: "Value", cell: valueCell },
          { label: "User", cell: (k) => k.user || h("span", { class: "muted" }, "–") },
          { label: "Expires", cell: expiry },
        ],
        rows: items,
        empty: prefix ? `No value's name starts with "${prefix}".` : "No values in this scope.",
        rowProps: (k) => ({ dataset: { key: k.name } }),
      }));
    } catch (err) {
      if (mine !== seq) return;
      fill(count);
      fill(body, errorBox(err));
    }
  };

  scopeSelect.addEventListener("change", () => {
    problemBox.hidden = true;
    ctx.setQuery({ scope: scopeSelect.value === DEFAULT_SCOPE ? null : scopeSelect.value });
    load();
  });
  let typing = null;
  prefixInput.addEventListener("input", () => {
    window.clearTimeout(typing);
    typing = window.setTimeout(() => {
      prefix = prefixInput.value.trim();
      ctx.setQuery({ prefix });
      load();
    }, TYPING_MS);
  });

  main.append(
    pageHeader("Keys"),
    h("p", { class: "notice", "data-testid": "keys-read-only" },
      "Read-only: set and delete values with the CLI (",
      h("code", {}, "st2lite key set NAME VALUE"), ", ", h("code", {}, "st2lite key delete NAME"),
      "). Secret values are shown masked and are never decrypted here."),
    h("div", { class: "filters", role: "search", "aria-label": "Filter keys" },
      field("Scope", scopeSelect, "keys-scope"),
      field("Name starts with", prefixInput, "keys-prefix")),
    problemBox,
    count,
    body,
  );
  await load();
  return () => window.clearTimeout(typing);
}
