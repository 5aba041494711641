// #/packs: the registered packs with how much content each holds (GET /api/v1/packs and the content lists).
import { api } from "../api.js";
import { h, link, pageHeader, table } from "../dom.js";

/** {pack: n} from a list of items that each carry `pack`. */
export function countByPack(items) {
  const counts = {};
  for (const item of items) counts[item.pack] = (counts[item.pack] || 0) + 1;
  return counts;
}

const CONTENT = [
  ["actions", "/api/v1/actions"],
  ["rules", "/api/v1/rules"],
  ["sensors", "/api/v1/sensortypes"],
  ["aliases", "/api/v1/actionalias"],
];

export async function render(main) {
  main.append(pageHeader("Packs"));
  const [packs, ...lists] = await Promise.all([
    api.get("/api/v1/packs", { limit: -1 }),
    ...CONTENT.map(([, path]) => api.get(path, { limit: -1, include_attributes: "pack" })),
  ]);
  const counts = Object.fromEntries(CONTENT.map(([kind], i) => [kind, countByPack(lists[i])]));
  main.append(table({
    caption: `${packs.length} registered packs`,
    columns: [
      { label: "Pack", cell: (p) => link(`#/packs/${encodeURIComponent(p.ref)}`, p.ref) },
      { label: "Version", cell: (p) => p.version || "–" },
      { label: "Description", cell: (p) => p.description || "" },
      ...CONTENT.map(([kind]) => ({ label: kind[0].toUpperCase() + kind.slice(1), class: "num", cell: (p) => String(counts[kind][p.ref] || 0) })),
    ],
    rows: packs,
    empty: "No packs are registered: add one with 'st2lite pack register'.",
    rowProps: (p) => ({ dataset: { pack: p.ref } }),
  }));
}
