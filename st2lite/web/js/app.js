// The dashboard's entry point: log-in state, the navigation, and hash routing to one page module at a time.
import { credential, logOut, onCredentialExpired, whoami } from "./api.js";
import { announce, errorBox, fill, h } from "./dom.js";

/**
 * Routes: a pattern on the hash path, the page module, the nav section it belongs to.
 * A page module exports `render(main, params, ctx)`; it may return a cleanup function
 * (close event streams, timers), called when the user leaves the page.
 */
const ROUTES = [
  [/^\/?$/, "overview", "overview"],
  [/^\/login$/, "login", null],
  [/^\/executions$/, "executions", "executions"],
  [/^\/executions\/([^/]+)$/, "execution", "executions"],
  [/^\/rules$/, "rules", "rules"],
  [/^\/rules\/([^/]+)$/, "rule", "rules"],
  [/^\/triggers$/, "triggers", "triggers"],
  [/^\/triggers\/([^/]+)$/, "trigger_instance", "triggers"],
  [/^\/sensors$/, "sensors", "sensors"],
  [/^\/packs$/, "packs", "packs"],
  [/^\/packs\/([^/]+)$/, "pack", "packs"],
  [/^\/keys$/, "keys", "keys"],
];

const main = document.getElementById("main");
let cleanup = null;
let user = null;
// On the first page of a load focus stays at the top (the skip link is the first Tab stop); after each
// navigation it moves to the new page's heading, so screen readers announce the page.
let firstPage = true;

/** Parse "#/executions?status=failed" into {path: "/executions", query: URLSearchParams}. */
function parseHash() {
  const raw = window.location.hash.replace(/^#/, "") || "/";
  const [path, qs] = raw.split("?", 2);
  return { path, query: new URLSearchParams(qs || "") };
}

/** Change the hash's query (filters) without adding a history entry for every keystroke. */
export function setQuery(values) {
  const { path, query } = parseHash();
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === null || v === "") query.delete(k);
    else query.set(k, v);
  }
  const qs = query.toString();
  history.replaceState(null, "", `#${path}${qs ? `?${qs}` : ""}`);
}

function showChrome(me) {
  document.getElementById("nav").hidden = !me;
  document.getElementById("session").hidden = !me;
  document.getElementById("session-user").textContent = me ? `${me.username} (${me.role})` : "";
  document.body.dataset.role = me ? me.role : "";
}

function markSection(section) {
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.section === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

let navigation = 0; // the newest route() call: an older one still loading gives way to it

async function route() {
  const mine = ++navigation;
  const stale = () => mine !== navigation;
  if (cleanup) {
    try {
      cleanup();
    } catch {
      /* a page's cleanup failing must not block the next page */
    }
    cleanup = null;
  }
  const { path, query } = parseHash();
  if (!credential() && path !== "/login") {
    const next = window.location.hash && path !== "/" ? window.location.hash : "";
    window.location.hash = `#/login${next ? `?next=${encodeURIComponent(next)}` : ""}`;
    return;
  }
  if (credential() && !user) {
    try {
      user = await whoami();
    } catch (err) {
      if (!stale()) fill(main, errorBox(err));
      return;
    }
    if (stale()) return;
  }
  showChrome(credential() ? user : null);
  const match = ROUTES.map(([re, page, section]) => [path.match(re), page, section]).find(([m]) => m);
  if (!match) {
    markSection(null);
    fill(main, h("h1", {}, "Not found"), h("p", {}, "There is no page at ", h("code", {}, path), ". ", h("a", { href: "#/" }, "Go to the overview")));
    return;
  }
  const [m, page, section] = match;
  markSection(section);
  const params = m.slice(1).map(decodeURIComponent);
  const ctx = {
    user,
    query,
    setQuery,
    onLogin: (me) => {
      user = me;
    },
  };
  try {
    const module = await import(`./pages/${page}.js`);
    if (stale()) return;
    // Each page renders into a view of its own: one still rendering when the user moves on writes into a
    // view that is no longer on the page.
    const view = h("div", { class: "view" });
    fill(main, view);
    const result = await module.render(view, params, ctx);
    if (stale()) {
      if (typeof result === "function") result(); // its streams and timers go too
      return;
    }
    if (typeof result === "function") cleanup = result;
  } catch (err) {
    if (!stale()) fill(main, errorBox(err));
  }
  const title = document.getElementById("page-title");
  document.title = title ? `${title.textContent} · st2lite` : "st2lite";
  if (title && !firstPage) title.focus({ preventScroll: true });
  firstPage = false;
}

// "Skip to content" moves focus to the page's heading (its #main target would be taken for a route).
document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  (document.getElementById("page-title") || main).focus();
});

document.getElementById("logout").addEventListener("click", () => {
  logOut();
  user = null;
  showChrome(null);
  announce("Logged out");
  window.location.hash = "#/login";
});

onCredentialExpired((message) => {
  user = null;
  showChrome(null);
  const { path } = parseHash();
  window.location.hash = `#/login?expired=1&next=${encodeURIComponent(`#${path}`)}`;
  announce(message);
});

window.addEventListener("hashchange", route);
route();
