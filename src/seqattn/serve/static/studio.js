// The studio: tools that look closer at one translation (step through, why not this? with
// continue from here, the beam tree, samples, attribution), each its own module (stepper.js,
// whynot.js, beamtree.js, samples.js, attribution.js); their shared pieces are in widgets.js,
// side by side models and training in pictures in compare.js.

import { buildAttribution } from "./attribution.js";
import { buildBeamTree } from "./beamtree.js";
import { $, el } from "./dom.js";
import { buildSamples } from "./samples.js";
import { buildStepper } from "./stepper.js";
import { state } from "./state.js";
import { buildWhyNot } from "./whynot.js";
import { redrawStudioMaps } from "./widgets.js";

// A tool's toggle button and its panel (built the first time it opens).
function toolButton(card, toolbar, name, build) {
  const panel = el("section", { class: "studio-panel", hidden: true, "aria-label": name });
  const button = el("button", { type: "button", class: "tool", "aria-expanded": "false", text: name });
  button.addEventListener("click", () => {
    const open = panel.hidden;
    panel.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (open && !panel.built) { panel.built = true; build(panel); }
  });
  toolbar.append(button);
  card.append(panel);
  return { button, panel };
}

// Called for every result card: the toolbar of tools for that sentence.
export function attachStudio(card, result, data) {
  const toolbar = el("div", { class: "studio-tools", role: "group", "aria-label": "Look closer at this sentence" });
  $(".best", card).after(toolbar);
  const m = state.models.find((x) => x.name === data.model);
  const ctx = { card, result, model: data.model, beam: data.beam, attention: !m || m.architecture.attention !== "none" };
  toolButton(card, toolbar, "Step through", (panel) => buildStepper(panel, ctx));
  toolButton(card, toolbar, "Why not…?", (panel) => buildWhyNot(panel, ctx));
  toolButton(card, toolbar, "Beam tree", (panel) => buildBeamTree(panel, ctx));
  toolButton(card, toolbar, "Samples", (panel) => buildSamples(panel, ctx));
  toolButton(card, toolbar, "Attribution", (panel) => buildAttribution(panel, ctx));
}

// The studio's maps follow the page's map options (whole words, numbers).
export function initStudio() {
  $("#opt-words").addEventListener("change", redrawStudioMaps);
  $("#opt-values").addEventListener("change", redrawStudioMaps);
}
