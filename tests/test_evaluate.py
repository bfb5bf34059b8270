"""Scoring a split: one rule for `seqattn evaluate` and training's validation and test scores."""

from __future__ import annotations

from types import SimpleNamespace

from seqattn.evaluate import evaluate_files, score_split
from seqattn.translator import Translator


class Upper:
    """A translator stand-in: each output is its source in capitals; it records what it decoded."""

    def __init__(self):
        self.decoded: list[list[str]] = []

    def translate(self, texts, beam=None, n_best=1):
        self.decoded.append(list(texts))
        return [SimpleNamespace(text=t.upper()) for t in texts]


def test_grouped_lines_are_one_source_decoded_once_against_all_their_references():
    translator = Upper()
    scores, decoded = score_split(translator, ["b", "a", "b"], ["B", "X", "Q"], ["wer"], group=True)
    assert translator.decoded == [["b", "a"]]  # each distinct source once, in order of first appearance
    assert decoded.sources == ["b", "a"] and decoded.references == [["B", "Q"], ["X"]]
    assert decoded.outputs == ["B", "A"]
    assert scores.values["wer"] == 50.0 and (scores.sentences, scores.unit) == (2, "sources")


def test_ungrouped_every_line_is_a_source_with_its_reference():
    translator = Upper()
    scores, decoded = score_split(translator, ["b", "a", "b"], ["B", "X", "Q"], ["wer"], beam=2)
    assert translator.decoded == [["b", "a", "b"]]
    assert decoded.references == [["B"], ["X"], ["Q"]]
    assert scores.values["wer"] == 200 / 3 and (scores.sentences, scores.unit) == (3, "sentences")


def test_evaluate_with_grouping_still_writes_one_output_per_line(trained_run, tmp_path):
    translator = Translator.load(trained_run, device="cpu")
    src, ref = tmp_path / "src.txt", tmp_path / "ref.txt"
    src.write_text("alpha beta\ngamma\nalpha beta\n")
    ref.write_text("BETA ALPHA\nGAMMA\nALPHA BETA\n")
    grouped, outputs = evaluate_files(translator, str(src), str(ref), beam=1, metrics=["wer"], group=True)
    assert len(outputs) == 3 and outputs[0] == outputs[2]
    assert (grouped.sentences, grouped.unit) == (2, "sources")
    plain, lines = evaluate_files(translator, str(src), str(ref), beam=1, metrics=["wer"], group=False)
    assert lines == outputs and plain.sentences == 3
    assert grouped.ppl == plain.ppl  # perplexity is over every line either way
