// "Continue from here" in words and rows: which tokens of a finished output were forced (the
// start the user typed) and which the model chose, with their log-probabilities. Pure (no
// DOM; tests/js/); continuation.js draws it.

import { num } from "./format.js";
import { pieceLabels } from "./tokens.js";

// The forced start's tokens: /v1/score's reading of the typed start, without its "</s>".
export function prefixTokens(prefixScore) {
  const t = prefixScore.tgt_tokens;
  return t[t.length - 1] === "</s>" ? t.slice(0, -1) : t.slice();
}

// The rows of the finished output as /v1/score read it back (`scored`): one per token, its
// label, log-probability and whether it was forced. `same` is false when the read-back does
// not start with the forced tokens (a start cut inside a word is read back as other pieces).
export function continuationRows(forced, scored) {
  const labels = pieceLabels(scored.tgt_tokens);
  const same = forced.every((t, i) => scored.tgt_tokens[i] === t);
  const rows = scored.tgt_tokens.map((token, i) => ({
    index: i, token, label: labels[i], logprob: scored.logprobs[i], forced: i < forced.length,
  }));
  return { rows, same };
}

// The log-probabilities of the forced part and of the model's own continuation.
export function partSums(rows) {
  const sum = (xs) => xs.reduce((a, r) => a + r.logprob, 0);
  return { forced: sum(rows.filter((r) => r.forced)), own: sum(rows.filter((r) => !r.forced)) };
}

// The summary's sentence: how the model finished the typed start, and what each part cost.
export function continuationSummary(start, finished, rows, beam, same) {
  const { forced, own } = partSums(rows);
  const n = rows.filter((r) => r.forced).length;
  const search = beam > 1 ? `beam ${beam}` : "greedy search";
  const parts = [`Forced to start with “${start}”, the model (${search}) finishes it as “${finished}”. `,
    `The ${n} forced token${n === 1 ? " has" : "s have"} log-probability ${num(forced)}, `,
    `its own continuation ${num(own)} (total ${num(forced + own)}).`];
  if (!same) parts.push(" Read back, the output splits into other pieces than the forced ones; the rows show that reading.");
  return parts;
}
