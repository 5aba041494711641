// #/packs/<name>: one pack's content: actions (parameters, secret ones marked), rules, sensors, aliases, triggers.
import { api } from "../api.js";
import { h, link, pageHeader, props, refLink, table } from "../dom.js";

function parameterList(parameters) {
  const names = Object.keys(parameters || {});
  if (!names.length) return h("span", { class: "muted" }, "none");
  return h("ul", { class: "plain params" }, names.map((name) => {
    const spec = parameters[name] || {};
    return h("li", {},
      h("code", {}, name),
      h("span", { class: "muted" }, ` ${spec.type || "string"}`),
      spec.required ? h("span", { class: "badge" }, "required") : null,
      spec.secret ? h("span", { class: "badge secret-badge", title: "Its value is masked everywhere" }, "secret") : null);
  }));
}

function section(id, title, content) {
  return h("section", { class: "card own-heading", "aria-labelledby": id }, h("h2", { id }, title), content);
}

function meta(pack) {
  const rows = [
    ["Version", pack.version],
    ["Author", pack.author],
    ["Email", pack.email],
    ["Description", pack.description],
    ["Keywords", (pack.keywords || []).join(", ")],
  ];
  return props(rows);
}

export async function render(main, [name]) {
  const pack = await api.get(`/api/v1/packs/${encodeURIComponent(name)}`);
  const params = { pack: name, limit: -1 };
  const [actions, rules, sensors, aliases, triggers] = await Promise.all([
    api.get("/api/v1/actions", params),
    api.get("/api/v1/rules", params),
    api.get("/api/v1/sensortypes", params),
    api.get("/api/v1/actionalias", params),
    api.get("/api/v1/triggertypes", params),
  ]);
  main.append(
    pageHeader(`Pack ${pack.ref}`),
    h("p", {}, link("#/packs", "All packs")),
    h("section", { class: "card", "aria-label": "About this pack" }, meta(pack)),
    section("pack-actions", `Actions (${actions.length})`, table({
      caption: `Actions of ${name}`,
      columns: [
        { label: "Action", cell: (a) => h("code", {}, a.ref) },
        { label: "Runner", cell: (a) => a.runner_type },
        { label: "Description", cell: (a) => a.description || "" },
        { label: "Parameters", cell: (a) => parameterList(a.parameters) },
        { label: "Runs", cell: (a) => link(`#/executions?action=${encodeURIComponent(a.ref)}`, "executions", { "aria-label": `Executions of ${a.ref}` }) },
      ],
      rows: actions,
      empty: "This pack has no actions.",
      rowProps: (a) => ({ dataset: { ref: a.ref } }),
    })),
    section("pack-rules", `Rules (${rules.length})`, table({
      caption: `Rules of ${name}`,
      columns: [
        { label: "Rule", cell: (r) => refLink("rules", r.ref) },
        { label: "Enabled", cell: (r) => h("span", { class: `badge ${r.enabled ? "on" : "off"}` }, r.enabled ? "enabled" : "disabled") },
        { label: "Trigger", cell: (r) => h("code", {}, (r.trigger && r.trigger.type) || "") },
        { label: "Action", cell: (r) => h("code", {}, (r.action && r.action.ref) || "") },
      ],
      rows: rules,
      empty: "This pack has no rules.",
    })),
    section("pack-sensors", `Sensors (${sensors.length})`, table({
      caption: `Sensors of ${name}`,
      columns: [
        { label: "Sensor", cell: (s) => h("code", {}, s.ref) },
        { label: "State", cell: (s) => h("span", { class: `status sensor-state state-${(s.status && s.status.state) || "unknown"}` }, (s.status && s.status.state) || "unknown") },
        { label: "Trigger types", cell: (s) => (s.trigger_types || []).join(", ") },
        { label: "Description", cell: (s) => s.description || "" },
      ],
      rows: sensors,
      empty: "This pack has no sensors.",
    })),
    section("pack-aliases", `Aliases (${aliases.length})`, table({
      caption: `Action aliases of ${name}`,
      columns: [
        { label: "Alias", cell: (a) => h("code", {}, a.ref) },
        { label: "Action", cell: (a) => h("code", {}, a.action_ref || "") },
        { label: "Formats", cell: (a) => h("ul", { class: "plain" }, (a.formats || []).map((f) => h("li", {}, h("code", {}, typeof f === "string" ? f : f.display || JSON.stringify(f))))) },
        { label: "Description", cell: (a) => a.description || "" },
      ],
      rows: aliases,
      empty: "This pack has no action aliases.",
    })),
    section("pack-triggers", `Trigger types (${triggers.length})`, table({
      caption: `Trigger types of ${name}`,
      columns: [
        { label: "Trigger type", cell: (t) => h("code", {}, t.ref) },
        { label: "Description", cell: (t) => t.description || "" },
        { label: "Instances", cell: (t) => link(`#/triggers?trigger=${encodeURIComponent(t.ref)}`, "instances", { "aria-label": `Instances of ${t.ref}` }) },
      ],
      rows: triggers,
      empty: "This pack declares no trigger types.",
    })),
  );
}
