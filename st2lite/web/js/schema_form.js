// A form built from an inquiry's JSON schema (an object of boolean, string, number/integer and enum fields),
// and the response it gives. The API checks the response against the schema; this only shapes the values.
import { field, h } from "./dom.js";

/** The names of the schema's required properties (draft 4 `required: [...]` or draft 3 `required: true`). */
export function requiredNames(schema) {
  const props = (schema && schema.properties) || {};
  const listed = Array.isArray(schema && schema.required) ? schema.required : [];
  return new Set([...listed, ...Object.entries(props).filter(([, p]) => p && p.required === true).map(([n]) => n)]);
}

function kindOf(prop) {
  if (Array.isArray(prop.enum)) return "enum";
  const type = Array.isArray(prop.type) ? prop.type.find((t) => t !== "null") : prop.type;
  if (type === "boolean" || type === "integer" || type === "number") return type;
  if (type === "string" || type === undefined) return "string";
  return "json";
}

/**
 * Build the form's fields: returns {fields: [element], read()} where read() gives
 * {response} or {error: "message"} (a number that is not one, JSON that does not parse).
 */
export function schemaFields(schema, idPrefix) {
  const props = (schema && schema.properties) || {};
  const required = requiredNames(schema);
  const readers = [];
  const fields = [];
  for (const [name, prop] of Object.entries(props)) {
    const spec = prop && typeof prop === "object" ? prop : {};
    const kind = kindOf(spec);
    const id = `${idPrefix}-${name}`;
    const label = `${spec.title || name}${required.has(name) ? " (required)" : ""}`;
    const hint = spec.description || null;
    if (kind === "boolean") {
      const box = h("input", { type: "checkbox", checked: spec.default === true });
      box.id = id;
      fields.push(h("div", { class: "field checkbox" }, h("label", { for: id }, box, " ", label), hint ? h("span", { class: "hint" }, hint) : null));
      readers.push(() => [name, box.checked]);
    } else if (kind === "enum") {
      const select = h("select", {}, required.has(name) ? null : h("option", { value: "" }, "(none)"), spec.enum.map((v) => h("option", { value: JSON.stringify(v) }, String(v))));
      if (spec.default !== undefined) select.value = JSON.stringify(spec.default);
      fields.push(field(label, select, id, hint));
      readers.push(() => (select.value === "" ? null : [name, JSON.parse(select.value)]));
    } else if (kind === "integer" || kind === "number") {
      const input = h("input", { type: "text", inputmode: kind === "integer" ? "numeric" : "decimal" });
      if (spec.default !== undefined) input.value = String(spec.default);
      fields.push(field(label, input, id, hint));
      readers.push(() => {
        const text = input.value.trim();
        if (text === "") return null;
        const value = Number(text);
        if (Number.isNaN(value) || (kind === "integer" && !Number.isInteger(value))) {
          return { error: `${spec.title || name} must be ${kind === "integer" ? "a whole number" : "a number"}, not "${text}"` };
        }
        return [name, value];
      });
    } else if (kind === "string") {
      const input = h("input", { type: "text" });
      if (spec.default !== undefined) input.value = String(spec.default);
      fields.push(field(label, input, id, hint));
      readers.push(() => (input.value === "" ? null : [name, input.value]));
    } else {
      const area = h("textarea", { rows: 3 });
      if (spec.default !== undefined) area.value = JSON.stringify(spec.default);
      fields.push(field(`${label} (JSON)`, area, id, hint));
      readers.push(() => {
        if (area.value.trim() === "") return null;
        try {
          return [name, JSON.parse(area.value)];
        } catch {
          return { error: `${spec.title || name} must be JSON` };
        }
      });
    }
  }
  const read = () => {
    const response = {};
    for (const reader of readers) {
      const got = reader();
      if (got === null) continue;
      if (!Array.isArray(got)) return { error: got.error };
      response[got[0]] = got[1];
    }
    return { response };
  };
  return { fields, read };
}
