// The shell: login when the API asks for the token, hash routes to pages, one live queue stream for all.
import { api, ApiError, stream, token } from "./api.js";
import { h, toast } from "./dom.js";
import { live } from "./state.js";
import * as gallery from "./gallery.js";
import * as composer from "./composer.js";
import * as queue from "./queue.js";
import * as models from "./models.js";

const pages = { gallery, compose: composer, queue, models };
const main = document.getElementById("main");
let cleanup = null;
let queueSource = null;

function renderLogin(message) {
  const input = h("input", { type: "password", id: "token", name: "token", autocomplete: "current-password", required: true });
  const error = h("div", { class: "field-error", role: "alert" }, message || "");
  const form = h("form", { class: "card login", onsubmit: async (event) => {
    event.preventDefault();
    token.set(input.value.trim());
    if (!(await start())) { error.textContent = "That token was not accepted."; return; }
    if (!location.hash || location.hash === "#/login") location.hash = "#/gallery";  // routes on hashchange
    else route();
  } },
  h("h1", {}, "SD-Host"),
  h("p", {}, "This server requires its API token (SDHOST_API_TOKEN). It is kept for this browser tab only."),
  h("div", { class: "field" }, h("label", { for: "token" }, "API token"), input, error),
  h("button", { type: "submit", class: "primary" }, "Log in"));
  main.replaceChildren(form);
  input.focus();
}

/** Checks the API accepts us (no token needed, or the stored one); loads the configuration. */
async function start() {
  try {
    live.config = await api("/api/config", { probe: true });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      token.set("");
      return false;
    }
    throw error;
  }
  document.getElementById("logout").hidden = !token.get();
  connectQueue();
  return true;
}

function connectQueue() {
  if (queueSource) queueSource.close();
  queueSource = stream("/api/tasks/queue", (snapshot) => {
    const previous = live.snapshot;
    live.snapshot = snapshot;
    document.documentElement.dataset.queueStream = "open";  // the first snapshot arrived
    const running = snapshot.current_tasks ? snapshot.current_tasks.length : (snapshot.current_task ? 1 : 0);
    const busy = running + (snapshot.queue_length || 0);
    document.getElementById("queue-badge").textContent = busy ? String(busy) : "";
    window.dispatchEvent(new CustomEvent("sdhost:queue", { detail: snapshot }));
    if (previous && finishedSince(previous, snapshot)) window.dispatchEvent(new CustomEvent("sdhost:task-finished"));
  });
}

/** Whether a task that was running or waiting in `before` is in neither list of `after`. */
function finishedSince(before, after) {
  const ids = (s) => new Set([...(s.current_tasks || (s.current_task ? [s.current_task] : [])), ...(s.queue || [])].map((t) => t.id));
  const now = ids(after);
  return [...ids(before)].some((id) => !now.has(id));
}

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  if (name === "login") return renderLogin();
  const page = pages[name] || gallery;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.page === (pages[name] ? name : "gallery")) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  main.replaceChildren();
  try {
    cleanup = (await page.render(main, rest.map(decodeURIComponent))) || null;
  } catch (error) {
    main.replaceChildren(h("p", { class: "error", role: "alert" }, `Could not show this page: ${error.message}`));
  }
}

window.addEventListener("sdhost:unauthorized", () => {
  if (queueSource) queueSource.close();
  renderLogin("Your token was refused; enter it again.");
});
document.getElementById("logout").addEventListener("click", () => {
  token.set("");
  if (queueSource) queueSource.close();
  renderLogin("Logged out.");
});
window.addEventListener("hashchange", route);

(async () => {
  try {
    if (await start()) route();
    else renderLogin();
  } catch (error) {
    toast(`SD-Host is not answering: ${error.message}`, "error");
  }
})();
