// "Continue from here" in words and rows (src/seqattn/serve/static/prefix.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { continuationRows, continuationSummary, partSums, prefixTokens } from "../../src/seqattn/serve/static/prefix.js";

const scored = { tgt_tokens: ["▁I", "▁like", "▁AI", ".", "</s>"], logprobs: [-0.5, -1.5, -0.25, -0.125, -0.125] };

test("the typed start's tokens are its score's tokens without </s>", () => {
  assert.deepEqual(prefixTokens({ tgt_tokens: ["▁I", "▁like", "</s>"] }), ["▁I", "▁like"]);
  assert.deepEqual(prefixTokens({ tgt_tokens: ["▁I"] }), ["▁I"]);
});

test("rows mark the forced start and keep each token's log-probability", () => {
  const { rows, same } = continuationRows(["▁I", "▁like"], scored);
  assert.equal(same, true);
  assert.deepEqual(rows.map((r) => r.forced), [true, true, false, false, false]);
  assert.deepEqual(rows.map((r) => r.label), ["I", "like", "AI", "·.", "</s>"]);
  assert.deepEqual(rows.map((r) => r.logprob), scored.logprobs);
  assert.deepEqual(partSums(rows), { forced: -2, own: -0.5 });
});

test("a start read back as other pieces is flagged", () => {
  const { rows, same } = continuationRows(["▁I", "▁li"], scored);
  assert.equal(same, false);
  assert.equal(rows.filter((r) => r.forced).length, 2);
  const text = continuationSummary("I li", "I like AI.", rows, 1, same).join("");
  assert.match(text, /splits into other pieces/);
});

test("the summary names the search and both parts' log-probabilities", () => {
  const { rows, same } = continuationRows(["▁I", "▁like"], scored);
  assert.equal(continuationSummary("I like", "I like AI.", rows, 5, same).join(""),
    "Forced to start with “I like”, the model (beam 5) finishes it as “I like AI.”. " +
    "The 2 forced tokens have log-probability −2.000, its own continuation −0.500 (total −2.500).");
  assert.match(continuationSummary("I", "I like AI.", continuationRows(["▁I"], scored).rows, 1, true).join(""),
    /\(greedy search\).*The 1 forced token has/);
});
