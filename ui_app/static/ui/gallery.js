// Gallery: filtered, sorted, infinitely scrolled thumbnails; a detail dialog to rate, tag, reuse, delete.
import { api, contentUrl, includedIndex, query, showImage, thumbnailUrl } from "./api.js";
import { field, formatBytes, h, tagList, toast } from "./dom.js";
import { composerPrefill } from "./state.js";
import { imageToImage, openComposer } from "./composer.js";

const PAGE_SIZE = 100;
const SORTS = [["-created_at", "Newest first"], ["created_at", "Oldest first"], ["-metadata.rating", "Best rated"],
  ["-width", "Widest"], ["-height", "Tallest"], ["-size", "Largest file"], ["-tag_count", "Most tags"]];
const DEFAULT_FILTERS = { prompt: "", any: "", all: "", none: "", model: "", from: "", to: "", minWidth: "", minHeight: "", rating: "", sort: "-created_at" };
const filters = { ...DEFAULT_FILTERS };  // kept while you visit other pages
const PROMPT_DELAY_MS = 350;  // the prompt search applies itself this long after the last keystroke
let checkpoints = null;  // [{hash, name}] for the model filter

/** The /api/images query of the current filters. The prompt search is word-aware (`filter[prompt][contains]`,
 *  docs/query-engine.md "Prompt search"). The model filter selects the images linked to the checkpoint
 *  (`filter[model]=<sha256>`): renders through their task, imported images through their PNG's model hash. */
export function imageQuery(values, extra = {}) {
  return query({
    "filter[prompt][contains]": values.prompt,
    "filter[tags][any]": tagList(values.any), "filter[tags][all]": tagList(values.all), "filter[tags][none]": tagList(values.none),
    "filter[model]": values.model,
    "filter[created_at][gte]": values.from ? `${values.from}T00:00:00Z` : "",
    "filter[created_at][lte]": values.to ? `${values.to}T23:59:59Z` : "",
    "filter[width][gte]": values.minWidth, "filter[height][gte]": values.minHeight,
    "filter[metadata.rating][gte]": values.rating,
    sort: values.sort, "fields[image]": "width,height,created_at", "page[size]": PAGE_SIZE,
    "page[count]": "estimate", ...extra,  // a capped count: broad filters answer fast (a total past the cap is "N+")
  });
}

function countText(meta) {
  if (!meta.total) return "No images match.";
  const more = meta.total_is === "at_least" ? "+" : "";
  return `${meta.total}${more} image${meta.total === 1 && !more ? "" : "s"}`;
}

async function loadCheckpoints() {
  if (checkpoints) return checkpoints;
  const doc = await api(`/api/models${query({ "filter[model_type]": "checkpoint", "fields[model]": "name", sort: "name", "page[size]": 200 })}`);
  checkpoints = doc.data.map((m) => ({ hash: m.id, name: m.attributes.name }));
  return checkpoints;
}

function filterForm(onApply) {
  const input = (name, attrs = {}) => h("input", { name, value: filters[name], ...attrs });
  const model = h("select", { name: "model" }, h("option", { value: "" }, "Any model"));
  loadCheckpoints().then((list) => {
    for (const c of list) model.append(h("option", { value: c.hash, selected: c.hash === filters.model }, c.name));
  }).catch(() => {});
  const sort = h("select", { name: "sort" }, SORTS.map(([value, label]) => h("option", { value, selected: value === filters.sort }, label)));
  let typing = null;
  const apply = () => {
    clearTimeout(typing);
    // a prompt search ending in a space makes its last word whole (not a prefix), so only its start is trimmed
    for (const [key, value] of new FormData(form)) filters[key] = key === "prompt" ? String(value).trimStart() : String(value).trim();
    onApply();
  };
  const prompt = input("prompt", { type: "search", placeholder: "red fox snow", autocomplete: "off", oninput: () => {
    clearTimeout(typing);  // debounced: one query once the typing pauses
    typing = setTimeout(() => { if (prompt.value.trimStart() !== filters.prompt) apply(); }, PROMPT_DELAY_MS);
  } });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter images", onsubmit: (event) => {
    event.preventDefault();
    apply();
  } },
  field("Prompt contains", prompt, { hint: "words, the last may be a prefix" }),
  field("Any of tags", input("any", { placeholder: "forest, night" })),
  field("All of tags", input("all")),
  field("None of tags", input("none", { placeholder: "nsfw" })),
  field("Model", model),
  field("From", input("from", { type: "date" })),
  field("To", input("to", { type: "date" })),
  field("Min width", input("minWidth", { type: "number", min: 0, step: 8 })),
  field("Min height", input("minHeight", { type: "number", min: 0, step: 8 })),
  field("Min rating", h("select", { name: "rating" }, ["", "1", "2", "3", "4", "5"].map((r) => h("option", { value: r, selected: r === filters.rating }, r ? "★".repeat(+r) : "Any")))),
  field("Sort", sort),
  h("div", { class: "filter-actions" },
    h("button", { type: "submit", class: "primary" }, "Apply"),
    h("button", { type: "button", onclick: () => {
      clearTimeout(typing);
      Object.assign(filters, DEFAULT_FILTERS);
      for (const control of form.elements) if (control.name in filters) control.value = filters[control.name];
      onApply();
    } }, "Reset")));
  return form;
}

