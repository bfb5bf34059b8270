// Text the page writes: scores, a model's one-line description, the map's readouts and the
// example buttons' labels. Pure (no DOM; tests/js/).

export const HIGHLIGHT_MIN = 0.02; // weights below this are not highlighted nor listed

// A score with three decimals, "n/a" when there is none.
export function fmt(score) {
  return score === null || score === undefined ? "n/a" : score.toFixed(3);
}

// A signed number ("+0.500", "−1.250" with a true minus sign), "n/a" when there is none.
export const num = (x, digits = 3) => (x === null || x === undefined ? "n/a"
  : (x < 0 ? "−" : "+") + Math.abs(x).toFixed(digits));

// "ko → en · encoder bi-LSTM 256×2 · decoder … · 1.2M parameters · cpu" from GET /v1/models.
export function describeModel(m) {
  const a = m.architecture;
  const enc = `${a.encoder.bidirectional ? "bi-" : ""}${a.encoder.rnn.toUpperCase()} ${a.encoder.hidden_size}×${a.encoder.layers}`;
  const dec = `${a.decoder.rnn.toUpperCase()} ${a.decoder.hidden_size}×${a.decoder.layers}${a.decoder.input_feeding ? " + input feeding" : ""}`;
  const params = a.parameters >= 1e6 ? `${(a.parameters / 1e6).toFixed(1)}M` : `${Math.round(a.parameters / 1e3)}k`;
  return `${m.src_lang} → ${m.tgt_lang} · encoder ${enc} · decoder ${dec} · ${a.attention} attention · ` +
    `vocab ${m.src_vocab_size}/${m.tgt_vocab_size} · ${params} parameters · ${m.device}`;
}

// The four largest of [label, weight] pairs at or above HIGHLIGHT_MIN: "AI 0.70 · like 0.20".
export function topList(pairs) {
  return pairs.filter(([, w]) => w >= HIGHLIGHT_MIN).sort((a, b) => b[1] - a[1]).slice(0, 4)
    .map(([t, w]) => `${t} ${w.toFixed(2)}`).join(" · ");
}

// A map cell's accessible name: "like → AI: 0.41".
export function cellName(view, i, j) {
  return `${view.tgt[i].label} → ${view.src[j].label}: ${view.matrix[i][j].toFixed(2)}`;
}

// An example button's text (long ones cut, with the whole text as the title) and the input's
// placeholder for a model's examples.
export function exampleLabel(text) {
  return text.length > 40 ? { label: `${text.slice(0, 38)}…`, title: text } : { label: text, title: "" };
}

export function placeholderFor(examples) {
  return examples.length ? `Type or paste a sentence, e.g. ${examples[0]}` : "Type or paste a sentence";
}
