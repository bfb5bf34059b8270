// What the page knows about the server: its models (GET /v1/models) and request limits
// (GET /healthz), filled in by app.js and read by the other modules.

import { $ } from "./dom.js";

export const state = { models: [], limits: { max_texts: 64, max_chars: 1000 } };

// The model chosen in the Model select (the first one before any is chosen).
export function currentModel() {
  return state.models.find((m) => m.name === $("#model").value) || state.models[0];
}
