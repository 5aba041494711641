// #/rules/<ref>: one rule: its definition as YAML, enabled state (admins can toggle), criteria, a box to test it
// against a payload (anyone: it changes nothing), and its recent enforcements.
import { api } from "../api.js";
import { add, errorBox, field, fill, fmtTime, h, link, pageHeader, props, statusBadge, table } from "../dom.js";
import { executionStatuses } from "../execution_statuses.js";
import { parseJsonObject } from "../json_input.js";
import { enabledBadge, lastFired, toggleButton } from "../rule_toggle.js";
import { verdictView } from "../rule_verdict.js";
import { toYaml } from "../yaml.js";

/** A table named by the section heading `id` (no second caption under the heading). */
function labelled(id, spec) {
  const t = table(spec);
  t.setAttribute("aria-labelledby", id);
  return t;
}

const nonEmpty = (o) => o && Object.keys(o).length > 0;

/** The rule as its file would read (what GET returns without the derived fields). */
export function ruleFile(rule) {
  const out = { name: rule.name, pack: rule.pack };
  if (rule.description) out.description = rule.description;
  out.enabled = rule.enabled;
  if (rule.type && rule.type.ref && rule.type.ref !== "standard") out.type = rule.type;
  out.trigger = { type: rule.trigger.type };
  if (nonEmpty(rule.trigger.parameters)) out.trigger.parameters = rule.trigger.parameters;
  if (nonEmpty(rule.criteria)) out.criteria = rule.criteria;
  out.action = { ref: rule.action.ref };
  if (nonEmpty(rule.action.parameters)) out.action.parameters = rule.action.parameters;
  if (rule.tags && rule.tags.length) out.tags = rule.tags;
  return out;
}

const sameParameters = (a, b) => JSON.stringify(a || {}) === JSON.stringify(b || {});

/** The payload to prefill the test box with: {payload, from} (`from` a trigger instance, or null). */
async function samplePayload(rule, instanceId) {
  if (instanceId) {
    const instance = await api.get(`/api/v1/triggerinstances/${encodeURIComponent(instanceId)}`);
    return { payload: instance.payload || {}, from: instance };
  }
  const { items } = await api.list("/api/v1/triggerinstances", { trigger: rule.trigger.type, limit: 20 });
  const instance = items.find((i) => sameParameters(i.parameters, rule.trigger.parameters)) || items[0];
  return instance ? { payload: instance.payload || {}, from: instance } : { payload: {}, from: null };
}

function summary(rule, ctx, onChange) {
  const problems = h("div", { "aria-live": "assertive" });
  const toggle = ctx.user.isAdmin
    ? toggleButton(rule, onChange, (err) => fill(problems, errorBox(`Could not change ${rule.ref}: ${err.message}`)))
    : null;
  return h(
    "section",
    { class: "card", "aria-labelledby": "rule-summary-title" },
    h("h2", { id: "rule-summary-title" }, "Summary"),
    props([
      ["Description", rule.description || h("span", { class: "muted" }, "–")],
      ["Enabled", [enabledBadge(rule.enabled), " ", toggle]],
      [
        "Trigger",
        [
          h("code", {}, rule.trigger.type),
          nonEmpty(rule.trigger.parameters) ? h("code", { class: "muted" }, ` ${JSON.stringify(rule.trigger.parameters)}`) : null,
        ],
      ],
      ["Action", h("code", {}, rule.action.ref)],
      ["Pack", link(`#/packs/${encodeURIComponent(rule.pack)}`, rule.pack)],
      ["Last fired", lastFired(rule, fmtTime)],
      ["Defined in", rule.metadata_file ? h("code", {}, rule.metadata_file) : "the API (no pack file)"],
    ]),
    problems,
  );
}

function criteriaTable(rule) {
  const rows = Object.entries(rule.criteria || {}).map(([key, c]) => ({ key, ...c }));
  return labelled("rule-criteria-title", {
    columns: [
      { label: "Key", cell: (c) => h("code", {}, c.key) },
      { label: "Operator", cell: (c) => c.type },
      { label: "Pattern", cell: (c) => h("code", {}, typeof c.pattern === "string" ? c.pattern : JSON.stringify(c.pattern)) },
    ],
    rows,
    empty: "No criteria: every instance of the trigger matches.",
  });
}

