// Word/subword grouping of the page (src/seqattn/serve/static/tokens.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { pieceLabels, shortLabel, units, viewOf } from "../../src/seqattn/serve/static/tokens.js";

const close = (actual, expected) => {
  assert.equal(actual.length, expected.length);
  actual.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - expected[i][j]) < 1e-12, `${i},${j}: ${v}`)));
};

test("two subwords ▁Ze it make one word; the next ▁ starts another", () => {
  const words = units(["▁Ze", "it", "▁ist"], true);
  assert.deepEqual(words.map((u) => u.label), ["Zeit", "ist"]);
  assert.deepEqual(words.map((u) => u.shown), ["Zeit", "ist"]);
  assert.deepEqual(words.map((u) => u.pieces), [[0, 1], [2]]);
  assert.deepEqual(words.map((u) => u.cont), [false, false]);
});

test("as pieces, a continuing piece is marked with · and never shows ▁", () => {
  const pieces = units(["▁Ze", "it", "▁ist"], false);
  assert.deepEqual(pieces.map((u) => u.shown), ["Ze", "·it", "ist"]);
  assert.deepEqual(pieces.map((u) => u.label), ["Ze", "it", "ist"]);
  assert.deepEqual(pieces.map((u) => u.cont), [false, true, false]);
  assert.deepEqual(pieceLabels(["▁I", "▁li", "ke"]), ["I", "li", "·ke"]);
});

test("special tokens stand alone and a piece after one starts a word", () => {
  assert.deepEqual(units(["▁a", "<unk>", "b", "c", "</s>"], true).map((u) => u.label), ["a", "<unk>", "bc", "</s>"]);
});

test("a vocabulary without ▁ (characters) is never joined", () => {
  const u = units(["a", "b", "c"], true);
  assert.deepEqual(u.map((x) => x.label), ["a", "b", "c"]);
  assert.deepEqual(u.map((x) => x.cont), [false, false, false]);
});

test("a lone word-start piece is shown as ␣", () => {
  assert.deepEqual(units(["▁", "▁x"], true).map((u) => u.shown), ["␣", "x"]);
});

test("a word's column sums its pieces' weights", () => {
  // source ▁Ze it ▁ist -> words Zeit, ist; two one-piece output words
  const view = viewOf(["▁Ze", "it", "▁ist"], ["▁time", "▁is"], [[0.5, 0.3, 0.2], [0.125, 0.125, 0.75]], true);
  assert.deepEqual(view.src.map((u) => u.label), ["Zeit", "ist"]);
  close(view.matrix, [[0.8, 0.2], [0.25, 0.75]]);
});

test("a word's row averages its pieces' rows, so rows still sum to 1", () => {
  const view = viewOf(["▁a", "▁b"], ["▁Ze", "it"], [[1, 0], [0.5, 0.5]], true);
  assert.deepEqual(view.tgt.map((u) => u.label), ["Zeit"]);
  close(view.matrix, [[0.75, 0.25]]);
});

test("as pieces the matrix is unchanged; no matrix stays null", () => {
  const m = [[0.5, 0.3, 0.2]];
  close(viewOf(["▁Ze", "it", "▁ist"], ["▁x"], m, false).matrix, m);
  assert.equal(viewOf(["▁a"], ["▁b"], null, true).matrix, null);
});

test("shortLabel cuts past 11 characters to 10 and …", () => {
  assert.equal(shortLabel("abcdefghijk"), "abcdefghijk");
  assert.equal(shortLabel("abcdefghijkl"), "abcdefghij…");
});
