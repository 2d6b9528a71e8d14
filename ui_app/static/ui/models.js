// Models: the library with filters, metadata and tag editing, delete (in-use errors shown), Civitai import
// with live progress from its SSE stream; the scan of the configured model folders (SDHOST_MODEL_ROOTS) with live
// progress, Civitai sync by hash (one model or all), in-place files marked missing or changed.
import { api, includedIndex, query, showImage, stream, thumbnailUrl } from "./api.js";
import { field, formatBytes, h, tagList, toast } from "./dom.js";

const TYPES = ["checkpoint", "lora", "embedding", "controlnet", "vae", "upscaler"];
const filters = { type: "", name: "", tag: "", status: "" };
const imports = new Map();  // hash -> {name, progress, status, text}; survives page changes while streams run
const SYNC_STATES = { synced: "synced", not_found: "not found", offline: "offline", failed: "failed" };
const FILE_PROBLEMS = { missing: "File missing", changed: "File changed" };  // in-place files (docs/library.md)

/** "Civitai: not found" for a model's `metadata.civitai_sync` state, "" when it was never synced. */
export function syncText(sync) {
  return sync && sync.state ? `Civitai: ${SYNC_STATES[sync.state] || sync.state}` : "";
}

/** The one-line text of a scan event (GET /api/models/scan/events). */
export function scanText(event) {
  if (event.status === "scanning") {
    const where = event.root ? ` ${event.root}` : "";
    return `Scanning folder ${Math.min(event.roots_done + 1, event.roots)} of ${event.roots}${where}: ${event.files_done} of ${event.files} files`;
  }
  if (event.status === "failed") return `Scan failed: ${event.error || ""}`;
  if (event.status !== "completed") return "";
  const parts = [`${event.files} files`, `${event.imported} new`, `${event.known} known`];
  for (const key of ["relinked", "missing", "changed"]) if (event[key]) parts.push(`${event[key]} ${key}`);
  parts.push(`${event.skipped} skipped`);
  return `Scan completed: ${parts.join(", ")}`;
}

/** {model_id, version_id} from "10391", "10391@88214" or a civitai.com URL (…/models/10391?modelVersionId=88214). */
export function parseCivitaiReference(text) {
  const value = text.trim();
  let match = value.match(/^(\d+)(?:@(\d+))?$/);
  if (match) return { model_id: match[1], version_id: match[2] };
  match = value.match(/\/models\/(\d+)/);
  if (!match) return null;
  const version = value.match(/[?&]modelVersionId=(\d+)/);
  return { model_id: match[1], version_id: version ? version[1] : undefined };
}

