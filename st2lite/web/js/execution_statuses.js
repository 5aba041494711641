// The status of executions known by id (for tables of enforcements that only carry the execution's id).
import { api } from "./api.js";

/** {id: status} for `ids`; an execution gone (expired) is left out. Requests run in parallel. */
export async function executionStatuses(ids) {
  const unique = [...new Set(ids.filter(Boolean))];
  const found = await Promise.all(
    unique.map((id) =>
      api.get(`/api/v1/executions/${encodeURIComponent(id)}`, { include_attributes: "id,status" }).catch(() => null),
    ),
  );
  const out = {};
  for (const e of found) if (e) out[e.id] = e.status;
  return out;
}
