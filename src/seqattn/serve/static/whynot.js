// "Why not this?": force an output the user types through the model (POST /v1/score) and set
// each of its tokens' log-probability next to the model's own output (scored the same way),
// marking where the two part, with the forced output's attention map; below it, "continue from
// here" (continuation.js) finishes a start the user types.

import { postJSON } from "./api.js";
import { buildContinue } from "./continuation.js";
import { el, uid } from "./dom.js";
import { firstDifference, rowMark, summaryParts } from "./divergence.js";
import { pieceLabels } from "./tokens.js";
import { drawStudioMap, newMapBox, panelError } from "./widgets.js";

export function buildWhyNot(panel, ctx) {
  const id = uid("force");
  const input = el("input", { id, type: "text", class: "force-input", autocomplete: "off", spellcheck: "false",
    placeholder: "e.g. I like AI." });
  const go = el("button", { type: "submit", class: "force-go", text: "Score it" });
  const form = el("form", { class: "force-form" },
    el("label", { for: id, text: "An output you expected" }), input, go);
  const out = el("div", { class: "whynot-result", "aria-live": "polite" });
  panel.append(el("h3", { text: "Why not this?" }),
    el("p", { class: "muted", text: "Type the output you expected: the model scores it token by token (forced " +
      "decoding), next to its own output, so you can see where and by how much it prefers its own." }),
    form, out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const target = input.value.trim();
    if (!target) { panelError(panel, "Type an output to score first, e.g. I like AI."); return; }
    panelError(panel, "");
    go.disabled = true;
    try {
      const own = ctx.result.hypotheses[0].text;
      const ask = (t) => postJSON("/v1/score", { source: ctx.result.source, target: t, model: ctx.model });
      const [mine, theirs] = await Promise.all([own ? ask(own) : null, ask(target)]);
      renderWhyNot(out, mine, theirs);
    } catch (err) {
      panelError(panel, err);
    } finally {
      go.disabled = false;
    }
  });
  buildContinue(panel, ctx);
  input.focus();
}

function renderWhyNot(out, mine, theirs) {
  const a = mine ? mine.tgt_tokens : [];
  const b = theirs.tgt_tokens;
  const la = pieceLabels(a);
  const lb = pieceLabels(b);
  const first = firstDifference(a, b);
  const rows = [];
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    const same = a[i] === b[i];
    const cell = (label, lp) => (label === undefined ? [el("td", { class: "muted", text: "—" }), el("td")]
      : [el("td", { class: "tok", text: label }), el("td", { class: "num", text: lp.toFixed(3), "data-logprob": String(lp) })]);
    rows.push(el("tr", { class: `${same ? "" : "diverge"}${i === first ? " first" : ""}` },
      el("th", { scope: "row", text: String(i + 1) }),
      cell(la[i], mine && mine.logprobs[i]), cell(lb[i], theirs.logprobs[i]),
      el("td", { class: "mark", text: rowMark(a, b, i, first) })));
  }
  const summary = el("p", { class: "whynot-summary" });
  summary.append(...summaryParts(mine, theirs, la, lb));
  const table = el("table", { class: "whynot-table" },
    el("caption", { text: "Log-probability of each output token (higher is more likely)" }),
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "#" }),
      el("th", { scope: "col", text: "model's token" }), el("th", { scope: "col", text: "log p" }),
      el("th", { scope: "col", text: "your token" }), el("th", { scope: "col", text: "log p" }),
      el("th", { scope: "col", text: "" }, el("span", { class: "visually-hidden", text: "difference" })))),
    el("tbody", {}, rows));
  const map = newMapBox();
  out.replaceChildren(summary, el("div", { class: "table-scroll", tabindex: "0", role: "group", "aria-label": "Token scores" }, table),
    el("h4", { text: `Attention while forced to write “${theirs.target}”` }), map);
  drawStudioMap(map, theirs.src_tokens, theirs.tgt_tokens, theirs.attention);
}