export function render(main) {
  const list = h("div", { class: "models" });
  const status = h("p", { class: "muted", "aria-live": "polite" });
  const importList = h("ul", { class: "imports", "aria-label": "Imports", "aria-live": "polite" });

  let lastSynced = new Map();  // hash -> `metadata.civitai_sync.at` as last shown: a batch's progress
  async function reload() {
    try {
      const doc = await api(`/api/models${query({ "filter[model_type]": filters.type, "filter[name][contains]": filters.name, "filter[tags][any]": tagList(filters.tag), "filter[status]": filters.status, include: "tags,cover_image", sort: "model_type,name", "page[size]": 200 })}`);
      const included = includedIndex(doc);
      status.textContent = `${doc.meta.total} model${doc.meta.total === 1 ? "" : "s"}${doc.meta.total > doc.data.length ? ` (first ${doc.data.length} shown)` : ""}`;
      list.replaceChildren(...doc.data.map((model) => card(model, included)));
      lastSynced = new Map(doc.data.map((m) => [m.id, ((m.attributes.metadata || {}).civitai_sync || {}).at]));
    } catch (error) { status.textContent = error.message; }
  }

  function card(model, included) {
    const a = model.attributes;
    const tags = (model.relationships.tags.data || []).map((t) => (included.get(`tag:${t.id}`) || { attributes: { name: t.id } }).attributes.name);
    const cover = model.relationships.cover_image.data;
    const img = h("img", { alt: "", width: 96, height: 96 });
    if (cover) showImage(img, thumbnailUrl(cover.id, 128));
    const sync = (a.metadata || {}).civitai_sync;
    const problem = FILE_PROBLEMS[a.status];
    const syncButton = h("button", { type: "button", onclick: () => syncOne(model, syncButton) }, "Sync with Civitai");
    return h("article", { class: `card model${problem ? " file-problem" : ""}`, dataset: { hash: model.id, status: a.status } },
      cover ? img : h("span", { class: "nocover", "aria-hidden": "true" }, a.model_type.slice(0, 3)),
      h("div", {},
        h("h2", {}, a.name),
        h("p", {}, h("span", { class: "pill" }, a.model_type), a.base_model ? ` ${a.base_model}` : "", ` · ${formatBytes(a.size)} · `, h("span", { class: `status ${a.status}` }, a.status),
          problem ? [" ", h("span", { class: "flag warn", title: a.status === "missing" ? "The file is no longer where it was registered" : "The file holds other bytes than when it was registered" }, `⚠ ${problem}`)] : null,
          sync ? [" ", h("span", { class: `flag sync-${sync.state}`, title: sync.detail || "" }, syncText(sync))] : null),
        tags.length ? h("p", { class: "tags" }, tags.map((t) => h("span", { class: "tag" }, t))) : null,
        a.error_message ? h("p", { class: "error" }, a.error_message) : null,
        h("details", { class: "model-details" }, h("summary", {}, "Details"),
          h("dl", {},
            h("dt", {}, "File"), h("dd", { class: "local-path" }, a.local_path ? [a.local_path, problem ? ` (${problem.toLowerCase()})` : ""] : "In the content store"),
            h("dt", {}, "Hash"), h("dd", {}, model.id),
            h("dt", {}, "Civitai"), h("dd", { class: "civitai-sync" }, sync ? `${SYNC_STATES[sync.state] || sync.state}${sync.detail ? `: ${sync.detail}` : ""} (${new Date(sync.at).toLocaleString()})` : "not looked up")),
          syncButton),
        h("button", { type: "button", onclick: () => edit(model, tags) }, "Edit"), " ",
        h("button", { type: "button", class: "danger", onclick: () => remove(model) }, "Delete")));
  }

  async function syncOne(model, button) {
    button.disabled = true;
    button.textContent = "Syncing…";
    try {
      const doc = await api(`/api/models/${model.id}/civitai-sync`, { method: "POST" });
      const state = doc.meta.civitai_sync;
      toast(`${doc.data.attributes.name}: ${syncText(state)}${state.detail ? ` (${state.detail})` : ""}`, state.state === "synced" ? "info" : "error");
      reload();
    } catch (error) {
      toast(error.message, "error");
      button.disabled = false;
      button.textContent = "Sync with Civitai";
    }
  }

  async function remove(model) {
    const question = model.attributes.local_path  // in place: the user's file is never deleted (docs/library.md)
      ? `Remove ${model.attributes.name} from the library? Its file stays at ${model.attributes.local_path}.`
      : `Delete ${model.attributes.name} and its file?`;
    if (!confirm(question)) return;
    try {
      await api(`/api/models/${model.id}`, { method: "DELETE" });
      toast("Model deleted");
      reload();
    } catch (error) { toast(error.message, "error"); }
  }

  function edit(model, tags) {
    const metadata = model.attributes.metadata || {};
    const tagInput = h("input", { name: "tags", value: tags.join(", ") });
    const metaInput = h("textarea", { name: "metadata", rows: 8, spellcheck: false }, JSON.stringify(metadata, null, 2));
    const message = h("div", { class: "field-error", role: "alert" });
    const dialog = h("dialog", { class: "edit", "aria-label": `Edit ${model.attributes.name}` });
    const form = h("form", { method: "dialog", onsubmit: async (event) => {
      event.preventDefault();
      let edited;
      try { edited = JSON.parse(metaInput.value || "{}"); } catch (error) { message.textContent = `Metadata is not JSON: ${error.message}`; return; }
      if (!edited || typeof edited !== "object" || Array.isArray(edited)) { message.textContent = "Metadata must be a JSON object"; return; }
      const update = { tags: tagList(tagInput.value), ...edited };
      for (const key of Object.keys(metadata)) if (!(key in edited)) update[key] = null;  // D3: null deletes a key
      try {
        await api(`/api/models/${model.id}`, { method: "POST", body: update });
        dialog.close();
        toast("Saved");
        reload();
      } catch (error) { message.textContent = error.message; }
    } },
    h("h2", {}, model.attributes.name),
    field("Tags (comma separated)", tagInput, { pointer: "/tags" }),
    field("Metadata (JSON object)", metaInput),
    message,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save"), h("button", { type: "button", onclick: () => dialog.close() }, "Cancel")));
    dialog.append(form);
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  function paintImports() {
    importList.replaceChildren(...[...imports.entries()].map(([hash, item]) => h("li", { dataset: { hash, status: item.status } },
      h("strong", {}, item.name || hash.slice(0, 10)), " ",
      h("progress", { max: 100, value: item.progress || 0, "aria-label": `Import of ${item.name || hash.slice(0, 10)}` }),
      h("span", { class: "import-text" }, item.text))));
  }

  function follow(hash, trackingUrl, name) {
    imports.set(hash, { name, progress: 0, status: "downloading", text: "starting…" });
    paintImports();
    stream(trackingUrl, (event, source) => {
      const item = imports.get(hash);
      item.status = event.status;
      if (event.status === "downloading") {
        item.progress = event.progress || 0;
        item.text = `${(event.progress || 0).toFixed(1)} %${event.speed ? ` · ${event.speed}` : ""}${event.eta ? ` · ETA ${event.eta}` : ""}`;
      } else {
        source.close();
        item.progress = event.status === "completed" ? 100 : item.progress;
        item.text = event.status === "completed" ? "completed" : `failed: ${event.error || ""}`;
        if (event.model_info) item.name = event.model_info.attributes.name;
        toast(`Import ${item.text}`, event.status === "completed" ? "info" : "error");
        reload();
      }
      if (document.body.contains(importList)) paintImports();
    });
  }

  const reference = h("input", { name: "reference", placeholder: "10391, 10391@88214 or https://civitai.com/models/10391?modelVersionId=88214" });
  const importForm = h("form", { class: "card import", onsubmit: async (event) => {
    event.preventDefault();
    const error = importForm.querySelector(".field-error");
    error.textContent = "";
    const ref = parseCivitaiReference(reference.value);
    if (!ref) { error.textContent = "Enter a Civitai model id or a civitai.com model URL"; return; }
    try {
      const answer = await api("/api/models/add-from-civitai", { method: "POST", body: ref });
      reference.value = "";
      if (answer.status === "downloading") follow(answer.hash, answer.tracking_url, `Civitai ${ref.model_id}`);
      else toast(`Already in the library (${answer.status})`);
      reload();
    } catch (err) { error.textContent = err.message; }
  } }, h("h2", {}, "Import from Civitai"), field("Model id or URL", reference, { pointer: "/model_id" }), h("button", { type: "submit", class: "primary" }, "Import"), importList);

  // The model folders: GET /api/models/scan says which are configured and what the scanner is doing.
  const scanBox = h("section", { class: "card scan", "aria-labelledby": "scan-heading" }, h("h2", { id: "scan-heading" }, "Model folders"));
  const scanStatus = h("p", { class: "scan-status", role: "status", "aria-live": "polite" });
  const scanBar = h("progress", { max: 100, value: 0, "aria-label": "Scan progress", hidden: true });
  const skippedBox = h("div", { class: "skipped" });
  const scanButton = h("button", { type: "button", class: "primary", onclick: startScan }, "Scan folders");
  let scanSource = null;

  function showScan(event) {
    scanStatus.textContent = scanText(event);
    scanBar.hidden = event.status !== "scanning";
    if (event.status === "scanning") scanBar.value = event.files ? (100 * event.files_done) / event.files : 0;
    scanButton.disabled = event.status === "scanning";
    skippedBox.replaceChildren();
    if (event.status === "completed" && event.skipped) {
      const listed = event.skipped_files || [];
      skippedBox.append(h("details", {}, h("summary", {}, `${event.skipped} skipped file${event.skipped === 1 ? "" : "s"}${listed.length < event.skipped ? ` (first ${listed.length} listed)` : ""}`),
        h("ul", { class: "skipped-files" }, listed.map((f) => h("li", {}, h("code", {}, f.path), ` — ${f.reason}`)))));
    }
  }

  function followScan(url, scanId) {
    if (scanSource) scanSource.close();
    scanSource = stream(url, (event, source) => {
      if (scanId && event.scan !== scanId) return;  // a previous scan's state, sent first
      if (!document.body.contains(scanBox)) { source.close(); return; }
      showScan(event);
      if (event.status === "completed" || event.status === "failed" || event.status === "idle") {
        source.close();
        if (event.status !== "idle") reload();
      }
    });
  }

  async function startScan() {
    scanButton.disabled = true;
    try {
      const answer = await api("/api/models/scan", { method: "POST" });
      showScan({ status: "scanning", roots: answer.roots.length, roots_done: 0, files: 0, files_done: 0 });
      followScan(answer.tracking_url, answer.scan);
    } catch (error) {
      scanButton.disabled = false;
      if (error.status === 409 && error.errors.some((e) => e.code === "scan_running")) followScan("/api/models/scan/events");
      else scanStatus.textContent = error.message;
    }
  }

  api("/api/models/scan").then((info) => {
    if (!info.roots.length) {
      scanBox.append(h("p", { class: "muted no-roots" }, "No model folders are configured. To use existing model folders in place (A1111, ComfyUI, InvokeAI), set ",
        h("code", {}, "SDHOST_MODEL_ROOTS"), " to a comma-separated list of folders (each optionally followed by ", h("code", {}, ":a1111"), ", ",
        h("code", {}, ":comfyui"), " or ", h("code", {}, ":invokeai"), ") and restart the server."));
      return;
    }
    scanBox.append(h("ul", { class: "roots", "aria-label": "Configured folders" }, info.roots.map((r) => h("li", {}, h("code", {}, r.path), r.layout ? ` (${r.layout})` : ""))),
      h("div", { class: "actions" }, scanButton), scanBar, scanStatus, skippedBox);
    if (info.state.status === "scanning") followScan(info.tracking_url, info.state.scan);
    else if (info.state.status !== "idle") showScan(info.state);  // the last scan's outcome
  }).catch((error) => { scanBox.append(h("p", { class: "error" }, error.message)); });

  // Civitai by hash, for every model without Civitai data (a background batch; the list shows each outcome).
  const syncStatus = h("p", { class: "sync-status", role: "status", "aria-live": "polite" });
  const syncAllButton = h("button", { type: "button", onclick: syncAll }, "Sync all");
  async function syncAll() {
    syncAllButton.disabled = true;
    const before = new Map(lastSynced);
    try {
      const answer = await api("/api/models/civitai-sync", { method: "POST", body: { all: true } });
      if (!answer.queued) { syncStatus.textContent = "Every model is synced (or known not to be on Civitai)."; syncAllButton.disabled = false; return; }
      syncStatus.textContent = `Civitai sync: 0 of ${answer.queued} looked up`;
      let done = 0, quiet = 0;
      while (done < answer.queued && quiet < 60 && document.body.contains(syncStatus)) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await reload();
        const now = answer.hashes.filter((hash) => lastSynced.has(hash) && lastSynced.get(hash) !== before.get(hash)).length;
        quiet = now === done ? quiet + 1 : 0;
        done = now;
        syncStatus.textContent = `Civitai sync: ${done} of ${answer.queued} looked up`;
      }
      if (done >= answer.queued) syncStatus.textContent = `Civitai sync finished: ${answer.queued} looked up`;
    } catch (error) { syncStatus.textContent = error.message; }
    syncAllButton.disabled = false;
  }
  const syncBox = h("section", { class: "card civitai-sync-all", "aria-labelledby": "sync-heading" }, h("h2", { id: "sync-heading" }, "Civitai by hash"),
    h("p", { class: "muted" }, "Look up every model without Civitai data by its SHA256: name, description, base model, tags, trigger words and cover. Offline is recorded and retried by the next sync."),
    syncAllButton, syncStatus);

  const input = (name, attrs = {}) => h("input", { name, value: filters[name], ...attrs });
  const filterForm = h("form", { class: "filters", role: "search", "aria-label": "Filter models", onsubmit: (event) => {
    event.preventDefault();
    for (const [key, value] of new FormData(filterForm)) filters[key] = String(value).trim();
    reload();
  } },
  field("Type", h("select", { name: "type" }, h("option", { value: "" }, "Any"), TYPES.map((t) => h("option", { value: t, selected: t === filters.type }, t)))),
  field("Name contains", input("name")),
  field("Tag", input("tag")),
  field("Status", h("select", { name: "status" }, ["", "ready", "downloading", "failed", "missing", "changed"].map((s) => h("option", { value: s, selected: s === filters.status }, s || "Any")))),
  h("div", { class: "filter-actions" }, h("button", { type: "submit", class: "primary" }, "Apply")));

  main.append(h("h1", {}, "Models"), importForm, scanBox, syncBox, filterForm, status, list);
  paintImports();
  reload();
}
