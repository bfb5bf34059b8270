// Step through: the seven steps of attention for one sentence, with the model's own numbers
// from POST /v1/explain (greedy decoding). ◀ ▶ or the arrow keys walk the story; Page Up /
// Page Down jump a whole decoding step, Home / End to the ends. The positions' arithmetic is
// in steps.js.

import { postJSON } from "./api.js";
import { paintCell } from "./attention.js";
import { el } from "./dom.js";
import { STORY, lastPosition, moveFrom, phaseOf, storyPosition, whereText } from "./steps.js";
import { pieceLabels } from "./tokens.js";
import { barTable, panelError, vectorView } from "./widgets.js";

export function buildStepper(panel, ctx) {
  const status = el("p", { class: "muted", text: "Asking the model for its numbers…" });
  panel.append(status);
  postJSON("/v1/explain", { text: ctx.result.source, model: ctx.model })
    .then((ex) => { status.remove(); renderStepper(panel, ctx, ex); })
    .catch((err) => { status.remove(); panelError(panel, err); });
}

function renderStepper(panel, ctx, ex) {
  if (ex.members && ex.members.length) { // an ensemble: no one model's vectors to step through
    panel.append(el("p", { class: "muted", text: `An ensemble of ${ex.members.length} runs `
      + `(${ex.members.join(", ")}): its output is “${ex.output}”; each member has its own states and `
      + "queries, so serve a member's run to step through them." }));
    return;
  }
  const T = ex.steps.length;
  const src = pieceLabels(ex.src_tokens);
  const chosen = pieceLabels(ex.steps.map((s) => s.chosen));
  const fed = ex.steps.map((s, t) => (t === 0 ? "<s>" : chosen[t - 1]));
  const differs = ctx.result.hypotheses[0].text !== ex.output;
  const head = el("div", { class: "stepper-head" },
    el("h3", { text: "Step through the translation" }),
    el("p", { class: "search-note" },
      el("strong", { text: "Greedy decoding (beam 1). " }),
      `Output: “${ex.output}”. `,
      differs ? `It differs from the beam search result above (beam ${ctx.beam}), which keeps several candidates. ` : "",
      `Attention: ${ex.attention_type} · ${ex.formula}`));
  const prev = el("button", { type: "button", class: "step-prev", "aria-label": "Previous step", text: "◀" });
  const next = el("button", { type: "button", class: "step-next", "aria-label": "Next step", text: "▶" });
  const where = el("p", { class: "step-where", "aria-live": "polite" });
  const story = el("ol", { class: "story", "aria-label": "The seven steps" });
  const items = STORY.map(([name], k) => {
    const b = el("button", { type: "button", class: "story-step", text: `${k + 1} ${name}` });
    const li = el("li", {}, b);
    story.append(li);
    return b;
  });
  const body = el("div", { class: "step-body" });
  const map = el("div", { class: "step-map", tabindex: "0", role: "group", "aria-label": "The attention map so far" });
  const box = el("div", {
    class: "stepper", tabindex: "0", role: "group",
    "aria-label": "Stepper: left and right arrows walk the steps, Page Up and Page Down a whole decoding step",
  }, el("div", { class: "step-nav" }, prev, where, next), story,
  el("div", { class: "step-grid" }, body, map));
  panel.append(head, box);

  const last = lastPosition(T); // position 0: encoder; then six positions per decoding step
  let pos = 0;
  const go = (p) => {
    pos = Math.max(0, Math.min(last, p));
    const { t, k } = phaseOf(pos);
    box.dataset.step = String(t);
    box.dataset.phase = String(k + 1);
    where.textContent = whereText(pos, T);
    items.forEach((b, n) => {
      if (n === k) b.setAttribute("aria-current", "step"); else b.removeAttribute("aria-current");
    });
    prev.disabled = pos === 0;
    next.disabled = pos === last;
    body.replaceChildren(el("p", { class: "story-text", text: STORY[k][1] }), phaseView(ex, src, fed, chosen, t, k));
    map.replaceChildren(buildingMap(ex, src, chosen, t, k));
  };
  items.forEach((b, k) => b.addEventListener("click", () => go(storyPosition(k, pos))));
  prev.addEventListener("click", () => go(pos - 1));
  next.addEventListener("click", () => go(pos + 1));
  box.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || e.target.closest("summary, input, textarea, select")) return;
    const to = moveFrom(pos, last, e.key);
    if (to === null) return;
    e.preventDefault();
    go(to);
  });
  go(0);
  box.focus();
}

