// The stepper's story and positions: position 0 is the encoder, then six positions per
// decoding step (query, scores, weights, attention value, combined state, next token).
// Pure (no DOM; tests/js/).

export const STORY = [
  ["Encoder states", "The encoder reads the source and gives each token a hidden state h_j (the keys)."],
  ["Query", "The decoder state s_t after reading the token fed in: the query for this step."],
  ["Scores", "s_t is scored against every h_j with the model's score function."],
  ["Weights", "A softmax turns the scores into weights α that sum to 1: one row of the attention map."],
  ["Attention value", "The weighted sum of the source states: a_t = Σ α_j h_j."],
  ["Combined state", "a_t and s_t are combined into the attentional state h̃_t = tanh(W_c [s_t; a_t])."],
  ["Next token", "A linear layer and a softmax give the next token's distribution; greedy takes the most probable, which is fed in next."],
];

// The last position of a translation with T decoding steps.
export const lastPosition = (T) => 6 * T;

// Position p as { t: decoding step (0-based), k: story step (0..6) }.
export const phaseOf = (p) => (p === 0 ? { t: 0, k: 0 } : { t: Math.floor((p - 1) / 6), k: 1 + ((p - 1) % 6) });

// The position of story step k within the decoding step that position `pos` is in.
export function storyPosition(k, pos) {
  const { t } = phaseOf(pos);
  return k === 0 ? 0 : 1 + 6 * t + (k - 1);
}

// Where `key` moves from `pos` (arrows one position, Page Up/Down a decoding step, Home/End
// to the ends), kept within 0..last; null when `key` is not a move.
export function moveFrom(pos, last, key) {
  const moves = { ArrowRight: pos + 1, ArrowLeft: pos - 1, PageDown: pos + 6, PageUp: pos - 6, Home: 0, End: last };
  return Object.hasOwn(moves, key) ? Math.max(0, Math.min(last, moves[key])) : null;
}

// "Decoding step 2 of 5 · step 3 of 7: Scores" for position `pos` of T decoding steps.
export function whereText(pos, T) {
  const { t, k } = phaseOf(pos);
  return k === 0 ? `Before decoding · step 1 of 7: ${STORY[0][0]}`
    : `Decoding step ${t + 1} of ${T} · step ${k + 1} of 7: ${STORY[k][0]}`;
}
