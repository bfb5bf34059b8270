// "Why not this?" in words (src/seqattn/serve/static/divergence.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { firstDifference, rowMark, summaryParts } from "../../src/seqattn/serve/static/divergence.js";

test("where two token lists first differ", () => {
  assert.equal(firstDifference(["a", "b"], ["a", "c"]), 1);
  assert.equal(firstDifference(["a"], ["a", "b"]), 1);
  assert.equal(firstDifference(["a", "b"], ["a", "b"]), -1);
  assert.equal(firstDifference([], []), -1);
});

test("rows are marked where the tokens differ, the first one named", () => {
  const a = ["x", "y", "z"];
  const b = ["x", "q", "r"];
  assert.deepEqual([0, 1, 2].map((i) => rowMark(a, b, i, 1)), ["", "≠ first difference", "≠"]);
});

const mine = { target: "I like AI.", tgt_tokens: ["▁I", "▁like", "▁AI"], logprob: -1, score: -0.5 };
const theirs = {
  target: "I love AI.", tgt_tokens: ["▁I", "▁love", "▁AI"], logprob: -3, score: -1.5,
  logprobs: [-0.1, -2.5, -0.4], unknown: 0,
};

test("the summary says how much less likely the typed output is and where they part", () => {
  const text = summaryParts(mine, theirs, ["I", "like", "AI"], ["I", "love", "AI"]).join("");
  assert.equal(text, "The model's own output “I like AI.” has log-probability −1.000 (score −0.500); " +
    "yours, “I love AI.”, −3.000 (score −1.500). The model finds yours e^2.00 ≈ 7.39× less likely. " +
    "They part at token 2: the model wrote “like”, yours has “love” (log p −2.500).");
});

test("the same tokens; a more probable typed output; the model's own output empty", () => {
  const same = summaryParts(mine, { ...theirs, tgt_tokens: mine.tgt_tokens, logprob: -1 }, [], []).join("");
  assert.ok(same.endsWith("They are the same tokens."), same);
  const better = summaryParts(mine, { ...theirs, logprob: -0.5 }, ["I", "like", "AI"], ["I", "love", "AI"]).join("");
  assert.ok(better.includes("Yours is the more probable one: beam search did not find it. They part at token 2"), better);
  assert.deepEqual(summaryParts(null, { ...theirs, unknown: 2 }, [], []), [
    "“I love AI.”: log-probability −3.000 (score −1.500).",
    " 2 token(s) are outside the model's vocabulary (read as <unk>).",
  ]);
});

test("when the model's output is shorter, it ended where the typed one goes on", () => {
  const short = { ...mine, tgt_tokens: ["▁I"] };
  const text = summaryParts(short, theirs, ["I"], ["I", "love", "AI"]).join("");
  assert.ok(text.endsWith("They part at token 2: the model ended, yours has “love” (log p −2.500)."), text);
});
