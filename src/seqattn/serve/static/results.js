// The result cards: one per translated line, with its n-best list, attention map and studio
// tools (studio.js).

import { drawAttention } from "./attention.js";
import { $, $$ } from "./dom.js";
import { fmt } from "./format.js";
import { attachStudio } from "./studio.js";

// Show POST /v1/translate's answer, one card per result.
export function renderResults(data) {
  const out = $("#output");
  out.replaceChildren(...data.results.map((r) => renderResult(r, data)));
}

function renderResult(result, data) {
  const card = $("#result-template").content.firstElementChild.cloneNode(true);
  $(".source-text", card).textContent = result.source;
  $(".truncated-note", card).hidden = !result.truncated;
  const list = $(".nbest", card);
  result.hypotheses.forEach((h, k) => {
    const li = document.createElement("li");
    li.className = "hyp";
    li.dataset.k = String(k);
    li.tabIndex = 0;
    const text = document.createElement("span");
    text.className = "hyp-text";
    text.textContent = h.text || "(empty)";
    const score = document.createElement("span");
    score.className = "hyp-score";
    score.textContent = fmt(h.score);
    li.append(text, score);
    li.addEventListener("click", () => selectHypothesis(card, result, k));
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") selectHypothesis(card, result, k); });
    list.append(li);
  });
  $(".nbest-count", card).textContent = `(${result.hypotheses.length})`;
  if (result.hypotheses.length > 1) $(".nbest-box", card).open = true;
  selectHypothesis(card, result, 0);
  attachStudio(card, result, data); // step through, why not, beam tree
  return card;
}

function selectHypothesis(card, result, k) {
  const h = result.hypotheses[k];
  $(".translation", card).textContent = h.text || "(empty)";
  $(".score", card).textContent = `score ${fmt(h.score)}`;
  $$(".hyp", card).forEach((li) => li.classList.toggle("selected", Number(li.dataset.k) === k));
  card.redraw = () => drawAttention($(".attn", card), result.src_tokens, h.tgt_tokens, h.attention);
  card.redraw();
}

// Redraw every card's map (after the words / numbers options change).
export function redrawResults() {
  $$("#output .result").forEach((card) => { if (card.redraw) card.redraw(); });
}
