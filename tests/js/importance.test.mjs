// Attributions in numbers and words (src/seqattn/serve/static/importance.js), their diverging
// colours (colour.js) and the word roll-up of their rows (tokens.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { DIVERGING, divergingColour, luminance } from "../../src/seqattn/serve/static/colour.js";
import {
  agreementText, cellText, rowScales, signed, signedTop, topAgreement, topIndex,
} from "../../src/seqattn/serve/static/importance.js";
import { viewOf } from "../../src/seqattn/serve/static/tokens.js";

test("each row is scaled by its largest |score|; a row of zeros by 1", () => {
  assert.deepEqual(rowScales([[0.5, -2, 1], [0, 0, 0], [0.25, null, 0.1]]), [2, 1, 0.25]);
});

test("signed values carry a true minus or a plus", () => {
  assert.equal(signed(0.7123), "+0.712");
  assert.equal(signed(-1.25), "−1.250");
  assert.equal(signed(-0.00314), "−0.0031");
  assert.equal(signed(0), "0");
  assert.equal(signed(null), "n/a");
  assert.deepEqual([0.456, -0.5, 0.0004, 0].map(cellText), ["0.46", "−0.50", "4e−4", "0"]);
});

test("the readout lists the four largest |scores|, zeros left out", () => {
  const pairs = [["a", 0.1], ["b", -0.9], ["c", 0], ["d", 0.3], ["e", -0.2], ["f", 0.05]];
  assert.equal(signedTop(pairs), "b −0.900 · d +0.300 · e −0.200 · a +0.100");
  assert.equal(signedTop([["x", 0]]), "");
});

test("attention and a method agree where their largest |score| is the same column", () => {
  assert.equal(topIndex([0.1, -0.8, 0.5]), 1);
  assert.equal(topIndex([0, 0]), -1);
  const attention = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]];
  const scores = [[2, -1, 0], [0.5, 0, -0.9], [0, 0, 0]];
  const found = topAgreement(attention, scores);
  assert.deepEqual(found, { agree: 1, rows: 2, same: [true, false, null] });
  assert.equal(agreementText("integrated_gradients", found, "word"),
    "Attention and integrated gradients pick the same most important source word for 1 of 2 output words.");
  assert.equal(agreementText("occlusion", { agree: 0, rows: 0 }), "Every row of occlusion is 0: nothing to compare.");
});

test("the diverging scale: white at 0, darker both ways, clamped to -1..1", () => {
  assert.deepEqual(divergingColour(0), [248, 250, 252]);
  assert.deepEqual(divergingColour(1), DIVERGING[DIVERGING.length - 1][1]);
  assert.deepEqual(divergingColour(-1), DIVERGING[0][1]);
  assert.deepEqual(divergingColour(-5), divergingColour(-1));
  assert.deepEqual(divergingColour(Number.NaN), divergingColour(0));
  for (const side of [1, -1]) {
    const lum = [0, 0.25, 0.5, 0.75, 1].map((x) => luminance(divergingColour(side * x)));
    assert.deepEqual(lum, [...lum].sort((a, b) => b - a), `darker with |x| (${side})`);
  }
  assert.notDeepEqual(divergingColour(0.5), divergingColour(-0.5));
});

test("an attribution's word row sums its pieces' rows; attention's averages them", () => {
  const m = [[1, 2], [3, -4]];
  assert.deepEqual(viewOf(["▁a", "▁b"], ["▁Ze", "it"], m, true, "sum").matrix, [[4, -2]]);
  assert.deepEqual(viewOf(["▁a", "▁b"], ["▁Ze", "it"], m, true).matrix, [[2, -1]]);
  assert.deepEqual(viewOf(["▁a", "▁b"], ["▁Ze", "it"], m, false, "sum").matrix, m);
});