export async function render(main, [openHash]) {
  const grid = h("ul", { class: "grid", "aria-label": "Images" });
  const status = h("p", { class: "muted", "aria-live": "polite" });
  const sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
  const shown = new Set();
  let next = null, loading = false, generation = 0;

  const imageObserver = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      imageObserver.unobserve(entry.target);
      showImage(entry.target, entry.target.dataset.src);
    }
  }, { rootMargin: "800px" });

  function tile(image, prepend = false) {
    if (shown.has(image.id)) return;
    shown.add(image.id);
    const { width, height } = image.attributes;
    const img = h("img", { alt: `Image ${image.id.slice(0, 8)}, ${width}×${height}`, width: 256, height: Math.round(256 * height / Math.max(width, 1)), dataset: { src: thumbnailUrl(image.id) } });
    const item = h("li", {}, h("button", { type: "button", class: "thumb", dataset: { hash: image.id }, onclick: () => openDetail(image.id, () => { item.remove(); shown.delete(image.id); }) }, img));
    if (prepend) grid.prepend(item); else grid.append(item);
    imageObserver.observe(img);
  }

  async function loadMore() {
    if (loading || !next) return;
    loading = true;
    const mine = generation;
    try {
      const doc = await api(next);
      if (mine !== generation) return;  // the filters changed meanwhile
      doc.data.forEach((image) => tile(image));
      next = doc.links && doc.links.next ? doc.links.next : null;
      status.textContent = countText(doc.meta);
    } catch (error) {
      status.textContent = `Could not load images: ${error.message}`;
      await new Promise((resolve) => setTimeout(resolve, 2000));  // then try again if still in view
    } finally {
      if (mine === generation) loading = false;  // else reload() already started a newer load
    }
    // An observer reports changes only: one that fired during the load was ignored, and the sentinel may
    // still be in view (a tall screen, a fast scroll). Observing again reports its current state.
    if (next && mine === generation) {
      scrollObserver.unobserve(sentinel);
      scrollObserver.observe(sentinel);
    }
  }

  function reload() {
    generation += 1;
    grid.replaceChildren();
    shown.clear();
    next = `/api/images${imageQuery(filters)}`;
    loading = false;
    loadMore();
  }

  async function addFinished() {  // a render finished: its images appear at the top without reload
    if (filters.sort !== "-created_at") return;
    try {
      const doc = await api(`/api/images${imageQuery(filters, { "page[size]": 20 })}`);
      doc.data.slice().reverse().forEach((image) => tile(image, true));
      if (doc.meta.total_is === "exact" || !status.textContent.includes("+")) status.textContent = countText(doc.meta);
    } catch { /* the next scroll or reload shows them */ }
  }

  const scrollObserver = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) loadMore(); }, { rootMargin: "800px" });
  const narrow = window.matchMedia("(max-width: 700px)").matches;  // on a phone the filters start folded
  main.append(h("h1", { class: "visually-hidden" }, "Gallery"),
    h("details", { class: "filter-box", open: !narrow }, h("summary", {}, "Filters"), filterForm(reload)), status, grid, sentinel);
  scrollObserver.observe(sentinel);
  reload();
  window.addEventListener("sdhost:task-finished", addFinished);
  if (openHash) openDetail(openHash, () => {});
  return () => {
    scrollObserver.disconnect();
    imageObserver.disconnect();
    window.removeEventListener("sdhost:task-finished", addFinished);
    document.querySelectorAll("dialog.detail").forEach((d) => d.remove());
  };
}

