// "Continue from here", under Why not…?: the user types how the output should start, the model
// finishes it (POST /v1/translate with a prefix, the result's beam), and the finished output is
// shown token by token (POST /v1/score), the forced start marked as forced, the model's own
// continuation with its log-probabilities, and the attention it used.

import { postJSON } from "./api.js";
import { el, uid } from "./dom.js";
import { continuationRows, continuationSummary, prefixTokens } from "./prefix.js";
import { drawStudioMap, newMapBox, panelError } from "./widgets.js";

export function buildContinue(panel, ctx) {
  const id = uid("continue");
  const input = el("input", { id, type: "text", class: "continue-input", autocomplete: "off",
    spellcheck: "false", placeholder: "e.g. I like" });
  const go = el("button", { type: "submit", class: "continue-go", text: "Continue" });
  const form = el("form", { class: "force-form continue-form" },
    el("label", { for: id, text: "The start of the output" }), input, go);
  const out = el("div", { class: "continue-result", "aria-live": "polite" });
  panel.append(el("h3", { text: "Continue from here" }),
    el("p", { class: "muted", text: "Type how the output should start: the model is forced to write those tokens, " +
      "then searches on from there, so you see how it would finish your start." }),
    form, out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const start = input.value.trim();
    if (!start) { panelError(panel, "Type the start of an output first, e.g. I like"); return; }
    panelError(panel, "");
    go.disabled = true;
    try {
      const source = ctx.result.source;
      const [done, typed] = await Promise.all([
        postJSON("/v1/translate", { texts: [source], model: ctx.model, beam: ctx.beam, n_best: 1, prefix: start }),
        postJSON("/v1/score", { source, target: start, model: ctx.model })]);
      const finished = done.results[0].hypotheses[0].text;
      const scored = await postJSON("/v1/score", { source, target: finished, model: ctx.model });
      renderContinuation(out, start, finished, scored, prefixTokens(typed), done.beam);
    } catch (err) {
      panelError(panel, err);
    } finally {
      go.disabled = false;
    }
  });
}

function renderContinuation(out, start, finished, scored, forced, beam) {
  const { rows, same } = continuationRows(forced, scored);
  const body = rows.map((r) => el("tr", { class: r.forced ? "forced" : "own" },
    el("th", { scope: "row", text: String(r.index + 1) }),
    el("td", { class: "tok", text: r.label }),
    el("td", { class: "num", text: r.logprob.toFixed(3), "data-logprob": String(r.logprob) }),
    el("td", { class: "mark", text: r.forced ? "forced" : "model" })));
  const table = el("table", { class: "token-table continue-table" },
    el("caption", { text: "Each token of the finished output: forced (your start) or the model's own choice" }),
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "#" }), el("th", { scope: "col", text: "token" }),
      el("th", { scope: "col", text: "log p" }), el("th", { scope: "col", text: "written by" }))),
    el("tbody", {}, body));
  const map = newMapBox();
  out.replaceChildren(
    el("p", { class: "continue-summary", text: continuationSummary(start, finished, rows, beam, same).join("") }),
    el("div", { class: "table-scroll", tabindex: "0", role: "group", "aria-label": "Tokens of the finished output" }, table),
    el("h4", { text: `Attention while finishing “${start}”` }), map);
  drawStudioMap(map, scored.src_tokens, scored.tgt_tokens, scored.attention);
}
