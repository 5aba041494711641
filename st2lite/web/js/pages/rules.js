// #/rules: every rule with its trigger, action, enabled state and last-fired time; admins can enable/disable.
import { api } from "../api.js";
import { errorBox, field, fill, fmtTime, h, pageHeader, refLink, table } from "../dom.js";
import { enabledBadge, lastFired, toggleButton } from "../rule_toggle.js";

function matches(rule, text) {
  if (!text) return true;
  const needle = text.toLowerCase();
  return [rule.ref, rule.description, rule.trigger.type, rule.action.ref].some((v) => (v || "").toLowerCase().includes(needle));
}

export async function render(main, _params, ctx) {
  const { items: rules } = await api.list("/api/v1/rules");
  const packs = [...new Set(rules.map((r) => r.pack))].sort();
  const packSelect = h("select", {}, h("option", { value: "" }, "All packs"), packs.map((p) => h("option", { value: p }, p)));
  packSelect.value = packs.includes(ctx.query.get("pack")) ? ctx.query.get("pack") : "";
  const search = h("input", { type: "search", value: ctx.query.get("q") || "", autocomplete: "off" });
  const problems = h("div", { "aria-live": "assertive" });
  const count = h("p", { class: "muted", "aria-live": "polite" });
  const holder = h("div", {});

  const columns = [
    { label: "Rule", cell: (r) => refLink("rules", r.ref) },
    { label: "Pack", cell: (r) => r.pack },
    { label: "Trigger", cell: (r) => h("code", {}, r.trigger.type) },
    { label: "Action", cell: (r) => h("code", {}, r.action.ref) },
    { label: "Enabled", cell: (r) => enabledBadge(r.enabled) },
    { label: "Last fired", cell: (r) => lastFired(r, fmtTime) },
  ];
  if (ctx.user.isAdmin) {
    columns.push({
      label: "Change",
      cell: (r) =>
        toggleButton(
          r,
          (updated) => {
            fill(problems);
            rules[rules.indexOf(r)] = updated;
            show();
            const row = holder.querySelector(`tr[data-ref="${CSS.escape(updated.ref)}"] button`);
            if (row) row.focus();
          },
          (err) => fill(problems, errorBox(`Could not change ${r.ref}: ${err.message}`)),
        ),
    });
  }

  function show() {
    const pack = packSelect.value;
    const text = search.value.trim();
    const shown = rules.filter((r) => (!pack || r.pack === pack) && matches(r, text));
    fill(count, `${shown.length} of ${rules.length} rules`);
    fill(
      holder,
      table({
        columns,
        rows: shown,
        empty: rules.length ? "No rule matches these filters." : "No rules are registered.",
        rowProps: (r) => ({ dataset: { ref: r.ref }, "data-testid": `rule-${r.ref}` }),
      }),
    );
    holder.firstElementChild.setAttribute("aria-label", "Rules");
  }

  packSelect.addEventListener("change", () => {
    ctx.setQuery({ pack: packSelect.value });
    show();
  });
  search.addEventListener("input", () => {
    ctx.setQuery({ q: search.value.trim() });
    show();
  });

  main.append(
    pageHeader("Rules"),
    h("form", { class: "filters", role: "search", "aria-label": "Filter rules", onsubmit: (e) => e.preventDefault() },
      field("Pack", packSelect, "rules-pack"),
      field("Search", search, "rules-search", "ref, description, trigger or action")),
    problems,
    count,
    holder,
  );
  show();
}