function testBox(rule) {
  const textarea = h("textarea", { rows: 12, spellcheck: "false", autocomplete: "off" });
  // The sample payload arrives after the page: it must not overwrite what the user typed meanwhile.
  textarea.addEventListener("input", () => {
    textarea.dataset.touched = "1";
  }, { once: true });
  const origin = h("p", { class: "hint", id: "rule-test-origin" });
  const result = h("div", { class: "rule-test-result", "aria-live": "polite", "data-testid": "rule-test-result" });
  const button = h("button", { type: "submit", class: "primary" }, "Test");
  const form = h(
    "form",
    { "aria-labelledby": "rule-test-title", novalidate: true },
    field("Payload (JSON)", textarea, "rule-test-payload", "The trigger payload, e.g. a webhook's {\"body\": {...}, \"headers\": {...}}"),
    origin,
    h("div", { class: "actions" }, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const parsed = parseJsonObject(textarea.value, "The payload");
    if (parsed.error) {
      textarea.setAttribute("aria-invalid", "true");
      fill(result, errorBox(parsed.error));
      return;
    }
    textarea.removeAttribute("aria-invalid");
    button.disabled = true;
    fill(result, h("p", { class: "muted" }, "Testing…"));
    try {
      const verdict = await api.post(`/api/v1/rules/${encodeURIComponent(rule.ref)}/test`, { payload: parsed.value });
      fill(result, verdictView(verdict));
    } catch (err) {
      fill(result, errorBox(err));
    } finally {
      button.disabled = false;
    }
  });
  const section = h(
    "section",
    { class: "card rule-test", "aria-labelledby": "rule-test-title" },
    h("h2", { id: "rule-test-title" }, "Test against this payload"),
    h("p", { class: "muted" }, "Checks the criteria and renders the action's parameters. Nothing runs and nothing is stored."),
    form,
    result,
  );
  return { section, textarea, origin };
}

async function enforcementsTable(rule) {
  const { items } = await api.list("/api/v1/ruleenforcements", { rule_ref: rule.ref, limit: 20 });
  const statuses = await executionStatuses(items.map((e) => e.execution_id));
  return labelled("rule-enforcements-title", {
    columns: [
      { label: "Time", cell: (e) => fmtTime(e.enforced_at) },
      { label: "Trigger instance", cell: (e) => link(`#/triggers/${encodeURIComponent(e.trigger_instance_id)}`, e.trigger_instance_id, { class: "mono" }) },
      {
        label: "Execution",
        cell: (e) =>
          e.execution_id
            ? [link(`#/executions/${encodeURIComponent(e.execution_id)}`, e.execution_id, { class: "mono" }), " ", statuses[e.execution_id] ? statusBadge(statuses[e.execution_id]) : h("span", { class: "muted" }, "(expired)")]
            : h("span", { class: "muted" }, "none"),
      },
      { label: "Enforcement", cell: (e) => h("span", { class: e.status === "failed" ? "fail" : "pass" }, e.status === "failed" ? "failed" : "started the action") },
      { label: "Failure reason", cell: (e) => e.failure_reason || h("span", { class: "muted" }, "–") },
    ],
    rows: items,
    rowProps: (e) => ({ "data-testid": `enforcement-${e.trigger_instance_id}` }),
    empty: "This rule has not fired yet.",
  });
}

export async function render(main, [ref], ctx) {
  let rule = await api.get(`/api/v1/rules/${encodeURIComponent(ref)}`);
  const summaryHolder = h("div", {});
  const yaml = h("pre", { class: "yaml", tabindex: "0", "aria-label": "The rule as YAML", "data-testid": "rule-yaml" });
  const enforcements = h("section", { "aria-labelledby": "rule-enforcements-title" }, h("h2", { id: "rule-enforcements-title" }, "Recent enforcements (newest first)"));
  const tester = testBox(rule);

  function showRule() {
    fill(summaryHolder, summary(rule, ctx, (updated) => {
      rule = updated;
      showRule();
      const again = summaryHolder.querySelector(".rule-enabled button");
      if (again) again.focus();
    }));
    fill(yaml, toYaml(ruleFile(rule)));
  }

  main.append(
    pageHeader(`Rule ${rule.ref}`),
    h(
      "div",
      { class: "rule-layout" },
      h(
        "div",
        {},
        summaryHolder,
        h("section", { class: "card", "aria-labelledby": "rule-criteria-title" }, h("h2", { id: "rule-criteria-title" }, "Criteria"), criteriaTable(rule)),
        h("section", { class: "card", "aria-labelledby": "rule-yaml-title" }, h("h2", { id: "rule-yaml-title" }, "Definition (YAML)"), yaml),
      ),
      tester.section,
    ),
    enforcements,
  );
  showRule();

  const instanceId = ctx.query.get("instance");
  const [sample, table_] = await Promise.allSettled([samplePayload(rule, instanceId), enforcementsTable(rule)]);
  const untouched = !tester.textarea.dataset.touched;
  if (sample.status === "fulfilled") {
    if (untouched) tester.textarea.value = JSON.stringify(sample.value.payload, null, 2);
    const from = sample.value.from;
    if (from) {
      fill(tester.origin, "Prefilled with the payload of trigger instance ", link(`#/triggers/${encodeURIComponent(from.id)}`, from.id), ".");
    } else {
      fill(tester.origin, `No instance of ${rule.trigger.type} has been received yet: type a payload.`);
    }
  } else {
    if (untouched) tester.textarea.value = "{}";
    fill(tester.origin, errorBox(sample.reason));
  }
  add(enforcements, table_.status === "fulfilled" ? table_.value : errorBox(table_.reason));
}
