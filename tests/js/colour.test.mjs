// The colour ramp of the attention map (src/seqattn/serve/static/colour.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { RAMP, luminance, rampColour, rampGradient, textColourOn } from "../../src/seqattn/serve/static/colour.js";

test("weight 0 is near-white, weight 1 deep blue", () => {
  assert.deepEqual(rampColour(0), [248, 250, 252]);
  assert.deepEqual(rampColour(1), [8, 48, 107]);
});

test("a stop's weight gives the stop's colour; between two stops, the mix", () => {
  assert.deepEqual(rampColour(0.3), [116, 185, 219]);
  assert.deepEqual(rampColour(0.025), [236, 243, 248]); // halfway from 0 to 0.05
});

test("out of range and not-a-number weights are clamped (NaN counts as 0)", () => {
  assert.deepEqual(rampColour(-2), rampColour(0));
  assert.deepEqual(rampColour(7), rampColour(1));
  assert.deepEqual(rampColour(Number.NaN), rampColour(0));
  assert.deepEqual(rampColour("0.3"), [116, 185, 219]);
});

test("more weight is darker, and 0.4 contrasts with white at least 2.5:1", () => {
  const lum = [0, 0.1, 0.2, 0.4, 0.6, 0.8, 1].map((w) => luminance(rampColour(w)));
  assert.deepEqual(lum, [...lum].sort((a, b) => b - a));
  assert.ok(lum[0] > 0.9);
  assert.ok(1.05 / (luminance(rampColour(0.4)) + 0.05) >= 2.5);
});

test("luminance of white is 1 and of black 0", () => {
  assert.equal(luminance([255, 255, 255]), 1);
  assert.equal(luminance([0, 0, 0]), 0);
});

test("text is black on light cells and white on dark ones", () => {
  assert.equal(textColourOn(rampColour(0)), "#000");
  assert.equal(textColourOn(rampColour(1)), "#fff");
  assert.equal(textColourOn([0, 0, 0]), "#fff");
});

test("the returned colour is a copy: changing it leaves the ramp alone", () => {
  rampColour(1)[0] = 255;
  assert.deepEqual(RAMP[RAMP.length - 1][1], [8, 48, 107]);
});

test("the legend's gradient runs through every stop", () => {
  const g = rampGradient();
  assert.ok(g.startsWith("linear-gradient(to right, rgb(248 250 252) 0%, rgb(224 236 244) 5%,"), g);
  assert.ok(g.endsWith("rgb(8 48 107) 100%)"), g);
  assert.equal(g.split("rgb(").length - 1, RAMP.length);
});
