// Models: the library with filters, metadata and tag editing, delete (in-use errors shown), Civitai import
// with live progress from its SSE stream.
import { api, includedIndex, query, showImage, stream, thumbnailUrl } from "./api.js";
import { field, formatBytes, h, tagList, toast } from "./dom.js";

const TYPES = ["checkpoint", "lora", "embedding", "controlnet", "vae", "upscaler"];
const filters = { type: "", name: "", tag: "", status: "" };
const imports = new Map();  // hash -> {name, progress, status, text}; survives page changes while streams run

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

  async function reload() {
    try {
      const doc = await api(`/api/models${query({ "filter[model_type]": filters.type, "filter[name][contains]": filters.name, "filter[tags][any]": tagList(filters.tag), "filter[status]": filters.status, include: "tags,cover_image", sort: "model_type,name", "page[size]": 200 })}`);
      const included = includedIndex(doc);
      status.textContent = `${doc.meta.total} model${doc.meta.total === 1 ? "" : "s"}${doc.meta.total > doc.data.length ? ` (first ${doc.data.length} shown)` : ""}`;
      list.replaceChildren(...doc.data.map((model) => card(model, included)));
    } catch (error) { status.textContent = error.message; }
  }

  function card(model, included) {
    const a = model.attributes;
    const tags = (model.relationships.tags.data || []).map((t) => (included.get(`tag:${t.id}`) || { attributes: { name: t.id } }).attributes.name);
    const cover = model.relationships.cover_image.data;
    const img = h("img", { alt: "", width: 96, height: 96 });
    if (cover) showImage(img, thumbnailUrl(cover.id, 128));
    return h("article", { class: "card model", dataset: { hash: model.id } },
      cover ? img : h("span", { class: "nocover", "aria-hidden": "true" }, a.model_type.slice(0, 3)),
      h("div", {},
        h("h2", {}, a.name),
        h("p", {}, h("span", { class: "pill" }, a.model_type), a.base_model ? ` ${a.base_model}` : "", ` · ${formatBytes(a.size)} · `, h("span", { class: `status ${a.status}` }, a.status)),
        tags.length ? h("p", { class: "tags" }, tags.map((t) => h("span", { class: "tag" }, t))) : null,
        a.error_message ? h("p", { class: "error" }, a.error_message) : null,
        h("button", { type: "button", onclick: () => edit(model, tags) }, "Edit"), " ",
        h("button", { type: "button", class: "danger", onclick: () => remove(model) }, "Delete")));
  }

  async function remove(model) {
    if (!confirm(`Delete ${model.attributes.name} and its file?`)) return;
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

  const input = (name, attrs = {}) => h("input", { name, value: filters[name], ...attrs });
  const filterForm = h("form", { class: "filters", role: "search", "aria-label": "Filter models", onsubmit: (event) => {
    event.preventDefault();
    for (const [key, value] of new FormData(filterForm)) filters[key] = String(value).trim();
    reload();
  } },
  field("Type", h("select", { name: "type" }, h("option", { value: "" }, "Any"), TYPES.map((t) => h("option", { value: t, selected: t === filters.type }, t)))),
  field("Name contains", input("name")),
  field("Tag", input("tag")),
  field("Status", h("select", { name: "status" }, ["", "ready", "downloading", "failed"].map((s) => h("option", { value: s, selected: s === filters.status }, s || "Any")))),
  h("div", { class: "filter-actions" }, h("button", { type: "submit", class: "primary" }, "Apply")));

  main.append(h("h1", {}, "Models"), importForm, filterForm, status, list);
  paintImports();
  reload();
}
