// The server's API as the page calls it. The API key, when the server wants one
// (serve --api-key), is typed once into the page, kept for this tab only (sessionStorage,
// never in a URL) and sent as "Authorization: Bearer KEY" on /v1/ requests.

import { $ } from "./dom.js";

const KEY_STORE = "seqattn-api-key";

export function apiKey() {
  try { return sessionStorage.getItem(KEY_STORE) || ""; } catch (err) { return ""; }
}

export function saveKey(key) {
  try { sessionStorage.setItem(KEY_STORE, key); } catch (err) { /* storage off: ask again next time */ }
}

export function askForKey(message) {
  $("#key-message").textContent = message;
  $("#key-form").hidden = false;
  $("#api-key").focus();
}

// fetch() for the server's own paths, with the key on /v1/ requests; a 401 asks for the key.
export async function api(url, options = {}) {
  const headers = new Headers(options.headers || {});
  const key = apiKey();
  if (key && url.startsWith("/v1/")) headers.set("Authorization", `Bearer ${key}`);
  const response = await fetch(url, { ...options, headers });
  if (response.status === 401 && url.startsWith("/v1/")) {
    askForKey(key ? "The server refused that key; type it again." : "This server wants an API key.");
  }
  return response;
}

// POST a JSON body; the answer's JSON, or an Error with the server's detail.
export async function postJSON(url, body) {
  const response = await api(url, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || `HTTP ${response.status}`);
  return data;
}
