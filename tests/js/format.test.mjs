// Text the page writes (src/seqattn/serve/static/format.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  cellName, describeModel, exampleLabel, fmt, num, placeholderFor, topList,
} from "../../src/seqattn/serve/static/format.js";

test("scores have three decimals; a missing one is n/a", () => {
  assert.equal(fmt(-1.23456), "-1.235");
  assert.equal(fmt(0), "0.000");
  assert.equal(fmt(null), "n/a");
  assert.equal(fmt(undefined), "n/a");
});

test("signed numbers carry + or a true minus sign", () => {
  assert.equal(num(-1.25), "\u22121.250");
  assert.equal(num(0.5), "+0.500");
  assert.equal(num(0), "+0.000");
  assert.equal(num(2, 1), "+2.0");
  assert.equal(num(null), "n/a");
});

test("a model's description", () => {
  const m = {
    src_lang: "ko", tgt_lang: "en", src_vocab_size: 8000, tgt_vocab_size: 6000, device: "cpu",
    architecture: {
      encoder: { bidirectional: true, rnn: "lstm", hidden_size: 256, layers: 2 },
      decoder: { rnn: "gru", hidden_size: 512, layers: 1, input_feeding: true },
      attention: "general", parameters: 12_345_678,
    },
  };
  assert.equal(describeModel(m), "ko → en · encoder bi-LSTM 256×2 · decoder GRU 512×1 + input feeding · " +
    "general attention · vocab 8000/6000 · 12.3M parameters · cpu");
  m.architecture.parameters = 45_600;
  m.architecture.encoder.bidirectional = false;
  m.architecture.decoder.input_feeding = false;
  assert.equal(describeModel(m), "ko → en · encoder LSTM 256×2 · decoder GRU 512×1 · " +
    "general attention · vocab 8000/6000 · 46k parameters · cpu");
});

test("the readout lists the four largest weights at or above 0.02", () => {
  const pairs = [["a", 0.01], ["b", 0.5], ["c", 0.2], ["d", 0.1], ["e", 0.05], ["f", 0.3]];
  assert.equal(topList(pairs), "b 0.50 · f 0.30 · c 0.20 · d 0.10");
  assert.equal(topList([["x", 0.019]]), "");
  assert.equal(topList([["x", 0.02]]), "x 0.02");
});

test("a cell's name: output → source: weight", () => {
  const view = { tgt: [{ label: "like" }], src: [{ label: "I" }, { label: "AI" }], matrix: [[0.59, 0.406]] };
  assert.equal(cellName(view, 0, 1), "like → AI: 0.41");
});

test("examples over 40 characters are cut to 38 and …, with the whole text as title", () => {
  const forty = "x".repeat(40);
  assert.deepEqual(exampleLabel(forty), { label: forty, title: "" });
  assert.deepEqual(exampleLabel(`${forty}y`), { label: `${"x".repeat(38)}…`, title: `${forty}y` });
  assert.equal(placeholderFor(["저는 AI를 좋아합니다", "b"]), "Type or paste a sentence, e.g. 저는 AI를 좋아합니다");
  assert.equal(placeholderFor([]), "Type or paste a sentence");
});
