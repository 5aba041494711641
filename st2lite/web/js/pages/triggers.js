// #/triggers: trigger instances (newest first, live from the event stream) with a payload preview, filtered by
// trigger type; and the registered trigger types.
import { api, subscribe } from "../api.js";
import { announce, errorBox, field, fill, fmtTime, h, link, pageHeader, table, tableRow } from "../dom.js";
import { payloadPreview } from "../payload_preview.js";

const LIMIT = 50;
/** How long to look for a live instance's stored record (it is stored once the rules engine processed it). */
const PROCESSED_RETRIES_MS = [300, 700, 1500, 3000, 6000];

function instanceStatus(status) {
  const css = { processed: "succeeded", processing_failed: "failed", pending: "pending", processing: "running" }[status] || "unknown";
  return h("span", { class: `status status-${css}`, dataset: { status } }, status);
}

const COLUMNS = [
  { label: "Time", cell: (i) => fmtTime(i.occurrence_time) },
  { label: "Instance", cell: (i) => link(`#/triggers/${encodeURIComponent(i.id)}`, i.id, { class: "mono" }) },
  { label: "Trigger type", cell: (i) => h("code", {}, i.trigger) },
  { label: "Status", cell: (i) => instanceStatus(i.status) },
  { label: "Payload", cell: (i) => (i.payload ? h("code", { class: "payload-preview" }, payloadPreview(i.payload)) : h("span", { class: "muted" }, "(not processed yet)")) },
];

function typesTable(types) {
  const t = table({
    columns: [
      { label: "Trigger type", cell: (t) => h("code", {}, t.ref) },
      { label: "Pack", cell: (t) => t.pack },
      { label: "Description", cell: (t) => t.description || "" },
      { label: "Instances", cell: (t) => link(`#/triggers?trigger=${encodeURIComponent(t.ref)}`, `Show instances of ${t.ref}`) },
    ],
    rows: types,
    empty: "No trigger type is registered.",
  });
  t.setAttribute("aria-labelledby", "types-title");
  return t;
}

function row(instance) {
  return tableRow(COLUMNS, instance, (i) => ({ "data-testid": `instance-${i.id}`, dataset: { id: i.id } }));
}

export async function render(main, _params, ctx) {
  const [{ items: types }, { items: first }] = await Promise.all([
    api.list("/api/v1/triggertypes", { limit: -1 }),
    api.list("/api/v1/triggerinstances", { limit: LIMIT, trigger: ctx.query.get("trigger") || undefined }),
  ]);
  const typeSelect = h("select", {}, h("option", { value: "" }, "All trigger types"), types.map((t) => h("option", { value: t.ref }, t.ref)));
  typeSelect.value = types.some((t) => t.ref === ctx.query.get("trigger")) ? ctx.query.get("trigger") : "";
  const holder = h("div", {});
  const problems = h("div", { "aria-live": "assertive" });
  let instances = first;

  function show() {
    fill(holder, table({ columns: COLUMNS, rows: [], empty: "No trigger instance received yet." }));
    holder.firstElementChild.setAttribute("aria-labelledby", "instances-title");
    const body = holder.querySelector("tbody");
    if (instances.length) {
      body.replaceChildren(...instances.map(row));
    }
  }

  async function reload() {
    try {
      instances = (await api.list("/api/v1/triggerinstances", { limit: LIMIT, trigger: typeSelect.value || undefined })).items;
      fill(problems);
      show();
    } catch (err) {
      fill(problems, errorBox(err));
    }
  }

  function replaceRow(instance) {
    const index = instances.findIndex((i) => i.id === instance.id);
    if (index < 0) return;
    instances[index] = instance;
    const old = holder.querySelector(`tr[data-id="${CSS.escape(instance.id)}"]`);
    if (old) old.replaceWith(row(instance));
  }

  /** A live instance is stored once processed: look for it a few times, then show what the stream said. */
  async function complete(id, attempt = 0) {
    try {
      replaceRow(await api.get(`/api/v1/triggerinstances/${encodeURIComponent(id)}`));
    } catch {
      if (attempt < PROCESSED_RETRIES_MS.length) window.setTimeout(() => complete(id, attempt + 1), PROCESSED_RETRIES_MS[attempt]);
    }
  }

  typeSelect.addEventListener("change", () => {
    ctx.setQuery({ trigger: typeSelect.value });
    reload();
  });

  main.append(
    pageHeader("Triggers"),
    h(
      "section",
      { "aria-labelledby": "instances-title" },
      h("h2", { id: "instances-title" }, "Trigger instances (newest first)"),
      h("form", { class: "filters", role: "search", "aria-label": "Filter trigger instances", onsubmit: (e) => e.preventDefault() }, field("Trigger type", typeSelect, "triggers-type")),
      problems,
      holder,
    ),
    h(
      "section",
      { "aria-labelledby": "types-title" },
      h("h2", { id: "types-title" }, "Trigger types"),
      typesTable(types),
    ),
  );
  show();

  return subscribe({
    "st2.trigger_instance__create": (data) => {
      if (!data || !data.id || instances.some((i) => i.id === data.id)) return;
      if (typeSelect.value && data.trigger !== typeSelect.value) return;
      instances = [data, ...instances].slice(0, LIMIT);
      const body = holder.querySelector("tbody");
      const empty = body.querySelector("tr.empty");
      if (empty) empty.remove();
      const fresh = row(data);
      fresh.classList.add("fresh");
      body.prepend(fresh);
      while (body.children.length > LIMIT) body.lastElementChild.remove();
      announce(`Trigger instance of ${data.trigger} received`);
      complete(data.id);
    },
  }, {}, { onSync: reload }); // instances the stream cannot replay: list them again
}
