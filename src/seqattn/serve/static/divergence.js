// "Why not this?" in words: where the model's output and the one typed part, and what their
// scores say. Pure (no DOM; tests/js/); whynot.js builds the table around it.

import { num } from "./format.js";

// The index of the first token where a and b differ (a shorter list differs where it ends);
// -1 when they are the same tokens.
export function firstDifference(a, b) {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i += 1) if (a[i] !== b[i]) return i;
  return -1;
}

// The mark in row i's last column: nothing where the tokens agree.
export function rowMark(a, b, i, first) {
  if (a[i] === b[i]) return "";
  return i === first ? "≠ first difference" : "≠";
}

// The summary's sentences for /v1/score's answers on the model's own output (`mine`, null
// when it is empty) and the typed one (`theirs`); la, lb: their tokens' labels.
export function summaryParts(mine, theirs, la, lb) {
  const parts = [];
  if (mine) {
    const first = firstDifference(mine.tgt_tokens, theirs.tgt_tokens);
    const gap = mine.logprob - theirs.logprob;
    parts.push(`The model's own output “${mine.target}” has log-probability ${num(mine.logprob)} (score ${num(mine.score)}); `,
      `yours, “${theirs.target}”, ${num(theirs.logprob)} (score ${num(theirs.score)}). `,
      first < 0 ? "They are the same tokens."
        : gap > 0 ? `The model finds yours e^${gap.toFixed(2)} ≈ ${Math.exp(Math.min(gap, 700)).toPrecision(3)}× less likely. `
          : "Yours is the more probable one: beam search did not find it. ");
    if (first >= 0) {
      const said = la[first] === undefined ? "ended" : `wrote “${la[first]}”`;
      const yours = lb[first] === undefined ? "ends" : `has “${lb[first]}” (log p ${num(theirs.logprobs[first])})`;
      parts.push(`They part at token ${first + 1}: the model ${said}, yours ${yours}.`);
    }
  } else {
    parts.push(`“${theirs.target}”: log-probability ${num(theirs.logprob)} (score ${num(theirs.score)}).`);
  }
  if (theirs.unknown) parts.push(` ${theirs.unknown} token(s) are outside the model's vocabulary (read as <unk>).`);
  return parts;
}
