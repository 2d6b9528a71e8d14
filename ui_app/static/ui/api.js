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

/** The blob: URLs of images fetched with the token, least recently used first: url -> {objectUrl, promise, users}.
 *  Past `limit` entries the least recently used are revoked, except those an <img> of the page still shows or
 *  a showImage() call is still waiting for; showImage() fetches a revoked one again when it is asked for. */
export const blobCache = { limit: 300, entries: new Map() };

function evictBlobs() {
  const { entries, limit } = blobCache;
  if (entries.size <= limit) return;
  const shown = new Set(Array.from(document.images, (img) => img.getAttribute("src")));
  for (const [url, entry] of entries) {
    if (entries.size <= limit) break;
    if (entry.users || !entry.objectUrl || shown.has(entry.objectUrl)) continue;
    entries.delete(url);
    URL.revokeObjectURL(entry.objectUrl);
  }
}

/** Shows an API image in `img`. Without a token the browser loads it (and caches it, the ETag and
 *  Cache-Control allow); with one, an <img> cannot send the header, so it is fetched and shown as a blob. */
export async function showImage(img, url) {
  if (!token.get()) { img.src = url; return; }
  const { entries } = blobCache;
  let entry = entries.get(url);
  if (entry) entries.delete(url); // set again below: the most recently used is last
  else {
    entry = { objectUrl: null, users: 0 };
    entry.promise = fetch(url, { headers: headers() }).then((r) => {
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return r.blob();
    }).then((blob) => (entry.objectUrl = URL.createObjectURL(blob)));
  }
  entries.set(url, entry);
  entry.users += 1;
  try { img.src = await entry.promise; } catch {
    if (entries.get(url) === entry) entries.delete(url);
    img.alt = "(image unavailable)";
  } finally {
    entry.users -= 1;
    evictBlobs();
  }
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
