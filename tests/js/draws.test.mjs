// Samples in numbers (src/seqattn/serve/static/draws.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { MAX_SEED, parseSeed, randomSeed, sampleRows, samplesSummary } from "../../src/seqattn/serve/static/draws.js";

test("seeds are 32-bit whole numbers", () => {
  assert.equal(randomSeed(() => 0), 0);
  assert.equal(randomSeed(() => 0.999999999999), MAX_SEED);
  assert.deepEqual(parseSeed(" 42 "), { seed: 42 });
  assert.deepEqual(parseSeed(String(MAX_SEED)), { seed: MAX_SEED });
  for (const bad of ["", "-1", "1.5", "abc", String(MAX_SEED + 1)]) {
    assert.match(parseSeed(bad).error, /whole number from 0 to 4294967295/, bad);
  }
});

const beam = { text: "I like AI.", logprob: -1.25 };
const samples = [{ text: "I like AI.", score: -1.25 }, { text: "I like you.", score: -3 },
  { text: "I like you.", score: -3 }, { text: "Me.", score: -7.5 }];

test("the beam's output comes first, then each sample, repeats marked", () => {
  const rows = sampleRows(beam, samples);
  assert.deepEqual(rows.map((r) => [r.kind, r.n, r.logprob, r.note]), [
    ["beam", undefined, -1.25, ""], ["sample", 1, -1.25, "= the beam's output"], ["sample", 2, -3, ""],
    ["sample", 3, -3, "= sample 2"], ["sample", 4, -7.5, ""]]);
  assert.equal(sampleRows(null, samples)[0].kind, "sample");
});

test("the summary counts different outputs and the beam's among them", () => {
  assert.equal(samplesSummary(beam, samples), "3 different outputs among 4 samples; 1 is the beam's output.");
  assert.equal(samplesSummary({ text: "x", logprob: 0 }, samples.slice(1, 3)),
    "1 different output among 2 samples; none is the beam's output.");
  assert.equal(samplesSummary(null, samples), "3 different outputs among 4 samples.");
});
