// The enable/disable button of a rule (admins only: the API's rule_modify permission).
import { api } from "./api.js";
import { announce, h } from "./dom.js";

/** Enable or disable `rule`: PUT the rule as GET returned it with `enabled` flipped; the stored rule back. */
export async function setEnabled(rule, enabled) {
  return api.put(`/api/v1/rules/${encodeURIComponent(rule.ref)}`, { ...rule, enabled });
}

/**
 * A button "Disable"/"Enable" for `rule`. onChange(updatedRule) after the API accepted the change,
 * onError(err) with the API's message when it refused.
 */
export function toggleButton(rule, onChange, onError) {
  const verb = rule.enabled ? "Disable" : "Enable";
  const button = h("button", { type: "button", class: rule.enabled ? "danger" : "primary", "aria-label": `${verb} ${rule.ref}` }, verb);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const updated = await setEnabled(rule, !rule.enabled);
      announce(`Rule ${updated.ref} ${updated.enabled ? "enabled" : "disabled"}`);
      onChange(updated);
    } catch (err) {
      button.disabled = false;
      onError(err);
    }
  });
  return button;
}

/** The "enabled"/"disabled" badge (a word, not only a colour). */
export function enabledBadge(enabled) {
  return h("span", { class: `badge ${enabled ? "on" : "off"}` }, enabled ? "enabled" : "disabled");
}

/** When the rule last fired, or "never". */
export function lastFired(rule, fmtTime) {
  return rule.last_fired ? fmtTime(rule.last_fired) : h("span", { class: "muted" }, "never");
}
