// Arrow-key moves in the attention map and its strips (src/seqattn/serve/static/keys.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { nextCell, nextInStrip } from "../../src/seqattn/serve/static/keys.js";

const last = { i: 2, j: 3 };

test("arrows step one cell and stop at the map's edges", () => {
  assert.deepEqual(nextCell(1, 1, last, "ArrowRight"), { i: 1, j: 2 });
  assert.deepEqual(nextCell(1, 3, last, "ArrowRight"), { i: 1, j: 3 });
  assert.deepEqual(nextCell(1, 0, last, "ArrowLeft"), { i: 1, j: 0 });
  assert.deepEqual(nextCell(2, 1, last, "ArrowDown"), { i: 2, j: 1 });
  assert.deepEqual(nextCell(1, 1, last, "ArrowUp"), { i: 0, j: 1 });
});

test("Home and End go to the row's ends; other keys are not moves", () => {
  assert.deepEqual(nextCell(1, 2, last, "Home"), { i: 1, j: 0 });
  assert.deepEqual(nextCell(1, 0, last, "End"), { i: 1, j: 3 });
  assert.equal(nextCell(1, 1, last, "Enter"), null);
});

test("in a strip, Right/Down go forward, Left/Up back, within the ends", () => {
  assert.equal(nextInStrip(0, 4, "ArrowRight"), 1);
  assert.equal(nextInStrip(3, 4, "ArrowDown"), 3);
  assert.equal(nextInStrip(0, 4, "ArrowUp"), 0);
  assert.equal(nextInStrip(2, 4, "ArrowLeft"), 1);
  assert.equal(nextInStrip(2, 4, "Home"), 0);
  assert.equal(nextInStrip(0, 4, "End"), 3);
  assert.equal(nextInStrip(1, 4, "a"), null);
});
