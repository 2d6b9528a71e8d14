// Composer: a POST /api/tasks body built from a form; errors are shown at the field their source.pointer names.
import { api, ApiError, includedIndex, query, showImage, thumbnailUrl } from "./api.js";
import { field, h, tagList, toast } from "./dom.js";
import { composerPrefill, live } from "./state.js";

const ADDON_TYPES = [["lora", "LoRA"], ["embedding", "Embedding"], ["controlnet", "ControlNet"]];
let draft = null;  // the last body, so leaving the page and coming back keeps the form

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
  const hiresFields = h("div", { class: "row" },
    field("Scale", number("hires_scale", hires ? hires.scale ?? 2 : 2, { min: 1, max: 4, step: 0.25 }), { pointer: "/hires/scale" }),
    field("Hires steps", number("hires_steps", hires ? hires.steps ?? 0 : 0, { min: 0, max: 200 }), { pointer: "/hires/steps", hint: "0 = same as steps" }),
    field("Denoising", number("hires_denoising", hires ? hires.denoising_strength ?? 0.7 : 0.7, { min: 0, max: 1, step: 0.05 }), { pointer: "/hires/denoising_strength" }),
    field("Upscaler", h("select", { name: "hires_upscaler" }, upscalers.map((u) => h("option", { value: u, selected: hires && hires.upscaler === u }, upscalerNames.get(u) || u))), { pointer: "/hires/upscaler" }));
  const initImage = h("input", { name: "init_image", value: start.init_image || "", placeholder: "image hash (from the gallery: Image to image)" });
  const initPreview = h("img", { alt: "Init image", width: 128, height: 128, hidden: true });
  const paintInit = () => {
    const hash = initImage.value.trim();
    initPreview.hidden = !/^[0-9a-f]{64}$/.test(hash);
    if (!initPreview.hidden) showImage(initPreview, thumbnailUrl(hash, 128));
  };
  initImage.addEventListener("change", paintInit);
  paintInit();
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

  form.append(...[
    h("h1", {}, "Create"),
    prefill && prefill.unresolved && prefill.unresolved.length ? h("p", { class: "notice", role: "status" }, `Not in the library: ${prefill.unresolved.map((u) => `${u.kind} ${u.name || u.autov2}`).join(", ")}`) : null,
    general,
    picker,
    field("Prompt", prompt, { pointer: "/prompt", hint: "A1111 syntax: (word:1.2), [word], BREAK, <lora:name:0.8>" }),
    preview,
    field("Negative prompt", negative, { pointer: "/negative_prompt" }),
    h("div", { class: "row" }, numberParameters.map(numberField)),
    h("div", { class: "row" }, field("Sampler", sampler, { pointer: "/sampler" }),
      field(schedulerParameter.label || "Schedule type", scheduler, { pointer: "/scheduler" }), field("VAE", vae, { pointer: "/vae_hash" })),
    h("fieldset", { dataset: { pointer: "/additional_models" } }, h("legend", {}, "LoRAs, embeddings, ControlNets"), h("div", { class: "row" }, addonPickers), extraRows,
      h("div", { class: "field-error", role: "alert" })),
    h("details", { open: Boolean(hires) }, h("summary", {}, "Hires fix"), h("label", { class: "check" }, hiresOn, " Upscale and refine"), hiresFields),
    h("details", { open: Boolean(start.init_image) }, h("summary", {}, "Image to image / inpainting"),
      h("div", { class: "row" }, field("Init image", initImage, { pointer: "/init_image" }), initPreview,
        field("Denoising strength", number("denoising_strength", start.denoising_strength ?? 0.75, { min: 0, max: 1, step: 0.05 }), { pointer: "/denoising_strength" })),
      h("div", { class: "row" }, field("Mask image", maskImage, { pointer: "/mask_image", hint: "white = repaint, black = keep" }), field("Upload a mask", maskFile),
        field("Mask blur", number("mask_blur", start.mask_blur ?? 4, { min: 0, max: 64 }), { pointer: "/mask_blur" }))),
    field("Task tags", h("input", { name: "tags", value: (start.tags || []).join(", ") }), { pointer: "/tags" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Generate"), h("a", { href: "#/queue" }, "Open the queue")),
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

  form.addEventListener("input", () => { draft = body(); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    draft = body();
    try {
      const answer = await api("/api/tasks", { method: "POST", body: draft });
      toast(`Queued (position ${answer.position ?? "—"}, about ${answer.estimated_time || "?"})`);
      form.dataset.lastTask = answer.task_id;
    } catch (error) {
      if (error instanceof ApiError) showErrors(error.errors);
      else general.textContent = error.message;
    }
  });
  main.append(form);
  prompt.focus();
}
