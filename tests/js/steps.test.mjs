// The stepper's positions (src/seqattn/serve/static/steps.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  STORY, lastPosition, moveFrom, phaseOf, storyPosition, whereText,
} from "../../src/seqattn/serve/static/steps.js";

test("seven story steps", () => {
  assert.equal(STORY.length, 7);
  assert.equal(STORY[3][0], "Weights");
});

test("position 0 is the encoder, then six positions per decoding step", () => {
  assert.deepEqual(phaseOf(0), { t: 0, k: 0 });
  assert.deepEqual(phaseOf(1), { t: 0, k: 1 });
  assert.deepEqual(phaseOf(6), { t: 0, k: 6 });
  assert.deepEqual(phaseOf(7), { t: 1, k: 1 });
  assert.deepEqual(phaseOf(18), { t: 2, k: 6 });
  assert.equal(lastPosition(3), 18);
});

test("a story step's button goes to that step of the current decoding step", () => {
  assert.equal(storyPosition(3, 8), 9); // in decoding step 2: its Weights
  assert.equal(storyPosition(1, 0), 1);
  assert.equal(storyPosition(0, 14), 0); // the encoder comes once
});

test("keys move within 0..last; other keys are not moves", () => {
  assert.equal(moveFrom(0, 18, "ArrowLeft"), 0);
  assert.equal(moveFrom(4, 18, "ArrowRight"), 5);
  assert.equal(moveFrom(5, 18, "PageDown"), 11);
  assert.equal(moveFrom(15, 18, "PageDown"), 18);
  assert.equal(moveFrom(3, 18, "PageUp"), 0);
  assert.equal(moveFrom(9, 18, "End"), 18);
  assert.equal(moveFrom(9, 18, "Home"), 0);
  assert.equal(moveFrom(9, 18, "a"), null);
  assert.equal(moveFrom(9, 18, "toString"), null);
});

test("where the stepper is, in words", () => {
  assert.equal(whereText(0, 3), "Before decoding · step 1 of 7: Encoder states");
  assert.equal(whereText(9, 3), "Decoding step 2 of 3 · step 4 of 7: Weights");
  assert.equal(whereText(18, 3), "Decoding step 3 of 3 · step 7 of 7: Next token");
});
