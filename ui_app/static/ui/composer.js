// Composer: a POST /api/tasks body built from a form; errors are shown at the field their source.pointer names.
import { api, ApiError, contentUrl, includedIndex, query, showImage, thumbnailUrl, token } from "./api.js";
import { field, h, tagList, toast } from "./dom.js";
import { composerPrefill, live } from "./state.js";

const ADDON_TYPES = [["lora", "LoRA"], ["embedding", "Embedding"], ["controlnet", "ControlNet"]];
const DRAFT_KEY = "sdhost-draft", HISTORY_KEY = "sdhost-prompt-history", HISTORY_SIZE = 50;
// The last body, so leaving the page and coming back (or reloading it: localStorage) keeps the form.
let draft = readStored(DRAFT_KEY, null);
const RESULTS_KEY = "sdhost-results", RESULTS_SIZE = 20;
// The tasks submitted from this tab, newest first; the result pane shows them. Their ids and labels are kept in
// sessionStorage, so a reload brings them back (read again from the API).
const results = readStored(RESULTS_KEY, [], sessionStorage).slice(0, RESULTS_SIZE)
  .map(({ id, label }) => ({ id, label, status: "queued", preview: null, images: null, progress: 0 }));
let lastSeed = null;  // the seed of the newest finished result ("Reuse last seed")

function readStored(key, fallback, storage = localStorage) {
  try { return JSON.parse(storage.getItem(key)) ?? fallback; } catch { return fallback; }
}
function store(key, value) {
  try { localStorage.setItem(key, JSON.stringify(value)); } catch { /* storage full or refused: kept in memory only */ }
}
function keepDraft(body) {
  draft = body;
  store(DRAFT_KEY, body);
}

/** The task body of an image's own PNG parameters (D35) with the image as init image: "send to image to image". */
export async function imageToImage(hash, width, height) {
  let task = {}, unresolved = [];
  try {
    const parsed = await api(`/api/images/${hash}/parameters`);
    task = parsed.task || {};
    unresolved = parsed.unresolved || [];
  } catch { /* an image without parameters: only the init image and its size */ }
  return { task: { ...task, init_image: hash, width, height, denoising_strength: task.denoising_strength ?? 0.75, hires: undefined }, unresolved };
}

/** Opens the composer on `prefill` (re-rendered when it is already open). */
export function openComposer(prefill) {
  composerPrefill.value = prefill;
  if (location.hash === "#/compose") window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = "#/compose";
}

async function readyModels(type, include) {
  const doc = await api(`/api/models${query({ "filter[model_type]": type, "filter[status]": "ready", sort: "name", "page[size]": 200, include, "fields[model]": include ? "name,base_model,cover_image" : "name,base_model" })}`);
  const covers = includedIndex(doc);
  return doc.data.map((m) => {
    const cover = m.relationships && m.relationships.cover_image && m.relationships.cover_image.data;
    return { hash: m.id, name: m.attributes.name, base: m.attributes.base_model, cover: cover && covers.has(`image:${cover.id}`) ? cover.id : null };
  });
}

// D31/D32/D34 syntax of a prompt, for its highlighted preview: <lora:…>/<lyco:…>, BREAK, (…:w) and (…), […].
const PROMPT_TOKENS = /(<(?:lora|lyco):[^>]*>)|(\bBREAK\b)|(\((?:[^()\\]|\\.)*:\s*[-+]?\d*\.?\d+\s*\))|(\((?:[^()\\]|\\.)*\))|(\[(?:[^[\]\\]|\\.)*\])/g;
const TOKEN_CLASSES = ["lora", "break", "weight", "emphasis", "deemphasis"];

/** The prompt as text nodes and <span class="tok-…"> for each piece of syntax (the text itself is never changed). */
export function highlightPrompt(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(PROMPT_TOKENS)) {
    if (match.index > last) parts.push(text.slice(last, match.index));
    const kind = TOKEN_CLASSES[match.slice(1).findIndex((group) => group !== undefined)];
    parts.push(h("span", { class: `tok-${kind}` }, match[0]));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts.filter((part) => part !== "");
}

function number(name, value, attrs = {}) {
  return h("input", { type: "number", name, value: value ?? "", inputmode: "decimal", ...attrs });
}

