// The dashboard's one door to the API: credentials, JSON requests, errors, the event stream.
// The credential (a token from logging in, or an API key) lives in sessionStorage: it is gone with the tab.

const STORE = "st2lite.credential";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** {kind: "token" | "api_key", value, user?} or null. */
export function credential() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE) || "null");
  } catch {
    return null;
  }
}

function setCredential(value) {
  if (value) sessionStorage.setItem(STORE, JSON.stringify(value));
  else sessionStorage.removeItem(STORE);
}

function authHeaders() {
  const c = credential();
  if (!c) return {};
  return c.kind === "api_key" ? { "St2-Api-Key": c.value } : { "X-Auth-Token": c.value };
}

/** Listeners told when the API says the credential is no longer valid (401). */
const expiredListeners = new Set();
export function onCredentialExpired(fn) {
  expiredListeners.add(fn);
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

async function errorMessage(response) {
  let text = "";
  try {
    text = await response.text();
    const body = JSON.parse(text);
    if (body && typeof body.faultstring === "string") return body.faultstring;
    if (body && body.detail) return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch {
    /* not JSON: use the text */
  }
  return text || `${response.status} ${response.statusText}`;
}

/**
 * request("GET", "/api/v1/executions", {params, body, headers}) -> {data, total, response}.
 * Throws ApiError with the API's own message (its faultstring), which tells the user what to do.
 */
export async function request(method, path, { params, body, headers } = {}) {
  const init = { method, headers: { Accept: "application/json", ...authHeaders(), ...(headers || {}) } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path + query(params), init);
  } catch (err) {
    throw new ApiError(0, `Cannot reach the st2lite API (${err.message}); is st2lite up running?`);
  }
  if (response.status === 401 && credential()) {
    const message = await errorMessage(response);
    setCredential(null);
    for (const fn of expiredListeners) fn(message);
    throw new ApiError(401, message);
  }
  if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
  const total = response.headers.get("X-Total-Count");
  const type = response.headers.get("Content-Type") || "";
  let data = null;
  if (response.status !== 204) data = type.includes("json") ? await response.json() : await response.text();
  return { data, total: total === null ? null : Number(total), response };
}

export const api = {
  get: async (path, params) => (await request("GET", path, { params })).data,
  list: async (path, params) => {
    const { data, total } = await request("GET", path, { params });
    return { items: data, total: total ?? data.length };
  },
  post: async (path, body, params) => (await request("POST", path, { body, params })).data,
  put: async (path, body, params) => (await request("PUT", path, { body, params })).data,
  del: async (path, params) => (await request("DELETE", path, { params })).data,
};

/** Log in with a user and password: a token from POST /auth/v1/tokens (HTTP Basic). */
export async function logIn(user, password) {
  const basic = btoa(unescape(encodeURIComponent(`${user}:${password}`)));
  const response = await fetch("/auth/v1/tokens", {
    method: "POST",
    headers: { Authorization: `Basic ${basic}`, "Content-Type": "application/json", Accept: "application/json" },
    body: "{}",
  });
  if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
  const body = await response.json();
  setCredential({ kind: "token", value: body.token, expiry: body.expiry });
  return whoami();
}

/** Use an API key: kept only once the API accepts it. */
export async function useApiKey(key) {
  const response = await fetch("/api/v1/user", { headers: { "St2-Api-Key": key, Accept: "application/json" } });
  if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
  setCredential({ kind: "api_key", value: key });
  return whoami();
}

export function logOut() {
  setCredential(null);
}

/** {username, role: "viewer"|"operator"|"admin", canOperate, isAdmin} from GET /api/v1/user. */
export async function whoami() {
  const me = await api.get("/api/v1/user");
  const role = (me.rbac && me.rbac.roles && me.rbac.roles[0]) || "viewer";
  return { username: me.username, role, canOperate: role === "operator" || role === "admin", isAdmin: role === "admin" };
}

/**
 * Subscribe to the event stream (/stream/v1/stream): handlers = {"st2.execution__create": fn(data), ...}.
 * The stream starts when its connection opens, which is after the page's first read: an event in between
 * is in neither. And after a dropped connection (the browser reconnects by itself; when it gives up, the
 * stream is opened anew after 1 s, 2 s, 4 s... at most 30 s) events of the gap may be missed: a stream that
 * had sent no event has no Last-Event-ID to resume from. So `onSync()` is called each time the stream is
 * open, the first time and after every interruption: pages read again what they show.
 * Returns a function that closes the stream; pages call it when the user leaves.
 */
export function subscribe(handlers, params = {}, { onSync } = {}) {
  const c = credential();
  if (!c) return () => {};
  const auth = c.kind === "api_key" ? { "st2-api-key": c.value } : { "x-auth-token": c.value };
  const url = `/stream/v1/stream${query({ ...params, ...auth, events: Object.keys(handlers).join(",") })}`;
  let source = null;
  let closed = false;
  let timer = null;
  let delay = 1000;

  function open() {
    source = new EventSource(url);
    for (const [event, fn] of Object.entries(handlers)) {
      source.addEventListener(event, (e) => {
        let data;
        try {
          data = JSON.parse(e.data);
        } catch {
          return;
        }
        fn(data);
      });
    }
    source.addEventListener("open", () => {
      delay = 1000;
      if (onSync) onSync();
    });
    source.addEventListener("error", () => {
      if (closed) return;
      if (source.readyState !== EventSource.CLOSED) return; // CONNECTING: the browser retries by itself
      source.close();
      timer = window.setTimeout(open, delay);
      delay = Math.min(delay * 2, 30000);
    });
  }

  open();
  return () => {
    closed = true;
    window.clearTimeout(timer);
    if (source) source.close();
  };
}

/** Stream one execution's stdout/stderr: fn({output_type, data}) per line, onEnd() when it is over. */
export function followOutput(executionId, fn, onEnd) {
  const c = credential();
  if (!c) return () => {};
  const auth = c.kind === "api_key" ? { "st2-api-key": c.value } : { "x-auth-token": c.value };
  const source = new EventSource(`/stream/v1/executions/${encodeURIComponent(executionId)}/output${query(auth)}`);
  source.addEventListener("st2.execution.output__create", (e) => {
    try {
      fn(JSON.parse(e.data));
    } catch {
      /* a malformed line is skipped */
    }
  });
  source.addEventListener("EOF", () => {
    source.close();
    if (onEnd) onEnd();
  });
  return () => source.close();
}
