// #/triggers/<id>: one trigger instance: its payload, and what it caused (rule enforcements -> executions).
import { api } from "../api.js";
import { errorBox, fmtTime, h, jsonBlock, link, pageHeader, props, statusBadge, table } from "../dom.js";

export async function render(main, [id]) {
  const instance = await api.get(`/api/v1/triggerinstances/${encodeURIComponent(id)}`);
  main.append(pageHeader(`Trigger instance ${instance.id}`));
  const [enforcements, executions] = await Promise.allSettled([
    api.list("/api/v1/ruleenforcements", { trigger_instance: instance.id }),
    api.list("/api/v1/executions", { trigger_instance: instance.id, include_attributes: "id,status,action,rule" }),
  ]);
  const statuses = {};
  if (executions.status === "fulfilled") for (const e of executions.value.items) statuses[e.id] = e.status;

  main.append(
    h(
      "section",
      { class: "card instance-summary", "aria-labelledby": "instance-summary-title" },
      h("h2", { id: "instance-summary-title" }, "Summary"),
      props([
        ["Trigger type", h("code", {}, instance.trigger)],
        ["Received", fmtTime(instance.occurrence_time)],
        ["Status", instance.status],
        ["Trigger parameters", h("code", {}, JSON.stringify(instance.parameters || {}))],
        ["Trace tag", instance.trace_tag ? h("code", {}, instance.trace_tag) : null],
        ["Source", instance.source],
      ]),
    ),
    h(
      "section",
      { "aria-labelledby": "instance-caused-title" },
      h("h2", { id: "instance-caused-title" }, "What it caused"),
      h("p", { class: "muted" }, "The rules this instance matched, and the executions they started."),
      enforcements.status === "fulfilled"
        ? table({
            columns: [
              { label: "Rule", cell: (e) => link(`#/rules/${encodeURIComponent(e.rule.ref)}?instance=${encodeURIComponent(instance.id)}`, e.rule.ref) },
              { label: "Enforced", cell: (e) => fmtTime(e.enforced_at) },
              { label: "Enforcement", cell: (e) => h("span", { class: e.status === "failed" ? "fail" : "pass" }, e.status === "failed" ? "matched, failed to start the action" : "matched, started the action") },
              {
                label: "Execution",
                cell: (e) =>
                  e.execution_id
                    ? [link(`#/executions/${encodeURIComponent(e.execution_id)}`, e.execution_id, { class: "mono" }), " ", statuses[e.execution_id] ? statusBadge(statuses[e.execution_id]) : h("span", { class: "muted" }, "(expired)")]
                    : h("span", { class: "muted" }, "none"),
              },
              { label: "Failure reason", cell: (e) => e.failure_reason || h("span", { class: "muted" }, "–") },
            ],
            rows: enforcements.value.items,
            rowProps: (e) => ({ "data-testid": `caused-${e.rule.ref}` }),
            empty: "No enabled rule matched this instance, so it started nothing.",
          })
        : errorBox(enforcements.reason),
      executions.status === "rejected" ? errorBox(executions.reason) : null,
    ),
    h("section", { "aria-labelledby": "instance-payload-title" }, h("h2", { id: "instance-payload-title" }, "Payload"), jsonBlock(instance.payload || {}, "The trigger payload (JSON)")),
  );
}