export async function render(main) {
  const config = (live.config && live.config.generation) || { samplers: [], upscalers: [], max_batch_size: 4, max_image_size: 2048 };
  const prefill = composerPrefill.value;
  composerPrefill.value = null;
  const start = prefill ? prefill.task : draft || {};
  const [checkpoints, vaes, upscalerModels, ...addonLists] = await Promise.all([
    readyModels("checkpoint", "cover_image"), readyModels("vae"), readyModels("upscaler").catch(() => []),
    ...ADDON_TYPES.map(([type]) => readyModels(type)),
  ]);
  const addonByHash = new Map();
  ADDON_TYPES.forEach(([type], i) => addonLists[i].forEach((m) => addonByHash.set(m.hash, { ...m, type })));

  const form = h("form", { class: "composer", novalidate: true });
  const general = h("div", { class: "form-error", role: "alert" });

  // Checkpoint picker: radio cards with their cover images.
  const picker = h("fieldset", { class: "checkpoints", dataset: { pointer: "/checkpoint_hash" }, id: "checkpoint-picker" }, h("legend", {}, "Checkpoint"));
  if (!checkpoints.length) picker.append(h("p", { class: "muted" }, "No ready checkpoint: import one on the Models page."));
  checkpoints.forEach((c, i) => {
    const img = h("img", { alt: "", width: 96, height: 96 });
    if (c.cover) showImage(img, thumbnailUrl(c.cover, 128));
    const checked = start.checkpoint_hash ? start.checkpoint_hash === c.hash : i === 0;
    picker.append(h("label", { class: "checkpoint" }, h("input", { type: "radio", name: "checkpoint_hash", value: c.hash, checked }),
      c.cover ? img : h("span", { class: "nocover", "aria-hidden": "true" }, c.name.slice(0, 2)), h("span", {}, c.name), c.base ? h("small", {}, c.base) : null));
  });
  picker.append(h("div", { class: "field-error", role: "alert", id: "checkpoint-picker-error" }));

  const prompt = h("textarea", { name: "prompt", rows: 4, spellcheck: false, placeholder: "a misty forest at dawn, (volumetric light:1.2), <lora:name:0.8>" }, start.prompt || "");
  const negative = h("textarea", { name: "negative_prompt", rows: 2, spellcheck: false }, start.negative_prompt || "");
  const preview = h("div", { class: "prompt-preview", "aria-hidden": "true" });  // the textarea is what is read
  const paintPreview = () => preview.replaceChildren(...highlightPrompt(prompt.value));
  prompt.addEventListener("input", paintPreview);
  paintPreview();
  // The render parameters as GET /api/config lists them (engine/parameters.py): limits, defaults and labels
  const parameters = config.parameters || [];
  const samplerParameter = parameters.find((p) => p.name === "sampler") || {};
  const sampler = h("select", { name: "sampler" }, config.samplers.map((s) => h("option", { value: s, selected: s === (start.sampler || samplerParameter.default) }, s)));
  // A1111's schedule type (its choices and default from the table)
  const schedulerParameter = parameters.find((p) => p.name === "scheduler") || { choices: [] };
  const scheduler = h("select", { name: "scheduler" }, schedulerParameter.choices.map((s) => h("option", { value: s, selected: s === (start.scheduler || schedulerParameter.default) }, s)));
  const numberParameters = parameters.filter((p) => p.widget === "number").sort((a, b) => (a.order ?? 99) - (b.order ?? 99));
  const numberField = (p) => field(p.label, number(p.name, start[p.name] ?? p.default, {
    min: p.minimum, max: p.type === "seed" ? undefined : p.maximum, step: p.step ?? p.multiple_of ?? (p.type === "number" ? "any" : 1),
  }), { pointer: `/${p.name}`, hint: p.hint });
  const vae = h("select", { name: "vae_hash" }, h("option", { value: "" }, "Checkpoint's own"), vaes.map((v) => h("option", { value: v.hash, selected: v.hash === start.vae_hash }, v.name)));

  // Add-on models (LoRA, embedding, ControlNet): rows in additional_models order, so pointers match.
  const extras = (start.additional_models || []).map((e) => ({ ...e }));
  const extraRows = h("div", { class: "extras" });
  function paintExtras() {
    extraRows.replaceChildren(...extras.map((entry, i) => {
      const model = addonByHash.get(entry.model_hash) || { name: entry.model_hash.slice(0, 10), type: "?" };
      const weight = number(`weight-${i}`, entry.weight ?? 1, { min: 0, max: 2, step: 0.05, oninput: (e) => { entry.weight = e.target.value === "" ? undefined : Number(e.target.value); } });
      const row = h("div", { class: "extra", dataset: { pointer: `/additional_models/${i}` } },
        h("strong", {}, `${model.name}`), h("small", {}, model.type),
        field("Weight", weight, { pointer: `/additional_models/${i}/weight` }));
      if (model.type === "controlnet") {
        const control = h("input", { name: `control-${i}`, value: entry.control_image || "", placeholder: "image hash", oninput: (e) => { entry.control_image = e.target.value.trim(); } });
        row.append(field("Control image", control, { pointer: `/additional_models/${i}/control_image` }));
      }
      row.append(h("button", { type: "button", "aria-label": `Remove ${model.name}`, onclick: () => { extras.splice(i, 1); paintExtras(); draft = body(); } }, "Remove"));
      return row;
    }));
  }
  paintExtras();
  const addonPickers = ADDON_TYPES.map(([type, label], i) => {
    const select = h("select", { "aria-label": `${label} to add` }, h("option", { value: "" }, addonLists[i].length ? `Add a ${label}…` : `No ${label} in the library`), addonLists[i].map((m) => h("option", { value: m.hash }, m.name)));
    select.addEventListener("change", () => {
      if (!select.value) return;
      extras.push({ model_hash: select.value, weight: 1 });
      select.value = "";
      paintExtras();
      draft = body();
    });
    return select;
  });

  // Hires fix (D37) and image to image / inpainting (D36).
  const hires = start.hires || null;
  const hiresOn = h("input", { type: "checkbox", name: "hires_on", checked: Boolean(hires) });
  const upscalers = [...(config.upscalers || []), ...upscalerModels.map((m) => m.hash)];
  const upscalerNames = new Map(upscalerModels.map((m) => [m.hash, m.name]));
  const hiresFields = h("div", { class: "row selects" },
    field("Scale", number("hires_scale", hires ? hires.scale ?? 2 : 2, { min: 1, max: 4, step: 0.25 }), { pointer: "/hires/scale" }),
    field("Hires steps", number("hires_steps", hires ? hires.steps ?? 0 : 0, { min: 0, max: 200 }), { pointer: "/hires/steps", hint: "0 = same as steps" }),
    field("Denoising", number("hires_denoising", hires ? hires.denoising_strength ?? 0.7 : 0.7, { min: 0, max: 1, step: 0.05 }), { pointer: "/hires/denoising_strength" }),
    field("Upscaler", h("select", { name: "hires_upscaler" }, upscalers.map((u) => h("option", { value: u, selected: hires && hires.upscaler === u }, upscalerNames.get(u) || u))), { pointer: "/hires/upscaler" }));
  // The init image: a file dropped on the zone or chosen is uploaded to the library; its hash is the init_image.
  const initImage = h("input", { type: "hidden", name: "init_image", value: start.init_image || "" });
  const initPreview = h("img", { alt: "Init image", class: "init-preview", hidden: true });
  const initFile = h("input", { type: "file", accept: "image/png,image/jpeg,image/webp", name: "init_file" });
  const initClear = h("button", { type: "button", hidden: true, onclick: () => { setInit("", null); } }, "Remove the init image");
  const initStatus = h("small", { "aria-live": "polite" });
  function setInit(hash, size, quiet = false) {
    initImage.value = hash;
    initPreview.hidden = initClear.hidden = !/^[0-9a-f]{64}$/.test(hash);
    initStatus.textContent = hash ? `Init image ${hash.slice(0, 10)}…` : "No init image";
    if (!initPreview.hidden) showImage(initPreview, contentUrl(hash));
    maskEditor.hidden = initPreview.hidden;
    if (size) {
      form.querySelector("[name=width]").value = size.width;
      form.querySelector("[name=height]").value = size.height;
    }
    if (quiet) return;
    mask.clear();  // a mask painted over another picture
    clearFieldError(initFile);
    form.dispatchEvent(new Event("input"));
  }
  async function uploadInit(file) {
    if (!file) return;
    initStatus.textContent = `Uploading ${file.name}…`;
    try {
      const doc = await api("/api/images/upload", { method: "POST", raw: file });
      setInit(doc.data.id, doc.data.attributes);
      toast("Init image uploaded");
    } catch (error) {
      initStatus.textContent = "";
      toast(`Init image upload failed: ${error.message}`, "error");
    }
  }
  initFile.addEventListener("change", () => uploadInit(initFile.files[0]));
  const mask = maskPainter(initPreview);
  const maskEditor = h("div", { class: "mask-editor", hidden: true }, h("div", { class: "mask-stack" }, initPreview, mask.canvas), mask.tools);
  const initZone = h("div", { class: "dropzone" },
    field("Init image", initFile, { pointer: "/init_image", hint: "drop a picture here or choose a file: it is added to the library" }),
    initImage, initStatus, initClear, maskEditor);
  initZone.addEventListener("dragover", (event) => { event.preventDefault(); event.stopPropagation(); initZone.classList.add("over"); });
  initZone.addEventListener("dragleave", () => initZone.classList.remove("over"));
  initZone.addEventListener("drop", (event) => {
    event.preventDefault();
    event.stopPropagation();  // not the workspace's PNG-info drop
    initZone.classList.remove("over");
    uploadInit(event.dataTransfer.files[0]);
  });
  mask.onchange = () => { maskImage.value = ""; };  // a new painting replaces the mask given before
  const maskImage = h("input", { name: "mask_image", value: start.mask_image || "", placeholder: "image hash, or upload a file" });
  const maskFile = h("input", { type: "file", accept: "image/png,image/jpeg,image/webp", name: "mask_file", onchange: async () => {
    const file = maskFile.files[0];
    if (!file) return;
    try {
      const doc = await api("/api/images/upload", { method: "POST", raw: file });
      maskImage.value = doc.data.id;
      toast("Mask uploaded");
    } catch (error) { toast(`Mask upload failed: ${error.message}`, "error"); }
  } });

  const MAX_BATCH_COUNT = 16;
  const setSeed = (value) => {
    const seed = form.querySelector("[name=seed]");
    if (!seed) return;
    seed.value = value;
    clearFieldError(seed);
    keepDraft({ ...body(), batch_count: Number(form.querySelector("[name=batch_count]").value) || 1 });
  };
  const reuseSeed = h("button", { type: "button", disabled: lastSeed === null, onclick: () => setSeed(lastSeed) }, "Reuse last seed");
  const history = readStored(HISTORY_KEY, []);
  const historySelect = h("select", { name: "prompt_history" }, h("option", { value: "" }, `${history.length} earlier prompts…`),
    history.map((entry, i) => h("option", { value: String(i) }, entry.prompt.length > 90 ? `${entry.prompt.slice(0, 90)}…` : entry.prompt)));
  historySelect.addEventListener("change", () => {
    const entry = history[Number(historySelect.value)];
    historySelect.value = "";
    if (!entry) return;
    prompt.value = entry.prompt;
    negative.value = entry.negative_prompt;
    paintPreview();
    prompt.focus();
  });
  // Upscalers of a finished image (D38): the pixel ones built in and the upscaler models.
  const pixelUpscalers = [...(config.upscalers || []).filter((u) => !u.startsWith("Latent")), ...upscalerModels.map((m) => m.hash)];

  form.append(...[
    h("h1", {}, "Create"),
    prefill && prefill.unresolved && prefill.unresolved.length ? h("p", { class: "notice", role: "status" }, `Not in the library: ${prefill.unresolved.map((u) => `${u.kind} ${u.name || u.autov2}`).join(", ")}`) : null,
    general,
    picker,
    field("Prompt", prompt, { pointer: "/prompt", hint: "A1111 syntax: (word:1.2), [word], BREAK, <lora:name:0.8>. Ctrl+Enter generates." }),
    history.length ? field("Prompt history", historySelect, { hint: `the last ${HISTORY_SIZE} submissions` }) : null,
    preview,
    field("Negative prompt", negative, { pointer: "/negative_prompt" }),
    h("div", { class: "row" }, numberParameters.map(numberField),
      field("Batch count", number("batch_count", start.batch_count ?? 1, { min: 1, max: MAX_BATCH_COUNT }), { hint: "tasks queued one after another" })),
    h("div", { class: "actions seed-actions" },
      h("button", { type: "button", onclick: () => setSeed(-1) }, "Random seed"),
      reuseSeed),
    h("div", { class: "row selects" }, field("Sampler", sampler, { pointer: "/sampler" }),
      field(schedulerParameter.label || "Schedule type", scheduler, { pointer: "/scheduler" }), field("VAE", vae, { pointer: "/vae_hash" })),
    h("fieldset", { dataset: { pointer: "/additional_models" } }, h("legend", {}, "LoRAs, embeddings, ControlNets"), h("div", { class: "row selects" }, addonPickers), extraRows,
      h("div", { class: "field-error", role: "alert" })),
    h("details", { open: Boolean(hires) }, h("summary", {}, "Hires fix"), h("label", { class: "check" }, hiresOn, " Upscale and refine"), hiresFields),
    h("details", { open: Boolean(start.init_image) }, h("summary", {}, "Image to image / inpainting"),
      initZone,
      h("div", { class: "row" },
        field("Denoising strength", number("denoising_strength", start.denoising_strength ?? 0.75, { min: 0, max: 1, step: 0.05 }), { pointer: "/denoising_strength" })),
      h("div", { class: "row" }, field("Mask image", maskImage, { pointer: "/mask_image", hint: "white = repaint, black = keep" }), field("Upload a mask", maskFile),
        field("Mask blur", number("mask_blur", start.mask_blur ?? 4, { min: 0, max: 64 }), { pointer: "/mask_blur" }))),
    field("Task tags", h("input", { name: "tags", value: (start.tags || []).join(", ") }), { pointer: "/tags" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", "aria-keyshortcuts": "Control+Enter Meta+Enter" }, "Generate"), h("a", { href: "#/queue" }, "Open the queue")),
  ].filter(Boolean));

  function body() {
    const data = new FormData(form);
    const num = (name) => { const v = String(data.get(name) ?? "").trim(); return v === "" ? undefined : Number(v); };
    const task = {
      checkpoint_hash: data.get("checkpoint_hash") || "", prompt: data.get("prompt"), negative_prompt: data.get("negative_prompt"),
      ...Object.fromEntries(numberParameters.map((p) => [p.name, num(p.name)])), sampler: data.get("sampler") || undefined,
      scheduler: data.get("scheduler") || undefined,
      vae_hash: data.get("vae_hash") || null,
      additional_models: extras.map((e) => ({ model_hash: e.model_hash, weight: e.weight, ...(e.control_image ? { control_image: e.control_image } : {}) })),
      tags: tagList(String(data.get("tags") || "")),
    };
    if (hiresOn.checked) {
      task.hires = { scale: num("hires_scale"), steps: num("hires_steps"), denoising_strength: num("hires_denoising"), upscaler: data.get("hires_upscaler") };
    }
    const init = String(data.get("init_image") || "").trim();
    if (init) {
      task.init_image = init;
      task.denoising_strength = num("denoising_strength");
      const mask = String(data.get("mask_image") || "").trim();
      if (mask) { task.mask_image = mask; task.mask_blur = num("mask_blur"); }
    }
    return task;
  }

  /** A corrected field: its error (and aria-invalid) goes as soon as it is changed. */
  function clearFieldError(control) {
    control.removeAttribute("aria-invalid");
    const slot = (control.closest(".field") || control).querySelector(":scope > .field-error");
    if (slot) slot.textContent = "";
  }

  function clearErrors() {
    general.textContent = "";
    form.querySelectorAll(".field-error").forEach((e) => { e.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  }

  /** Puts each error under the element whose data-pointer is the longest prefix of its source.pointer. */
  function showErrors(errors) {
    let first = null;
    for (const error of errors) {
      const pointer = error.source && error.source.pointer;
      let target = null;
      if (pointer) {
        const candidates = [...form.querySelectorAll("[data-pointer]")].filter((el) => pointer === el.dataset.pointer || pointer.startsWith(`${el.dataset.pointer}/`));
        candidates.sort((x, y) => y.dataset.pointer.length - x.dataset.pointer.length);
        target = candidates[0] || null;
      }
      const slot = target && (target.closest(".field") || target).querySelector(":scope > .field-error");
      if (slot) {
        slot.textContent = [slot.textContent, error.detail].filter(Boolean).join(" ");
        if (target.matches("input, select, textarea")) target.setAttribute("aria-invalid", "true");
        first = first || target;
      } else {
        general.textContent = [general.textContent, error.detail || error.title].filter(Boolean).join(" ");
        first = first || general;
      }
    }
    if (first) {
      const focusable = first.matches("input, select, textarea") ? first : first.querySelector("input, select, textarea");
      (focusable || first).scrollIntoView({ block: "center" });
      if (focusable) focusable.focus();
    }
  }

  const formState = () => ({ ...body(), batch_count: Math.max(1, Number(form.querySelector("[name=batch_count]").value) || 1) });
  form.addEventListener("input", (event) => {
    if (event.target instanceof Element && event.target.getAttribute("aria-invalid")) clearFieldError(event.target);
    keepDraft(formState());
  });
  form.addEventListener("change", () => keepDraft(formState()));
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    if (mask.painted() && initImage.value) {  // the painted mask (D36: white = repaint) goes to the library first
      try {
        const doc = await api("/api/images/upload", { method: "POST", raw: await mask.png() });
        maskImage.value = doc.data.id;
        mask.saved();
      } catch (error) {
        general.textContent = `The mask could not be uploaded: ${error.message}`;
        return;
      }
    }
    const state = formState();
    keepDraft(state);
    const { batch_count: count, ...task } = state;
    remember(task);
    // Batch count: `count` tasks; a fixed seed goes on by the batch size for each (as A1111 numbers them)
    for (let i = 0; i < count; i += 1) {
      const sent = task.seed !== undefined && task.seed >= 0 ? { ...task, seed: task.seed + i * (task.batch_size || 1) } : task;
      try {
        const answer = await api("/api/tasks", { method: "POST", body: sent });
        toast(`Queued (position ${answer.position ?? "—"}, about ${answer.estimated_time || "?"})`);
        form.dataset.lastTask = answer.task_id;
        track(answer.task_id, count > 1 ? `${task.prompt} (${i + 1}/${count})` : task.prompt);
      } catch (error) {
        if (error instanceof ApiError) showErrors(error.errors);
        else general.textContent = error.message;
        break;
      }
    }
  });

  // The result pane: each task submitted from this tab, its live preview while it renders, then its images.
  const pane = h("section", { class: "results", "aria-label": "Results" }, h("h2", {}, "Results"));
  const cards = h("div", { class: "result-list" });
  // Announced once per finished task (not at every progress tick, which the cards show)
  const announce = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite" });
  pane.append(announce, cards);
  const cardOf = new Map();
  function track(id, label) {
    results.unshift({ id, label, status: "queued", preview: null, images: null, progress: 0 });
    results.splice(RESULTS_SIZE);
    try { sessionStorage.setItem(RESULTS_KEY, JSON.stringify(results.map((r) => ({ id: r.id, label: r.label })))); } catch { /* kept in memory */ }
    paintResults();
  }
  function paintResults() {
    cardOf.clear();
    cards.replaceChildren(...(results.length ? results.map(resultCard) : [h("p", { class: "muted" }, "Your pictures appear here: the live preview while they render, then the results.")]));
  }
  function resultCard(entry) {
    const card = h("article", { class: "result", dataset: { task: entry.id, status: entry.status } });
    cardOf.set(entry.id, card);
    card.append(h("h3", {}, entry.label || "(no prompt)"));
    if (entry.images) {
      if (!entry.images.length) card.append(h("p", { class: "error" }, entry.error || `This task ${entry.status}.`));
      card.append(...entry.images.map((image) => imageCard(image)));
      return card;
    }
    const img = h("img", { class: "live-preview", alt: "Live preview", hidden: entry.preview === null });
    if (entry.preview !== null) showImage(img, entry.previewUrl);
    card.append(h("progress", { max: 100, value: entry.progress, "aria-label": "Progress" }),
      h("p", { class: "progress-text" }, entry.text || "Waiting in the queue"), img);
    return card;
  }
  function imageCard(image) {
    const img = h("img", { alt: `Result ${image.hash.slice(0, 10)}`, width: image.width, height: image.height });
    showImage(img, contentUrl(image.hash));
    const upscaler = h("select", { "aria-label": "Upscaler" }, pixelUpscalers.map((u) => h("option", { value: u }, upscalerNames.get(u) || u)));
    const download = h("a", { class: "button", href: contentUrl(image.hash), download: `${image.hash}.png` }, "Download");
    if (token.get()) download.addEventListener("click", (event) => { event.preventDefault(); downloadWithToken(image.hash); });
    return h("figure", { class: "result-image", dataset: { hash: image.hash } }, img,
      h("figcaption", {}, `${image.width}×${image.height}`, image.seed !== null && image.seed !== undefined ? ` · seed ${image.seed}` : ""),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: async () => openComposer(await imageToImage(image.hash, image.width, image.height)) }, "Send to image to image"),
        h("button", { type: "button", onclick: async () => openComposer({ ...(await imageToImage(image.hash, image.width, image.height)), focus: "mask" }) }, "Inpaint"),
        h("button", { type: "button", onclick: () => reuse(image.hash) }, "Reuse parameters"),
        h("span", { class: "upscale" }, upscaler, h("button", { type: "button", onclick: () => upscale(image.hash, upscaler.value) }, "Upscale")),
        download,
        h("a", { class: "button", href: `#/gallery/${image.hash}` }, "Open in the gallery")));
  }
  async function reuse(hash) {
    try {
      const parsed = await api(`/api/images/${hash}/parameters`);
      openComposer({ task: parsed.task, unresolved: parsed.unresolved || [] });
    } catch (error) { toast(error.message, "error"); }
  }
  async function upscale(hash, upscaler) {
    try {
      const answer = await api(`/api/images/${hash}/upscale`, { method: "POST", body: { upscaler } });
      toast(`Upscale queued (position ${answer.position ?? "—"})`);
      track(answer.task_id, `Upscale ×2 of ${hash.slice(0, 10)} (${upscalerNames.get(upscaler) || upscaler})`);
    } catch (error) { toast(`Upscale refused: ${error.message}`, "error"); }
  }
  /** Updates the pane from a queue snapshot: progress and the newest preview of our running tasks; tasks that left
   *  the queue are read back with their images. */
  function onQueue(snapshot) {
    const running = snapshot.current_tasks || (snapshot.current_task ? [snapshot.current_task] : []);
    const waiting = new Set((snapshot.queue || []).map((t) => t.id));
    for (const entry of results) {
      if (entry.images || entry.loading) continue;
      const now = running.find((t) => t.id === entry.id);
      if (now) {
        entry.status = "running";
        entry.progress = now.progress || 0;
        entry.text = `${now.phase === "loading model" ? "Loading the model" : "Rendering"} · ${(now.progress || 0).toFixed(0)} %${now.eta ? ` · ETA ${now.eta}` : ""}`;
        const card = cardOf.get(entry.id);
        if (now.preview !== null && now.preview !== undefined && now.preview !== entry.preview && now.preview_url) {
          entry.preview = now.preview;
          entry.previewUrl = `${now.preview_url}?n=${now.preview}`;  // a new URL for each preview number
        }
        if (card) card.replaceWith(resultCard(entry));
      } else if (!waiting.has(entry.id)) finish(entry);
    }
  }
  async function finish(entry) {
    entry.loading = true;
    try {
      const doc = await api(`/api/tasks/${entry.id}?include=images`);
      const status = doc.data.attributes.status;
      if (["queued", "running"].includes(status)) return;  // not gone yet: the next snapshot says
      entry.status = status;
      entry.error = doc.data.attributes.error_message;
      entry.images = (doc.included || []).filter((r) => r.type === "image").map((r) => ({ hash: r.id, width: r.attributes.width, height: r.attributes.height, seed: r.attributes.seed }));
      const seeded = entry.images.find((image) => image.seed !== null && image.seed !== undefined);
      if (seeded) { lastSeed = seeded.seed; reuseSeed.disabled = false; }
      const card = cardOf.get(entry.id);
      if (card) card.replaceWith(resultCard(entry));
      announce.textContent = entry.images.length ? `Finished: ${entry.images.length} image${entry.images.length > 1 ? "s" : ""} for ${entry.label || "your task"}` : `Task ${status}: ${entry.label || ""}`;
    } catch (error) {
      entry.images = [];
      entry.error = error.message;
    } finally { entry.loading = false; }
  }
  paintResults();
  const queueListener = (event) => onQueue(event.detail);
  window.addEventListener("sdhost:queue", queueListener);
  if (live.snapshot) onQueue(live.snapshot);
  // A task can finish before the answer to its POST arrives, with no snapshot after it: the newest snapshot is
  // looked at again every 2 s, and a task in none of its lists is read back (a GET only for such a task).
  const sweep = setInterval(() => { if (live.snapshot) onQueue(live.snapshot); }, 2000);

  // PNG info (D35): a PNG dropped anywhere in the workspace, or chosen here, fills the form with its parameters.
  const pngInfo = h("input", { type: "file", accept: "image/png", name: "png_info" });
  pngInfo.addEventListener("change", () => readPngInfo(pngInfo.files[0]));
  form.querySelector("h1").after(field("Read parameters from a PNG", pngInfo, { hint: "or drop a PNG anywhere here" }));
  const workspace = h("div", { class: "workspace" }, form, pane);
  workspace.addEventListener("dragover", (event) => { event.preventDefault(); });
  workspace.addEventListener("drop", (event) => {
    event.preventDefault();
    readPngInfo(event.dataTransfer.files[0]);
  });
  main.append(workspace);
  setInit(initImage.value, null, true);
  if (prefill && prefill.focus === "mask") {  // "Inpaint": straight to the mask brush over the picture
    maskEditor.closest("details").open = true;
    maskEditor.scrollIntoView({ block: "center" });
    maskEditor.querySelector("input[value=brush]").focus();
  } else prompt.focus();
  return () => {
    clearInterval(sweep);
    window.removeEventListener("sdhost:queue", queueListener);
  };
}

