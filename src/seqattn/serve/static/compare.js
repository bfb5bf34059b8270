// Side by side (two served models translate the same sentence; both attention maps shown) and
// training in pictures (the heatmaps a run drew at each validation, on a slider over steps).

import { api, apiKey, postJSON } from "./api.js";
import { $, el, option } from "./dom.js";
import { describeModel, fmt } from "./format.js";
import { firstLine } from "./forms.js";
import { state } from "./state.js";
import { drawStudioMap, newMapBox } from "./widgets.js";

function fillCompare() {
  const section = $("#compare");
  const models = state.models || [];
  section.hidden = models.length < 2;
  if (models.length < 2) return;
  ["#compare-a", "#compare-b"].forEach((sel, k) => {
    const keep = $(sel).value;
    $(sel).replaceChildren(...models.map((m) => option(m.name, `${m.name} (${m.architecture.attention} attention)`)));
    $(sel).value = models.some((m) => m.name === keep) ? keep : models[Math.min(k, models.length - 1)].name;
  });
}

async function compareModels() {
  const line = firstLine($("#input").value);
  const out = $("#compare-out");
  const error = $("#compare-error");
  error.hidden = true;
  if (!line) { error.textContent = "Type a sentence above first."; error.hidden = false; return; }
  const names = [$("#compare-a").value, $("#compare-b").value];
  const beam = Number($("#beam").value) || null;
  const button = $("#compare-go");
  button.disabled = true;
  try {
    const answers = await Promise.all(names.map((model) => {
      const m = state.models.find((x) => x.name === model);
      const wantAttention = m && m.architecture.attention !== "none";
      return postJSON("/v1/translate", { texts: [line], model, beam, n_best: 1, attention: wantAttention });
    }));
    out.replaceChildren(...answers.map((data) => compareSide(data)));
  } catch (err) {
    error.textContent = String(err.message || err);
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
}

function compareSide(data) {
  const m = state.models.find((x) => x.name === data.model);
  const r = data.results[0];
  const h = r.hypotheses[0];
  const map = newMapBox();
  const side = el("article", { class: "compare-side", "aria-label": `model ${data.model}` },
    el("h3", { text: data.model }),
    el("p", { class: "muted", text: m ? describeModel(m) : "" }),
    el("p", { class: "translation", text: h.text || "(empty)" }),
    el("p", { class: "score", text: `score ${fmt(h.score)} · beam ${data.beam}` }), map);
  drawStudioMap(map, r.src_tokens, h.tgt_tokens, h.attention);
  return side;
}

// ---- training in pictures ----

let trainingRequest = 0;
async function loadTraining() {
  const section = $("#training");
  const model = $("#model").value;
  const ticket = (trainingRequest += 1);
  let data = { steps: [] };
  try {
    const response = await api(`/v1/models/${encodeURIComponent(model)}/attention`);
    if (response.ok) data = await response.json();
  } catch (err) {
    data = { steps: [] };
  }
  if (ticket !== trainingRequest) return; // the model changed meanwhile
  section.hidden = data.steps.length === 0;
  if (!data.steps.length) return;
  const slider = $("#training-step");
  // The same model's pictures again (it was chosen again): keep the step the reader is on.
  const same = $("#training-model").textContent === model && (slider.steps || []).length === data.steps.length;
  $("#training-model").textContent = model;
  slider.min = "0";
  slider.max = String(data.steps.length - 1);
  if (!same) slider.value = String(data.steps.length - 1);
  slider.steps = data.steps;
  showTrainingStep();
}

function showTrainingStep() {
  const slider = $("#training-step");
  const steps = slider.steps || [];
  const k = Number(slider.value);
  const s = steps[k];
  if (!s) return;
  const label = `step ${s.step} (validation ${k + 1} of ${steps.length})`;
  $("#training-label").textContent = label;
  slider.setAttribute("aria-valuetext", label);
  $("#training-images").replaceChildren(...s.images.map((img, n) => el("figure", {},
    keyedImage(img.url, `Attention map of dev sentence ${n + 1} at training step ${s.step}`),
    el("figcaption", { text: `dev sentence ${n + 1} · step ${s.step}` }))));
}

// An <img> of a /v1/ picture: a plain link, or behind an API key (which an <img> cannot send)
// fetched with it and shown from memory.
function keyedImage(url, alt) {
  if (!apiKey()) return el("img", { src: url, alt, loading: "lazy" });
  const image = el("img", { alt });
  api(url).then((r) => (r.ok ? r.blob() : null)).then((blob) => {
    if (!blob) return;
    const local = URL.createObjectURL(blob);
    image.addEventListener("load", () => URL.revokeObjectURL(local), { once: true });
    image.src = local;
  }).catch(() => {});
  return image;
}

// Wire the side by side and training sections; both fill in once the models are loaded.
export function initCompare() {
  $("#compare-go").addEventListener("click", compareModels);
  $("#training-step").addEventListener("input", showTrainingStep);
  $("#model").addEventListener("change", loadTraining);
  document.addEventListener("models-loaded", () => { fillCompare(); loadTraining(); });
}
