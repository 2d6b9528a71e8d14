// Queue: the live SSE snapshot (running task with its live preview, progress and ETA, waiting tasks with positions),
// each with its prompt, size and batch; promote and cancel; recent tasks below, finished ones linking to their images.
import { api, includedIndex, query, showImage, thumbnailUrl } from "./api.js";
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

// Prompt, size and batch of the tasks in the stream (it carries ids only): read once per task, then kept.
const details = new Map();
let repaint = () => {};
function describe(id) {
  const known = details.get(id);
  if (known) return known.text;
  details.set(id, { text: "" });
  api(`/api/tasks/${id}${query({ "fields[task]": "prompt,width,height,batch_size,kind" })}`).then((doc) => {
    const a = doc.data.attributes;
    const prompt = a.kind === "upscale" ? "(upscale)" : a.prompt || "(no prompt)";
    details.set(id, { text: `${prompt} · ${a.width}×${a.height}${a.batch_size > 1 ? ` · batch ${a.batch_size}` : ""}` });
    repaint();
  }).catch(() => {});
  return "";
}

// The live preview of each running task, one <img> kept per task (a new preview number fetches the new picture).
const previewImages = new Map();
function previewOf(task) {
  if (task.preview === null || task.preview === undefined || !task.preview_url) return null;
  let shown = previewImages.get(task.id);
  if (!shown) {
    shown = { img: h("img", { class: "queue-preview", alt: `Live preview of task ${task.id.slice(0, 8)}`, width: 96, height: 96 }), n: null };
    previewImages.set(task.id, shown);
  }
  if (shown.n !== task.preview) {
    shown.n = task.preview;
    showImage(shown.img, `${task.preview_url}?n=${task.preview}`);
  }
  return shown.img;
}

function runningCard(task) {
  return h("section", { class: "card running", "aria-label": "Running task", dataset: { task: task.id } },
    h("h2", {}, "Running"),
    previewOf(task),
    h("p", {}, h("strong", {}, task.model || "?"), " ", h("code", {}, task.id.slice(0, 8))),
    h("p", { class: "task-summary" }, describe(task.id)),
    h("progress", { max: 100, value: task.progress || 0, "aria-label": "Progress" }),
    h("p", { class: "progress-text" }, `${(task.progress || 0).toFixed(1)} %`, task.eta ? ` · ETA ${task.eta}` : ""),
    h("button", { type: "button", class: "danger", onclick: () => cancel(task.id) }, "Cancel"));
}

function paint(box, snapshot) {
  // Several render workers (D41) each run one: `current_tasks`; `current_task` is the first of them.
  const current = snapshot ? snapshot.current_tasks || (snapshot.current_task ? [snapshot.current_task] : []) : [];
  const waiting = (snapshot && snapshot.queue) || [];
  for (const id of previewImages.keys()) if (!current.some((task) => task.id === id)) previewImages.delete(id);
  const running = current.length ? current.map(runningCard)
    : [h("section", { class: "card running idle", "aria-label": "Running task" }, h("h2", {}, "Running"), h("p", { class: "muted" }, "Idle"))];
  const list = h("ol", { class: "waiting", "aria-label": "Waiting tasks" }, waiting.map((task) => h("li", { dataset: { task: task.id } },
    h("span", { class: "position" }, `#${task.position}`), h("span", {}, task.model || "?"), h("code", {}, task.id.slice(0, 8)),
    h("span", { class: "task-summary" }, describe(task.id)),
    h("span", { class: "buttons" },
      h("button", { type: "button", onclick: () => promote(task.id), "aria-label": `Promote task ${task.id.slice(0, 8)}` }, "Promote"),
      h("button", { type: "button", class: "danger", onclick: () => cancel(task.id), "aria-label": `Cancel task ${task.id.slice(0, 8)}` }, "Cancel")))));
  box.replaceChildren(...running, h("section", { class: "card" }, h("h2", {}, `Waiting (${waiting.length})`), waiting.length ? list : h("p", { class: "muted" }, "Nothing waiting.")));
}

async function paintRecent(box) {
  try {
    const doc = await api(`/api/tasks${query({ sort: "-created_at", "page[size]": 20, include: "images", "fields[task]": "status,prompt,created_at,error_message,batch_size,width,height,images", "fields[image]": "width,height" })}`);
    const included = includedIndex(doc);
    const images = (t) => ((t.relationships && t.relationships.images && t.relationships.images.data) || []).filter((r) => included.has(`image:${r.id}`));
    box.replaceChildren(h("h2", {}, "Recent tasks"), h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "Status"), h("th", {}, "Prompt"), h("th", {}, "Size"), h("th", {}, "Images"), h("th", {}, "Created"))),
      h("tbody", {}, doc.data.map((t) => h("tr", { dataset: { task: t.id, status: t.attributes.status } },
        h("td", {}, h("span", { class: `status ${t.attributes.status}` }, t.attributes.status)),
        h("td", {}, t.attributes.prompt, t.attributes.error_message ? h("div", { class: "error" }, t.attributes.error_message) : null),
        h("td", {}, `${t.attributes.width}×${t.attributes.height}`, t.attributes.batch_size > 1 ? ` ×${t.attributes.batch_size}` : ""),
        h("td", { class: "task-images" }, images(t).map((r) => {
          const img = h("img", { alt: "", width: 48, height: 48 });
          showImage(img, thumbnailUrl(r.id, 64));
          return h("a", { href: `#/gallery/${r.id}`, "aria-label": `Open image ${r.id.slice(0, 10)} in the gallery` }, img);
        })),
        h("td", {}, new Date(t.attributes.created_at).toLocaleString()))))));
  } catch (error) { box.textContent = error.message; }
}

export function render(main) {
  const box = h("div", { class: "queue", "aria-live": "polite" });
  const recent = h("section", { class: "card recent" });
  main.append(h("h1", {}, "Queue"), box, recent);
  paint(box, live.snapshot);
  paintRecent(recent);
  repaint = () => paint(box, live.snapshot);
  const onQueue = (event) => paint(box, event.detail);
  const onFinished = () => paintRecent(recent);
  window.addEventListener("sdhost:queue", onQueue);
  window.addEventListener("sdhost:task-finished", onFinished);
  return () => {
    repaint = () => {};
    window.removeEventListener("sdhost:queue", onQueue);
    window.removeEventListener("sdhost:task-finished", onFinished);
  };
}