/** The image's file, fetched with the token and saved through a blob: link (a plain link cannot send the header). */
async function downloadWithToken(hash) {
  try {
    const response = await fetch(contentUrl(hash), { headers: { Authorization: `Bearer ${token.get()}` } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const url = URL.createObjectURL(await response.blob());
    const link = h("a", { href: url, download: `${hash}.png` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) { toast(`Download failed: ${error.message}`, "error"); }
}

/** The mask canvas over the init image: brush and eraser strokes of a size (in image pixels), clear, invert.
 *  The canvas holds white where the picture is to be repainted (transparent elsewhere); png() is the D36 mask:
 *  the canvas over black, white = repaint, black = keep, at the init image's own size. */
function maskPainter(image) {
  const canvas = h("canvas", { class: "mask-canvas", width: 8, height: 8, role: "img", "aria-label": "Mask: painted areas are repainted" });
  const context = canvas.getContext("2d");
  const brush = h("input", { type: "radio", name: "mask_tool", value: "brush", checked: true });
  const eraser = h("input", { type: "radio", name: "mask_tool", value: "eraser" });
  const size = h("input", { type: "range", name: "mask_brush_size", min: 1, max: 256, value: 32 });
  let dirty = false, drawing = false, last = null;
  const painter = { canvas, onchange: null };
  const changed = () => { dirty = true; if (painter.onchange) painter.onchange(); };
  const fit = () => {  // the canvas has the image's own pixels (a new image clears it)
    if (image.naturalWidth && (canvas.width !== image.naturalWidth || canvas.height !== image.naturalHeight)) {
      canvas.width = image.naturalWidth;
      canvas.height = image.naturalHeight;
      dirty = false;
    }
  };
  image.addEventListener("load", fit);
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
  };
  const stroke = (to) => {
    context.globalCompositeOperation = eraser.checked ? "destination-out" : "source-over";
    context.strokeStyle = context.fillStyle = "#fff";
    context.lineWidth = Number(size.value);
    context.lineCap = context.lineJoin = "round";
    context.beginPath();
    context.moveTo(...(last || to));
    context.lineTo(...to);
    context.stroke();
    last = to;
  };
  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    drawing = true;
    last = null;
    canvas.setPointerCapture(event.pointerId);
    stroke(at(event));
    changed();
  });
  canvas.addEventListener("pointermove", (event) => { if (drawing) stroke(at(event)); });
  const stop = () => { drawing = false; last = null; };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  painter.clear = () => { context.clearRect(0, 0, canvas.width, canvas.height); dirty = false; if (painter.onchange) painter.onchange(); };
  painter.invert = () => {
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
    for (let i = 0; i < pixels.data.length; i += 4) {
      pixels.data[i] = pixels.data[i + 1] = pixels.data[i + 2] = 255;
      pixels.data[i + 3] = 255 - pixels.data[i + 3];
    }
    context.putImageData(pixels, 0, 0);
    changed();
  };
  painter.painted = () => dirty;
  painter.saved = () => { dirty = false; };
  painter.png = () => {
    const out = h("canvas", { width: canvas.width, height: canvas.height });
    const outContext = out.getContext("2d");
    outContext.fillStyle = "#000";
    outContext.fillRect(0, 0, out.width, out.height);
    outContext.drawImage(canvas, 0, 0);
    return new Promise((resolve) => out.toBlob(resolve, "image/png"));
  };
  painter.tools = h("fieldset", { class: "mask-tools" }, h("legend", {}, "Paint a mask (white = repaint)"),
    h("label", { class: "check" }, brush, " Brush"), h("label", { class: "check" }, eraser, " Eraser"),
    field("Brush size", size),
    h("button", { type: "button", onclick: painter.clear }, "Clear mask"),
    h("button", { type: "button", onclick: painter.invert }, "Invert mask"));
  return painter;
}

/** The A1111 `parameters` text chunk of a PNG file (tEXt, zTXt or iTXt, compressed or not), null when it has none. */
export async function pngParameters(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const signature = [137, 80, 78, 71, 13, 10, 26, 10];
  if (bytes.length < 8 || signature.some((b, i) => bytes[i] !== b)) throw new Error(`${file.name} is not a PNG`);
  const view = new DataView(bytes.buffer);
  const inflate = async (data) => new Uint8Array(await new Response(new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate"))).arrayBuffer());
  const latin1 = new TextDecoder("latin1"), utf8 = new TextDecoder("utf-8");
  for (let at = 8; at + 12 <= bytes.length;) {
    const length = view.getUint32(at), type = latin1.decode(bytes.subarray(at + 4, at + 8));
    const data = bytes.subarray(at + 8, at + 8 + length);
    at += 12 + length;
    if (type === "IEND") break;
    if (!["tEXt", "zTXt", "iTXt"].includes(type)) continue;
    const nul = data.indexOf(0);
    if (nul < 0 || latin1.decode(data.subarray(0, nul)) !== "parameters") continue;
    if (type === "tEXt") return latin1.decode(data.subarray(nul + 1));
    if (type === "zTXt") return latin1.decode(await inflate(data.subarray(nul + 2)));
    const compressed = data[nul + 1] === 1;  // iTXt: flag, method, language\0, translated keyword\0, text
    const language = data.indexOf(0, nul + 3), translated = data.indexOf(0, language + 1);
    const text = data.subarray(translated + 1);
    return utf8.decode(compressed ? await inflate(text) : text);
  }
  return null;
}

/** Fills the composer with a dropped or chosen PNG's parameters (D35, POST /api/tasks/parse-parameters). */
async function readPngInfo(file) {
  if (!file) return;
  try {
    const text = await pngParameters(file);
    if (!text) throw new Error(`${file.name} carries no generation parameters`);
    const parsed = await api("/api/tasks/parse-parameters", { method: "POST", body: { parameters: text } });
    openComposer({ task: parsed.task, unresolved: parsed.unresolved || [] });
    toast(`Parameters read from ${file.name}`);
  } catch (error) { toast(`No parameters read: ${error.message}`, "error"); }
}

/** Adds a submission to the prompt history (newest first, no repeats, at most HISTORY_SIZE). */
function remember(task) {
  const entry = { prompt: task.prompt || "", negative_prompt: task.negative_prompt || "" };
  if (!entry.prompt.trim()) return;
  const history = readStored(HISTORY_KEY, []).filter((e) => e.prompt !== entry.prompt || e.negative_prompt !== entry.negative_prompt);
  store(HISTORY_KEY, [entry, ...history].slice(0, HISTORY_SIZE));
}
