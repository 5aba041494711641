// #/executions/<id>: one execution, live: its header, buttons, parameters, result, output and, for a chain,
// the timeline of its tasks. The timeline's maths is js/gantt.js; the inquiry form is js/schema_form.js.
import { api, followOutput, subscribe } from "../api.js";
import {
  add, announce, DONE, errorBox, executionDuration, fill, fmtDuration, fmtTime, h, jsonBlock, link, pageHeader,
  props, refLink, statusBadge,
} from "../dom.js";
import { createTimeline } from "../gantt_view.js";
import { firstFailedTask } from "../gantt.js";
import { schemaFields } from "../schema_form.js";

const CHAIN_RUNNER = "action-chain";
const INQUIRER_RUNNER = "inquirer";

function runnerOf(e) {
  return (e.runner && e.runner.name) || (e.action && e.action.runner_type) || "";
}

function actionRef(e) {
  return (e.action && e.action.ref) || "?";
}

function summary(e) {
  const trigger = (e.trigger && (e.trigger.type || e.trigger.ref)) || null;
  const instance = e.trigger_instance && e.trigger_instance.id;
  const who = (e.context && e.context.user) || null;
  const rows = [
    ["Status", h("span", { "data-testid": "execution-status" }, statusBadge(e.status))],
    ["Action", h("code", {}, actionRef(e))],
    ["Runner", runnerOf(e) || "–"],
    ["Rule", refLink("rules", e.rule && e.rule.ref)],
    ["Trigger", trigger ? (instance ? link(`#/triggers/${encodeURIComponent(instance)}`, trigger) : trigger) : h("span", { class: "muted" }, "–")],
    ["Run by", who || h("span", { class: "muted" }, "–")],
    ["Started", fmtTime(e.start_timestamp)],
    ["Ended", fmtTime(e.end_timestamp)],
    ["Duration", h("span", { "data-testid": "execution-duration" }, fmtDuration(executionDuration(e)))],
  ];
  if (e.parent) rows.push(["Part of", link(`#/executions/${encodeURIComponent(e.parent)}`, e.parent)]);
  const rerun = e.context && e.context["re-run"];
  if (rerun && rerun.ref) rows.push(["Re-run of", link(`#/executions/${encodeURIComponent(rerun.ref)}`, rerun.ref)]);
  return props(rows);
}

/** A button that asks for a second click (inline, no dialog) before it acts. */
function confirmButton(label, confirmLabel, onConfirm) {
  const box = h("span", { class: "confirm" });
  const first = h("button", { type: "button", class: "danger", onclick: () => {
    fill(box,
      h("span", { class: "confirm-question" }, "Sure? "),
      h("button", { type: "button", class: "danger", onclick: () => { fill(box, first); onConfirm(); } }, confirmLabel),
      h("button", { type: "button", onclick: () => { fill(box, first); first.focus(); } }, "No, keep it"));
    box.querySelector("button").focus();
  } }, label);
  return fill(box, first);
}

