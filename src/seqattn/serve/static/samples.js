// Samples: five outputs drawn from the model's distribution (POST /v1/translate with "sample"
// and a seed) beside the beam's output, each with its log-probability under the model; the
// seed is shown and editable, so the same draw can be repeated. A sample's attention map is a
// click (or Enter) away.

import { postJSON } from "./api.js";
import { el, option, uid } from "./dom.js";
import { SAMPLES, TEMPERATURES, parseSeed, randomSeed, sampleRows, samplesSummary } from "./draws.js";
import { drawStudioMap, newMapBox, panelError } from "./widgets.js";

export function buildSamples(panel, ctx) {
  const tempId = uid("temp");
  const seedId = uid("seed");
  const temperature = el("select", { id: tempId, class: "sample-temperature" },
    TEMPERATURES.map((t) => option(t, t === 1 ? "1 (the model's own)" : String(t))));
  temperature.value = "1";
  const seed = el("input", { id: seedId, type: "text", inputmode: "numeric", class: "sample-seed", autocomplete: "off",
    value: String(randomSeed()) });
  const go = el("button", { type: "submit", class: "sample-go", text: "Draw 5 samples" });
  const fresh = el("button", { type: "button", class: "sample-new", text: "New seed" });
  const form = el("form", { class: "tree-controls sample-form" },
    el("label", { for: tempId, text: "Temperature" }), temperature,
    el("label", { for: seedId, text: "Seed" }), seed, go, fresh);
  const out = el("div", { class: "samples-result", "aria-live": "polite" });
  panel.append(el("h3", { text: "Samples" }),
    el("p", { class: "muted", text: `${SAMPLES} outputs drawn token by token from the model's distribution, next to ` +
      "the beam's output. Each is scored by its log-probability under the model itself; the same seed draws the " +
      "same samples again." }),
    form, out);
  const run = async () => {
    const { seed: value, error } = parseSeed(seed.value);
    if (error) { panelError(panel, error); return; }
    panelError(panel, "");
    go.disabled = true;
    fresh.disabled = true;
    try {
      const source = ctx.result.source;
      const own = ctx.result.hypotheses[0].text;
      const [drawn, beam] = await Promise.all([
        postJSON("/v1/translate", { texts: [source], model: ctx.model, sample: SAMPLES, seed: value,
          temperature: Number(temperature.value), attention: ctx.attention }),
        own ? postJSON("/v1/score", { source, target: own, model: ctx.model }) : null]);
      renderSamples(out, drawn, beam && { text: own, logprob: beam.logprob }, ctx.beam, value, Number(temperature.value));
    } catch (err) {
      panelError(panel, err);
    } finally {
      go.disabled = false;
      fresh.disabled = false;
    }
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
  fresh.addEventListener("click", () => { seed.value = String(randomSeed()); run(); });
  run();
}

function renderSamples(out, drawn, beam, beamSize, seed, temperature) {
  const result = drawn.results[0];
  const samples = result.hypotheses;
  const map = newMapBox();
  const heading = el("h4", {});
  const show = (k) => {
    out.querySelectorAll(".sample-pick").forEach((b, n) => b.setAttribute("aria-pressed", String(n === k)));
    heading.textContent = `Attention while drawing sample ${k + 1}`;
    drawStudioMap(map, result.src_tokens, samples[k].tgt_tokens, samples[k].attention);
  };
  const rows = sampleRows(beam, samples).map((r) => {
    const name = r.kind === "beam" ? `beam ${beamSize}` : `sample ${r.n}`;
    const label = r.kind === "beam" ? el("th", { scope: "row", text: name })
      : el("th", { scope: "row" }, el("button", { type: "button", class: "sample-pick", text: name,
        "aria-label": `show the attention of sample ${r.n}`, onclick: () => show(r.n - 1) }));
    return el("tr", { class: r.kind }, label, el("td", { class: "tok", text: r.text || "(empty)" }),
      el("td", { class: "num", text: r.logprob.toFixed(3), "data-logprob": String(r.logprob) }),
      el("td", { class: "mark", text: r.note }));
  });
  const table = el("table", { class: "token-table samples-table" },
    el("caption", { text: `Seed ${seed}, temperature ${temperature}: log p is each output's log-probability under the model` }),
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "" }, el("span", { class: "visually-hidden", text: "which" })),
      el("th", { scope: "col", text: "output" }), el("th", { scope: "col", text: "log p" }),
      el("th", { scope: "col", text: "" }, el("span", { class: "visually-hidden", text: "same as" })))),
    el("tbody", {}, rows));
  out.replaceChildren(
    el("p", { class: "samples-summary", text: `Seed ${seed} (type it again to repeat this draw). ${samplesSummary(beam, samples)}` }),
    el("div", { class: "table-scroll", tabindex: "0", role: "group", "aria-label": "Samples and the beam's output" }, table),
    heading, map);
  show(0);
}
