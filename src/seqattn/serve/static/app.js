// seqattn web page: translate with the server's API and draw an interactive attention map.
// Plain JavaScript modules, no libraries; every string from the server goes in through
// textContent. This is the page's entry (index.html loads it); it imports the rest:
// pure logic (tokens, colour, format, forms, keys, steps, treelayout, divergence: no DOM,
// tested under Node in tests/js/) and the parts that draw (attention, results, studio, ...).

import { api, saveKey } from "./api.js";
import { initCompare } from "./compare.js";
import { $, option } from "./dom.js";
import { describeModel, exampleLabel, placeholderFor } from "./format.js";
import { beamValues, nbestChoice, readTexts } from "./forms.js";
import { redrawResults, renderResults } from "./results.js";
import { currentModel, state } from "./state.js";
import { initStudio } from "./studio.js";

function useKey(event) {
  event.preventDefault();
  const key = $("#api-key").value.trim();
  if (!key) { $("#key-message").textContent = "Type the key first."; return; }
  saveKey(key);
  $("#api-key").value = "";
  $("#key-form").hidden = true;
  showError("");
  loadModels();
}

function showError(message) {
  const box = $("#error");
  box.textContent = message;
  box.hidden = !message;
}

function fillBeams(defaultBeam) {
  const beam = $("#beam");
  beam.replaceChildren(...beamValues(defaultBeam).map((b) => option(b, b === 1 ? "1 (greedy)" : String(b))));
  beam.value = String(defaultBeam);
  fillNbest();
}

function fillNbest() {
  const nbest = $("#nbest");
  const { values, value } = nbestChoice($("#beam").value, nbest.value);
  nbest.replaceChildren(...values.map((n) => option(n)));
  nbest.value = String(value);
}

function onModelChange() {
  const m = currentModel();
  if (!m) return;
  $("#model-info").textContent = describeModel(m);
  fillBeams(m.default_beam);
  fillExamples(m);
}

async function loadModels() {
  try {
    const [listed, health] = await Promise.all([api("/v1/models"), fetch("/healthz").then((r) => r.json())]);
    if (listed.status === 401) {
      $("#model-info").textContent = "Waiting for the API key.";
      return;
    }
    const models = await listed.json();
    state.models = models.models;
    if (health && health.limits) state.limits = health.limits;
    $("#model").replaceChildren(...state.models.map((m) => option(m.name, `${m.name} (${m.src_lang}→${m.tgt_lang})`)));
    $("#model").value = models.default;
    onModelChange();
    document.dispatchEvent(new CustomEvent("models-loaded"));
  } catch (err) {
    $("#model-info").textContent = "Could not load the model list.";
    showError(`Could not reach the server: ${err}`);
  }
}

async function translate() {
  const { texts, error } = readTexts($("#input").value, state.limits);
  if (error) { showError(error); return; }
  showError("");
  const button = $("#translate");
  button.disabled = true;
  button.textContent = "Translating…";
  document.body.classList.add("busy");
  try {
    const body = {
      texts, model: $("#model").value || null, beam: Number($("#beam").value) || null,
      n_best: Number($("#nbest").value) || 1, attention: true,
    };
    const response = await api("/v1/translate", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const retry = response.headers.get("Retry-After");
      const detail = data.detail || `HTTP ${response.status}`;
      showError(response.status === 503 && retry ? `Server busy: ${detail}` : detail);
      return;
    }
    renderResults(data);
  } catch (err) {
    showError(`The request failed: ${err}`);
  } finally {
    button.disabled = false;
    button.textContent = "Translate";
    document.body.classList.remove("busy");
  }
}

function fillExamples(model) {
  const examples = (model && model.examples) || [];
  $("#example-buttons").replaceChildren(...examples.map((text) => {
    const b = document.createElement("button");
    const { label, title } = exampleLabel(text);
    b.type = "button";
    b.className = "example";
    b.dataset.text = text;
    b.textContent = label;
    if (title) b.title = title;
    b.addEventListener("click", () => { $("#input").value = text; translate(); });
    return b;
  }));
  $("#examples").hidden = examples.length === 0;
  $("#input").placeholder = placeholderFor(examples);
}

function start() {
  $("#translate").addEventListener("click", translate);
  $("#model").addEventListener("change", onModelChange);
  $("#beam").addEventListener("change", fillNbest);
  $("#input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); translate(); }
  });
  $("#opt-words").addEventListener("change", redrawResults);
  $("#opt-values").addEventListener("change", redrawResults);
  $("#key-form").addEventListener("submit", useKey);
  initStudio();
  initCompare();
  loadModels();
}

// A module runs once the document is parsed, before DOMContentLoaded; either way, start once.
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
