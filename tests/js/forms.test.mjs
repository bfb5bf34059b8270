// The controls' logic (src/seqattn/serve/static/forms.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  BEAMS, beamValues, firstLine, nbestChoice, readTexts, treeBeam,
} from "../../src/seqattn/serve/static/forms.js";

test("a model's default beam is offered even when it is not a usual one", () => {
  assert.deepEqual(beamValues(5), BEAMS);
  assert.deepEqual(beamValues(7), [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16]);
  assert.equal(BEAMS.length, 10); // not changed in place
});

test("n-best offers 1..5 up to the beam and keeps the choice where it fits", () => {
  assert.deepEqual(nbestChoice("3", "5"), { values: [1, 2, 3], value: 3 });
  assert.deepEqual(nbestChoice("10", "2"), { values: [1, 2, 3, 4, 5], value: 2 });
  assert.deepEqual(nbestChoice("1", ""), { values: [1], value: 1 });
  assert.deepEqual(nbestChoice("", "4"), { values: [1], value: 1 });
});

test("the beam tree starts at the result's beam within 2..8, else 5", () => {
  assert.equal(treeBeam(3), 3);
  assert.equal(treeBeam(1), 2);
  assert.equal(treeBeam(12), 8);
  assert.equal(treeBeam(7), 5); // not offered
  assert.equal(treeBeam(undefined), 5);
});

test("the input's non-empty lines, trimmed", () => {
  const limits = { max_texts: 3, max_chars: 4 };
  assert.deepEqual(readTexts("  ab \n\n cd\r\n", limits), { texts: ["ab", "cd"] });
  assert.deepEqual(readTexts(" \n ", limits), { error: "Type a sentence first (or click an example)." });
  assert.deepEqual(readTexts("a\nb\nc\nd", limits), { error: "Too many lines: 4 (at most 3 at once)." });
  assert.deepEqual(readTexts("ok\nabcde", limits), { error: "Line 2 has 5 characters (at most 4); split it." });
});

test("the first non-empty line", () => {
  assert.equal(firstLine("\n  \n hi \nthere"), "hi");
  assert.equal(firstLine(""), undefined);
});
