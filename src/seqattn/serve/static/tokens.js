// Tokens as the page shows them: SentencePiece pieces rolled up into whole words, or single
// pieces, never with a raw "▁". Pure (no DOM): Node's test runner imports it (tests/js/).

export const SP = "\u2581"; // SentencePiece's word-start marker
export const isSpecial = (t) => /^<[^<>\s]+>$/.test(t);

// Units of a token sequence: whole words (pieces joined at SP) or single pieces.
// Each unit: { label, shown, pieces: [indices], cont: piece continues a word }.
export function units(tokens, words) {
  const marked = tokens.some((t) => t.startsWith(SP)); // char or symbol vocabularies have no SP
  const out = [];
  tokens.forEach((t, k) => {
    const prev = out[out.length - 1];
    const starts = !marked || isSpecial(t) || t.startsWith(SP) || !prev || isSpecial(tokens[k - 1]);
    const text = t.split(SP).join(" ").trim();
    if (words && !starts) {
      prev.pieces.push(k);
      prev.label += text;
      return;
    }
    out.push({ label: text, pieces: [k], cont: !starts });
  });
  out.forEach((u) => {
    if (!u.label) u.label = "␣"; // a lone word-start piece
    u.shown = !words && u.cont ? `·${u.label}` : u.label;
  });
  return out;
}

// The map for the chosen units: a word's column sums its pieces' weights, a word's row
// averages its pieces' rows, so every row still sums to 1; with `rows` "sum" (attributions:
// the pieces' log-probabilities add up to the word's), a word's row sums its pieces' rows.
export function viewOf(src, tgt, matrix, words, rows = "mean") {
  const s = units(src, words);
  const t = units(tgt, words);
  const m = matrix && t.map((row) => s.map((col) => {
    let total = 0;
    row.pieces.forEach((i) => col.pieces.forEach((j) => { total += matrix[i][j]; }));
    return rows === "sum" ? total : total / row.pieces.length;
  }));
  return { src: s, tgt: t, matrix: m };
}

// Subword pieces shown without the raw "▁": a piece that continues a word gets a leading "·".
export function pieceLabels(tokens) {
  return units(tokens, false).map((u) => u.shown);
}

// A label cut to at most `max` characters, the cut marked with "…".
export function shortLabel(label, max = 11) {
  return label.length > max ? `${label.slice(0, max - 1)}…` : label;
}
