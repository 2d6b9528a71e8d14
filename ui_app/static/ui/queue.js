// Queue: the live SSE snapshot (running task with progress and ETA, waiting tasks with positions),
// promote and cancel; recent tasks below.
import { api, query } from "./api.js";
import { h, toast } from "./dom.js";
import { live } from "./state.js";

async function act(method, path, ids, done) {
  try {
    const answer = await api(path, { method, body: { task_ids: ids } });
    const failed = answer.failed || [];
    if (failed.length) toast(failed.map((f) => f.reason).join("; "), "error");
    else toast(done);
  } catch (error) { toast(error.message, "error"); }
}
const cancel = (id) => act("DELETE", "/api/tasks", [id], "Cancelled");
const promote = (id) => act("PUT", "/api/tasks/promote", [id], "Moved to the front");

function runningCard(task) {
  return h("section", { class: "card running", "aria-label": "Running task", dataset: { task: task.id } },
    h("h2", {}, "Running"),
    h("p", {}, h("strong", {}, task.model || "?"), " ", h("code", {}, task.id.slice(0, 8))),
    h("progress", { max: 100, value: task.progress || 0, "aria-label": "Progress" }),
    h("p", { class: "progress-text" }, `${(task.progress || 0).toFixed(1)} %`, task.eta ? ` · ETA ${task.eta}` : ""),
    h("button", { type: "button", class: "danger", onclick: () => cancel(task.id) }, "Cancel"));
}

function paint(box, snapshot) {
  // Several render workers (D41) each run one: `current_tasks`; `current_task` is the first of them.
  const current = snapshot ? snapshot.current_tasks || (snapshot.current_task ? [snapshot.current_task] : []) : [];
  const waiting = (snapshot && snapshot.queue) || [];
  const running = current.length ? current.map(runningCard)
    : [h("section", { class: "card running idle", "aria-label": "Running task" }, h("h2", {}, "Running"), h("p", { class: "muted" }, "Idle"))];
  const list = h("ol", { class: "waiting", "aria-label": "Waiting tasks" }, waiting.map((task) => h("li", { dataset: { task: task.id } },
    h("span", { class: "position" }, `#${task.position}`), h("span", {}, task.model || "?"), h("code", {}, task.id.slice(0, 8)),
    h("span", { class: "buttons" },
      h("button", { type: "button", onclick: () => promote(task.id), "aria-label": `Promote task ${task.id.slice(0, 8)}` }, "Promote"),
      h("button", { type: "button", class: "danger", onclick: () => cancel(task.id), "aria-label": `Cancel task ${task.id.slice(0, 8)}` }, "Cancel")))));
  box.replaceChildren(...running, h("section", { class: "card" }, h("h2", {}, `Waiting (${waiting.length})`), waiting.length ? list : h("p", { class: "muted" }, "Nothing waiting.")));
}

async function paintRecent(box) {
  try {
    const doc = await api(`/api/tasks${query({ sort: "-created_at", "page[size]": 20, "fields[task]": "status,prompt,created_at,error_message,batch_size" })}`);
    box.replaceChildren(h("h2", {}, "Recent tasks"), h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "Status"), h("th", {}, "Prompt"), h("th", {}, "Created"))),
      h("tbody", {}, doc.data.map((t) => h("tr", { dataset: { task: t.id, status: t.attributes.status } },
        h("td", {}, h("span", { class: `status ${t.attributes.status}` }, t.attributes.status)),
        h("td", {}, t.attributes.prompt, t.attributes.error_message ? h("div", { class: "error" }, t.attributes.error_message) : null),
        h("td", {}, new Date(t.attributes.created_at).toLocaleString()))))));
  } catch (error) { box.textContent = error.message; }
}

export function render(main) {
  const box = h("div", { class: "queue", "aria-live": "polite" });
  const recent = h("section", { class: "card recent" });
  main.append(h("h1", {}, "Queue"), box, recent);
  paint(box, live.snapshot);
  paintRecent(recent);
  const onQueue = (event) => paint(box, event.detail);
  const onFinished = () => paintRecent(recent);
  window.addEventListener("sdhost:queue", onQueue);
  window.addEventListener("sdhost:task-finished", onFinished);
  return () => {
    window.removeEventListener("sdhost:queue", onQueue);
    window.removeEventListener("sdhost:task-finished", onFinished);
  };
}
