// The rule test's verdict (POST /api/v1/rules/{ref}/test) as a page fragment: matched or not and why,
// each criterion with its reason, and the action it would run.
import { errorBox, h, jsonBlock, table } from "./dom.js";

function shown(value) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "(nothing)");
  return h("code", {}, typeof value === "string" ? value : JSON.stringify(value));
}

export function verdictView(verdict) {
  const matched = verdict.matched;
  const criteria = verdict.criteria || [];
  const action = verdict.action || {};
  return h(
    "div",
    { class: "rule-verdict" },
    h(
      "p",
      { class: `verdict ${matched ? "pass" : "fail"}`, "data-testid": "rule-test-verdict" },
      h("strong", {}, matched ? "MATCHED" : "NOT MATCHED"),
      h("span", { class: "verdict-reason" }, ` ${verdict.reason || ""}`),
    ),
    criteria.length
      ? table({
          caption: "Criteria",
          columns: [
            { label: "Key", cell: (c) => h("code", {}, c.key) },
            { label: "Operator", cell: (c) => c.operator },
            { label: "Pattern", cell: (c) => shown(c.pattern) },
            { label: "Value found", cell: (c) => shown(c.value) },
            { label: "Result", cell: (c) => h("span", { class: c.passed ? "pass" : "fail" }, c.passed ? "passed" : "failed") },
            { label: "Why", cell: (c) => c.reason || c.error || "" },
          ],
          rows: criteria,
          rowProps: (c) => ({ "data-testid": `criterion-${c.key}`, class: c.passed ? "criterion-passed" : "criterion-failed" }),
        })
      : h("p", { class: "muted" }, "This rule has no criteria: every instance of its trigger matches."),
    verdict.render_error ? errorBox(`The action's parameters could not be rendered: ${verdict.render_error}`) : null,
    matched && !verdict.render_error
      ? h("div", {}, h("h3", {}, "Action it would run: ", h("code", {}, action.ref)), jsonBlock(action.parameters || {}, "Action parameters"))
      : null,
    !matched ? h("p", { class: "muted" }, "Nothing would run: ", h("code", {}, action.ref), " runs only when every criterion passes.") : null,
  );
}