/** The detail dialog of one image. `onDeleted` removes its tile. */
export async function openDetail(hash, onDeleted) {
  let doc;
  try {
    doc = await api(`/api/images/${hash}?include=tags,task`);
  } catch (error) {
    toast(error.message, "error");
    return;
  }
  const image = doc.data, a = image.attributes, included = includedIndex(doc);
  const tags = (image.relationships.tags.data || []).map((t) => (included.get(`tag:${t.id}`) || { attributes: { name: t.id } }).attributes.name || t.id);
  const metadata = a.metadata || {};
  const full = h("img", { class: "full", alt: `Image ${hash.slice(0, 8)}`, width: a.width, height: a.height });
  showImage(full, contentUrl(hash));
  const message = h("div", { class: "field-error", role: "alert" });

  const tagInput = h("input", { value: tags.join(", "), name: "tags" });
  const saveTags = h("form", { class: "inline", onsubmit: async (event) => {
    event.preventDefault();
    try {
      await api(`/api/images/${hash}`, { method: "POST", body: { tags: tagList(tagInput.value) } });
      toast("Tags saved");
    } catch (error) { message.textContent = error.message; }
  } }, field("Tags (comma separated)", tagInput, { pointer: "/tags" }), h("button", { type: "submit" }, "Save tags"));

  const stars = h("div", { class: "rating", role: "radiogroup", "aria-label": "Rating" });
  const paintStars = (value) => stars.querySelectorAll("button").forEach((b, i) => {
    b.setAttribute("aria-checked", String(i + 1 === value));
    b.classList.toggle("on", i < value);
  });
  for (let n = 1; n <= 5; n += 1) {
    stars.append(h("button", { type: "button", role: "radio", "aria-label": `${n} star${n > 1 ? "s" : ""}`, onclick: async () => {
      try {
        await api(`/api/images/${hash}`, { method: "POST", body: { rating: n } });
        paintStars(n);
        toast(`Rated ${n}`);
      } catch (error) { message.textContent = error.message; }
    } }, "★"));
  }
  paintStars(Number(metadata.rating) || 0);

  const dialog = h("dialog", { class: "detail", "aria-label": "Image details" });
  const close = () => { dialog.close(); dialog.remove(); };
  const useParameters = async () => {
    try {
      const parsed = await api(`/api/images/${hash}/parameters`);
      composerPrefill.value = { task: parsed.task, unresolved: parsed.unresolved || [] };
      close();
      location.hash = "#/compose";
    } catch (error) { message.textContent = error.message; }
  };
  const useAsInit = async () => {  // carries the image's prompt and settings (D35), as A1111's "Send to img2img"
    const prefill = await imageToImage(hash, a.width, a.height);
    close();
    openComposer(prefill);
  };
  const remove = async () => {
    if (!confirm("Delete this image and its file?")) return;
    try {
      await api(`/api/images/${hash}`, { method: "DELETE" });
      onDeleted();
      close();
      toast("Image deleted");
    } catch (error) { message.textContent = error.message; }
  };
  const facts = [["Size", `${a.width}×${a.height}, ${formatBytes(a.size)}`], ["Seed", a.seed ?? "—"], ["Created", new Date(a.created_at).toLocaleString()], ["Hash", hash]];
  dialog.append(
    h("div", { class: "detail-body" },
      h("div", { class: "detail-image" }, full),
      h("div", { class: "detail-side" },
        h("button", { type: "button", class: "close", "aria-label": "Close", onclick: close }, "×"),
        h("dl", {}, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])),
        metadata.parameters ? h("details", { open: true }, h("summary", {}, "Parameters"), h("pre", { class: "parameters" }, metadata.parameters)) : null,
        h("div", { class: "field" }, h("span", { class: "label" }, "Rating"), stars),
        saveTags,
        h("div", { class: "actions" },
          metadata.parameters ? h("button", { type: "button", class: "primary", onclick: useParameters }, "Use these parameters") : null,
          h("button", { type: "button", onclick: useAsInit }, "Image to image"),
          h("button", { type: "button", class: "danger", onclick: remove }, "Delete")),
        message)));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
