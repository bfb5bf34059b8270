// Attribution: for the output shown above, attention and one attribution method side by side
// (POST /v1/attribute for both, so rows and columns are the same tokens), drawn with the page's
// map code; the method's signed scores on a diverging scale. An optional contrast asks "why
// this token rather than that one?"; the summary says where the two maps agree.

import { postJSON } from "./api.js";
import { $, el, option, uid } from "./dom.js";
import { METHOD_NAMES, METHOD_NOTES, agreementText, topAgreement } from "./importance.js";
import { viewOf } from "./tokens.js";
import { drawStudioMap, newMapBox, panelError } from "./widgets.js";

// The output the card shows now (the n-best entry selected), and its position.
function shownOutput(ctx) {
  const picked = $(".hyp.selected", ctx.card);
  const k = picked ? Number(picked.dataset.k) : 0;
  return { k, text: ctx.result.hypotheses[k].text };
}

export function buildAttribution(panel, ctx) {
  const ids = { method: uid("attr-method"), steps: uid("attr-steps"), contrast: uid("attr-contrast") };
  const method = el("select", { id: ids.method, class: "attr-method" },
    Object.entries(METHOD_NAMES).map(([value, name]) => option(value, name)));
  method.value = "integrated_gradients";
  const steps = el("input", { id: ids.steps, type: "number", class: "attr-steps", min: "1", max: "1000", value: "50" });
  const contrast = el("input", { id: ids.contrast, type: "text", class: "continue-input attr-contrast",
    autocomplete: "off", spellcheck: "false", placeholder: "optional, e.g. I like coffee." });
  const go = el("button", { type: "submit", class: "attr-go", text: "Compute" });
  const note = el("p", { class: "muted attr-note" });
  const form = el("form", { class: "tree-controls attr-form" },
    el("label", { for: ids.method, text: "Method" }), method,
    el("label", { for: ids.steps, text: "Steps" }), steps,
    el("label", { for: ids.contrast, text: "Rather than" }), contrast, go);
  const out = el("div", { class: "attr-result", "aria-live": "polite" });
  panel.append(el("h3", { text: "Attribution: attention beside the gradients" }),
    el("p", { class: "muted", text: "How much each source token matters to each output token, by attention and by " +
      "a method that asks the model itself (gradients or dropping tokens), for the output shown above. Type an " +
      "output under “Rather than” to ask why the model wrote its token rather than yours at each position." }),
    form, note, out);
  const describe = () => {
    note.textContent = `${METHOD_NAMES[method.value]}: ${METHOD_NOTES[method.value]}.`;
    steps.disabled = method.value !== "integrated_gradients";
  };
  method.addEventListener("change", describe);
  describe();
  const run = async () => {
    const { text: output } = shownOutput(ctx);
    if (!output) { panelError(panel, "The output is empty: there is nothing to attribute."); return; }
    panelError(panel, "");
    go.disabled = true;
    try {
      const body = { text: ctx.result.source, model: ctx.model, output, method: method.value,
        steps: Number(steps.value), contrast: contrast.value.trim() || null };
      const [attention, scores] = await Promise.all([
        ctx.attention ? postJSON("/v1/attribute", { text: body.text, model: ctx.model, output, method: "attention" }) : null,
        postJSON("/v1/attribute", body)]);
      renderAttribution(out, attention, scores, body.contrast);
    } catch (err) {
      panelError(panel, err);
    } finally {
      go.disabled = false;
    }
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
  run();
}

function side(title, map) {
  return el("section", { class: "compare-side attr-side", "aria-label": title }, el("h4", { text: title }), map);
}

function renderAttribution(out, attention, found, contrast) {
  const name = METHOD_NAMES[found.method] || found.method;
  const title = contrast ? `${name}, rather than “${contrast}”` : name;
  const parts = [];
  if (found.contrasted) {
    const same = found.contrasted.filter((x) => !x).length;
    if (same) parts.push(`${same} row${same === 1 ? "" : "s"} compare a token with itself (the contrast has it too, or has ended) and score 0.`);
  }
  if (found.settings.steps) parts.push(`${found.settings.steps} steps; baseline: ${found.settings.baseline}.`);
  const left = newMapBox();
  const right = newMapBox();
  const summary = el("p", { class: "attr-summary" });
  out.replaceChildren(summary, el("div", { class: "compare-grid attr-grid" }, side("Attention", left), side(title, right)));
  const summarise = () => { // on the units shown (whole words or subwords), redrawn with the maps
    const words = $("#opt-words").checked;
    const agree = attention && agreementText(found.method, topAgreement(
      viewOf(found.src_tokens, found.tgt_tokens, attention.scores, words).matrix,
      viewOf(found.src_tokens, found.tgt_tokens, found.scores, words, "sum").matrix), words ? "word" : "subword");
    summary.textContent = [`“${found.output}”: rows are its ${words ? "words" : "subwords"}, columns the source's.`,
      agree, ...parts].filter(Boolean).join(" ");
  };
  drawStudioMap(left, found.src_tokens, found.tgt_tokens, attention && attention.scores);
  drawStudioMap(right, found.src_tokens, found.tgt_tokens, found.scores, { signed: true,
    legend: `${name}: orange lowers, blue raises the output token's ${found.contrast_tokens ? "advantage" : "log-probability"}; ` +
      "each row scaled to its largest |score|" });
  const draw = right.redraw;
  right.redraw = () => { draw(); summarise(); };
  summarise();
}
