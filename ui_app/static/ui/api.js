// The REST API client: the D14 token (sessionStorage), JSON:API errors, images and SSE streams.

const TOKEN_KEY = "sdhost-token";

export class ApiError extends Error {
  constructor(status, errors) {
    super(errors.map((e) => e.detail || e.title || e.code).join("; ") || `HTTP ${status}`);
    this.status = status;
    this.errors = errors;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) || "",
  set: (value) => (value ? sessionStorage.setItem(TOKEN_KEY, value) : sessionStorage.removeItem(TOKEN_KEY)),
};

function headers(extra = {}) {
  const sent = { Accept: "application/json", ...extra };
  if (token.get()) sent.Authorization = `Bearer ${token.get()}`;
  return sent;
}

/** fetch() under /api; JSON in and out. Rejects with ApiError carrying the JSON:API error objects.
 *  A 401 also tells the shell to ask for the token again, unless `probe` (the shell's own check). */
export async function api(path, { method = "GET", body, raw, probe = false } = {}) {
  const init = { method, headers: headers() };
  if (raw !== undefined) init.body = raw;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let doc = null;
  try { doc = text ? JSON.parse(text) : null; } catch { doc = null; }
  if (!response.ok) {
    const errors = doc && Array.isArray(doc.errors) ? doc.errors : [{ status: String(response.status), detail: text.slice(0, 200) }];
    const error = new ApiError(response.status, errors);
    if (response.status === 401 && !probe) window.dispatchEvent(new CustomEvent("sdhost:unauthorized"));
    throw error;
  }
  return doc;
}

/** A query string from an object; arrays are joined with commas, empty values left out. */
export function query(params) {
  const parts = [];
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length)) continue;
    parts.push(`${encodeURIComponent(key).replace(/%5B/g, "[").replace(/%5D/g, "]")}=${encodeURIComponent(Array.isArray(value) ? value.join(",") : value)}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

/** The resources of a JSON:API document's `included`, by "type:id". */
export function includedIndex(doc) {
  const index = new Map();
  for (const resource of doc.included || []) index.set(`${resource.type}:${resource.id}`, resource);
  return index;
}

export const thumbnailUrl = (hash, size = 256) => `/api/images/${hash}/thumbnail?size=${size}`;
export const contentUrl = (hash) => `/api/images/${hash}/content`;

const blobUrls = new Map();

/** Shows an API image in `img`. Without a token the browser loads it (and caches it, the ETag and
 *  Cache-Control allow); with one, an <img> cannot send the header, so it is fetched and shown as a blob. */
export async function showImage(img, url) {
  if (!token.get()) { img.src = url; return; }
  if (!blobUrls.has(url)) {
    blobUrls.set(url, fetch(url, { headers: headers() }).then((r) => {
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return r.blob();
    }).then((blob) => URL.createObjectURL(blob)));
  }
  try { img.src = await blobUrls.get(url); } catch { blobUrls.delete(url); img.alt = "(image unavailable)"; }
}

/** An EventSource on an SSE endpoint; EventSource cannot send headers, so the token goes as `?token=`
 *  (accepted only on SSE views, see docs/ui.md). */
export function stream(path, onData) {
  const url = token.get() ? `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(token.get())}` : path;
  const source = new EventSource(url);
  source.onmessage = (event) => {
    let data;
    try { data = JSON.parse(event.data); } catch { return; }
    onData(data, source);
  };
  return source;
}