function phaseView(ex, src, fed, chosen, t, k) {
  const s = ex.steps[t];
  const noAttention = el("p", { class: "muted", text: "This model has no attention: every step sees only the context vector." });
  if (k === 0) {
    const rows = ex.encoder_states.map((h, j) => el("tr", {},
      el("th", { scope: "row", text: `h_${j + 1} ${src[j]}` }), el("td", {}, vectorView(h, `h_${j + 1}`))));
    return el("div", {},
      el("table", { class: "states" }, el("caption", { text: "Encoder hidden states (one per source subword)" }), el("tbody", {}, rows)),
      el("p", {}, "Context vector (bridges to the decoder): ", vectorView(ex.context_vector, "the context vector")),
      el("p", {}, "Decoder's initial state s_0: ", vectorView(ex.initial_state, "s_0")));
  }
  if (k === 1) {
    return el("div", {}, el("p", {}, "Fed in: ", el("span", { class: "token-chip", text: fed[t] }),
      t === 0 ? " (the start token)" : " (the token chosen at the previous step)"),
    el("p", {}, `Query s_${t + 1}: `, vectorView(s.query, `s_${t + 1}`)));
  }
  if (k === 2) {
    if (!s.scores) return noAttention;
    return el("div", {}, el("p", { class: "formula" }, el("code", { text: ex.formula })),
      barTable(`Scores of s_${t + 1} against each h_j`, s.scores.map((v, j) => ({ label: src[j], value: v })),
        { signed: true, cls: "score-bars" }));
  }
  if (k === 3) {
    if (!s.weights) return noAttention;
    const sum = s.weights.reduce((a, b) => a + b, 0);
    return el("div", {},
      barTable(`Weights α = softmax(scores), sum ${sum.toFixed(3)}`, s.weights.map((w, j) => ({
        label: src[j], value: w, text: w.toFixed(3), cls: "weight-row",
      })), { cls: "weight-bars" }));
  }
  if (k === 4) {
    if (!s.weights) return noAttention;
    const rows = ex.encoder_states.map((h, j) => {
      const tr = el("tr", { class: s.weights[j] >= 0.1 ? "strong" : "" },
        el("th", { scope: "row", text: src[j] }),
        el("td", { class: "num", text: `α ${s.weights[j].toFixed(3)}` }), el("td", { text: "×" }),
        el("td", {}, vectorView(h, `h_${j + 1}`, 4)));
      tr.style.setProperty("--hw", String(s.weights[j]));
      return tr;
    });
    return el("div", {},
      el("table", { class: "states weighted" }, el("caption", { text: "Source states, highlighted by their weight" }), el("tbody", {}, rows)),
      el("p", {}, `= attention value a_${t + 1}: `, vectorView(s.attention_value, `a_${t + 1}`)));
  }
  if (k === 5) {
    return el("div", {}, el("p", {}, `Attentional state h̃_${t + 1}: `, vectorView(s.attentional, `h̃_${t + 1}`)));
  }
  const top = barTable("The five most probable next tokens", s.top.map((c) => {
    const picked = c.token === s.chosen;
    return { label: pieceLabels([c.token])[0], value: c.p, text: c.p.toFixed(3),
      cls: picked ? "chosen" : "", note: picked ? "✓ chosen" : "" };
  }), { cls: "top-bars" });
  const end = s.chosen === "</s>" ? "The end token: the translation is complete."
    : `“${chosen[t]}” is fed in at the next step, and the story repeats from step 2.`;
  return el("div", {}, top, el("p", { class: "muted", text: end }));
}

// The attention map being built: rows so far; the current row appears once its weights exist.
function buildingMap(ex, src, chosen, t, k) {
  if (!ex.steps[0].weights) return el("p", { class: "muted", text: "No attention map: this model has no attention." });
  const rows = t + (k >= 3 ? 1 : 0);
  const head = el("tr", {}, el("th", { scope: "col", class: "corner", text: "output ↓" }),
    src.map((label) => el("th", { scope: "col", class: "mini-col" }, el("span", { text: label }))));
  const body = [];
  for (let i = 0; i <= Math.min(t, ex.steps.length - 1); i += 1) {
    const label = i < t || k === 6 ? chosen[i] : `step ${i + 1}: ?`;
    const tr = el("tr", { class: i === t ? "current" : "" }, el("th", { scope: "row", text: label }));
    ex.steps[i].weights.forEach((w, j) => {
      const td = el("td", { class: "mini-cell" });
      if (i < rows) {
        paintCell(td, w);
        td.setAttribute("aria-label", `${label} → ${src[j]}: ${w.toFixed(2)}`);
        td.title = td.getAttribute("aria-label");
      }
      tr.append(td);
    });
    body.push(tr);
  }
  return el("table", { class: "mini-map" },
    el("caption", { text: `The attention map so far (${rows} of ${ex.steps.length} rows)` }),
    el("thead", {}, head), el("tbody", {}, body));
}