export function render(main, params, ctx) {
  const id = params[0];
  const state = { execution: null, children: new Map(), inquiries: new Map(), answered: new Set() };
  const canOperate = ctx.user && ctx.user.canOperate;
  const header = h("div", {});
  const message = h("div", { "aria-live": "polite" });
  const details = h("section", { class: "card", "aria-label": "Summary" });
  const inquiries = h("div", {});
  const timeline = h("div", {});
  const resultBox = h("section", { class: "card", "aria-labelledby": "result-heading" });
  const paramsBox = h("section", { class: "card", "aria-labelledby": "parameters-heading" });
  const output = h("pre", { class: "output", tabindex: "0", "aria-label": "Output (stdout and stderr)", "data-testid": "execution-output" });
  const outputBox = h("section", { class: "card", "aria-labelledby": "output-heading" },
    h("h2", { id: "output-heading" }, "Output"),
    h("p", { class: "hint" }, "stdout, and stderr in red (marked “stderr”), as the action writes them."),
    output);
  let closers = [];
  let scheduled = false;

  const isChain = () => state.execution && (runnerOf(state.execution) === CHAIN_RUNNER || state.children.size > 0);
  const children = () => [...state.children.values()];

  function buttons() {
    const e = state.execution;
    if (!canOperate || !e) return [];
    const out = [];
    if (!DONE.has(e.status)) {
      out.push(confirmButton("Cancel", "Yes, cancel it", () => act(() => api.del(`/api/v1/executions/${encodeURIComponent(id)}`), "cancel")));
    }
    out.push(h("button", { type: "button", onclick: () => reRun({}) }, "Re-run"));
    if (isChain() && DONE.has(e.status) && e.status !== "succeeded") {
      const task = firstFailedTask(e, children());
      if (task) out.push(h("button", { type: "button", class: "primary", onclick: () => reRun({ tasks: [task] }) }, `Re-run from failed task (${task})`));
    }
    return out;
  }

  async function act(call, what) {
    fill(message);
    try {
      const answer = await call();
      if (answer && answer.faultstring) {
        fill(message, errorBox(answer.faultstring));
        return;
      }
      if (answer && answer.id === id) update(answer);
      announce(`Asked to ${what} the execution`);
    } catch (err) {
      fill(message, errorBox(err));
    }
  }

  async function reRun(body) {
    fill(message);
    try {
      const created = await api.post(`/api/v1/executions/${encodeURIComponent(id)}/re_run`, body);
      announce("Re-run started");
      window.location.hash = `#/executions/${encodeURIComponent(created.id)}`;
    } catch (err) {
      fill(message, errorBox(err));
    }
  }

  const chart = createTimeline();
  let drawn = ""; // what the header, summary and result were last drawn for

  function draw() {
    scheduled = false;
    const e = state.execution;
    if (!e) return;
    const failed = isChain() && DONE.has(e.status) ? firstFailedTask(e, children()) : null;
    const key = JSON.stringify([e.status, e.end_timestamp, isChain(), failed, e.result === undefined]);
    if (key !== drawn) {
      drawn = key;
      const focusedText = document.activeElement && header.contains(document.activeElement) ? document.activeElement.textContent : null;
      fill(header, pageHeader(`Execution of ${actionRef(e)}`, ...buttons()));
      if (focusedText) {
        const again = [...header.querySelectorAll("button")].find((b) => b.textContent === focusedText);
        if (again) again.focus();
      }
      fill(details, h("h2", { class: "visually-hidden" }, "Summary"), summary(e));
      fill(resultBox, h("h2", { id: "result-heading" }, "Result"),
        e.result === undefined || e.result === null
          ? h("p", { class: "muted" }, DONE.has(e.status) ? "No result." : "The result comes when the execution ends.")
          : jsonBlock(e.result, "Result (JSON)"));
    } else {
      const duration = details.querySelector("[data-testid=execution-duration]");
      if (duration) duration.textContent = fmtDuration(executionDuration(e));
    }
    if (isChain()) {
      if (!timeline.firstChild) timeline.append(chart.el);
      chart.update(e, children(), Date.now());
    }
    drawInquiries();
  }

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    window.requestAnimationFrame(draw);
  }

  let inquiriesDrawn = "";

  function drawInquiries() {
    const open = [...state.inquiries.values()].filter((q) => !q.loading && !state.answered.has(q.id));
    const key = open.map((q) => q.id).join(",");
    if (key === inquiriesDrawn) return; // redrawing would wipe what the user is typing
    inquiriesDrawn = key;
    fill(inquiries, open.map((q) => inquiryCard(q)));
  }

  function inquiryCard(q) {
    const wrap = h("section", { class: "card inquiry", "aria-labelledby": `inquiry-${q.id}-heading`, dataset: { testid: `inquiry-${q.id}` } },
      h("h2", { id: `inquiry-${q.id}-heading` }, "Waiting for a response"),
      h("p", {}, q.route ? `Route: ${q.route}. ` : "", "Inquiry ", link(`#/executions/${encodeURIComponent(q.id)}`, q.id),
        q.users && q.users.length ? ` (answered by ${q.users.join(", ")})` : ""));
    if (!canOperate) {
      add(wrap, h("p", { class: "muted" }, "An operator or admin can answer it."));
      return wrap;
    }
    const { fields, read } = schemaFields(q.schema || {}, `inquiry-${q.id}`);
    const status = h("div", { "aria-live": "polite" });
    const form = h("form", { class: "inquiry-form", onsubmit: async (ev) => {
      ev.preventDefault();
      const got = read();
      if (got.error) {
        fill(status, errorBox(got.error));
        return;
      }
      try {
        await api.put(`/api/v1/inquiries/${encodeURIComponent(q.id)}`, { id: q.id, response: got.response });
        state.answered.add(q.id);
        fill(message, h("div", { class: "success", role: "status" }, "Response sent; the execution goes on."));
        announce("Response sent");
        schedule();
      } catch (err) {
        fill(status, errorBox(err));
      }
    } }, fields, status, h("button", { type: "submit", class: "primary" }, "Send response"));
    return add(wrap, form);
  }

  async function lookForInquiries() {
    const candidates = [state.execution, ...children()].filter((e) => e && e.status === "pending" && runnerOf(e) === INQUIRER_RUNNER);
    for (const e of candidates) {
      if (state.inquiries.has(e.id)) continue;
      state.inquiries.set(e.id, { id: e.id, loading: true });
      try {
        state.inquiries.set(e.id, await api.get(`/api/v1/inquiries/${encodeURIComponent(e.id)}`));
      } catch (err) {
        state.inquiries.delete(e.id);
        fill(message, errorBox(err));
      }
      schedule();
    }
    for (const [qid] of state.inquiries) {
      const e = qid === id ? state.execution : state.children.get(qid);
      if (e && e.status !== "pending") state.answered.add(qid);
    }
  }

  function update(e) {
    const before = state.execution;
    // A streamed update of a running execution carries no result: keep what we have.
    if (before && (e.log || []).length < (before.log || []).length) return;
    state.execution = { ...(before || {}), ...e };
    if (before && before.status !== e.status) announce(`Execution ${e.status}`);
    lookForInquiries();
    schedule();
  }

  function updateChild(e) {
    const before = state.children.get(e.id);
    if (before && (e.log || []).length < (before.log || []).length) return;
    state.children.set(e.id, { ...(before || {}), ...e });
    lookForInquiries();
    schedule();
  }

  function onEvent(e) {
    if (!e || !e.id) return;
    if (e.id === id) update(e);
    else if (state.children.has(e.id) || e.parent === id || state.children.has(e.parent)) updateChild(e);
  }

  async function loadChildren() {
    try {
      const list = await api.get(`/api/v1/executions/${encodeURIComponent(id)}/children`);
      for (const c of list) updateChild(c);
    } catch (err) {
      fill(message, errorBox(err));
    }
  }

  function startOutput() {
    const close = followOutput(id, (line) => {
      const atBottom = output.scrollHeight - output.scrollTop - output.clientHeight < 24;
      const span = h("span", { class: line.output_type === "stderr" ? "stderr" : "stdout", dataset: { stream: line.output_type } }, line.data);
      if (line.output_type === "stderr") span.title = "stderr";
      output.append(span);
      if (atBottom) output.scrollTop = output.scrollHeight;
    }, () => {
      if (!output.firstChild) output.append(h("span", { class: "muted-output" }, "(no output)"));
    });
    closers.push(close);
  }

  main.append(h("div", { class: "execution-page" }, header, message, details, inquiries, timeline, outputBox, h("div", { class: "execution-columns" }, paramsBox, resultBox)));
  fill(header, pageHeader("Execution"));

  /** Once the stream is open, and again after an interruption: read the execution and its tasks again (an
   * event before the stream opened, or during the gap, is not in it). */
  async function refresh() {
    try {
      update(await api.get(`/api/v1/executions/${encodeURIComponent(id)}`));
      if (isChain()) await loadChildren();
    } catch (err) {
      fill(message, errorBox(err));
    }
  }

  async function start() {
    // Subscribe first; refresh() reads again once the stream is open (older events change nothing).
    closers.push(subscribe({ "st2.execution__create": onEvent, "st2.execution__update": onEvent }, {}, { onSync: refresh }));
    try {
      update(await api.get(`/api/v1/executions/${encodeURIComponent(id)}`));
    } catch (err) {
      fill(header, pageHeader("Execution"));
      fill(message, errorBox(err));
      return;
    }
    fill(paramsBox, h("h2", { id: "parameters-heading" }, "Parameters"),
      h("p", { class: "hint" }, "Secret values come masked from the API."),
      jsonBlock(state.execution.parameters || {}, "Parameters (JSON)"));
    if (runnerOf(state.execution) === CHAIN_RUNNER || (state.execution.children || []).length) await loadChildren();
    draw();
    if (isChain()) outputBox.hidden = true; // a chain writes no output: its tasks do (follow a bar)
    else startOutput();
  }

  const ticker = window.setInterval(() => {
    const e = state.execution;
    if (!e) return;
    const running = !DONE.has(e.status) || children().some((c) => !DONE.has(c.status));
    if (running) schedule();
  }, 1000);
  closers.push(() => window.clearInterval(ticker));
  const started = start();
  void started;
  return () => {
    for (const close of closers) close();
    closers = [];
  };
}
