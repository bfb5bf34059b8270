"""Scores against hand-computed values: WER (whole sequence, several references), PER and CER
(edit distance to the closest reference), BLEU with several references as sacreBLEU."""

from __future__ import annotations

import pytest
from sacrebleu.metrics import BLEU

from seqattn.scoring import group_references, score_texts, signed


def test_wer_counts_whole_sequences_against_any_reference():
    hyps = ["N EY1 SH AH0 N", "T AH0 M EY1 T OW0", "K AE1 T"]
    refs = [["N EY1 SH AH0 N"], ["T AH0 M AA1 T OW0", "T AH0 M EY1 T OW0"], ["K AA1 T"]]
    assert score_texts(hyps, refs, ["wer"]).values["wer"] == pytest.approx(100 / 3)


def test_per_uses_the_closest_reference():
    # 1 substitution against a 3-symbol reference; 0 against the second word's 2nd reference;
    # the third: 'A B' vs 'A B C D' = 2 deletions
    hyps = ["K AE1 T", "T AH0 M EY1 T OW0", "A B"]
    refs = [["K AA1 T"], ["T AH0 M AA1 T OW0", "T AH0 M EY1 T OW0"], ["A B C D"]]
    assert score_texts(hyps, refs, ["per"]).values["per"] == pytest.approx(100 * 3 / (3 + 6 + 4))


def test_per_ties_take_the_shorter_reference():
    # 'A' is one edit from 'A B' (a deletion) and from 'B' (a substitution): the shorter counts
    assert score_texts(["A"], [["A B", "B"]], ["per"]).values["per"] == pytest.approx(100.0)


def test_cer_counts_characters():
    # 'kitten' -> 'sitting' is the classic 3 edits over 7 characters
    assert score_texts(["kitten"], ["sitting"], ["cer"]).values["cer"] == pytest.approx(300 / 7)


def test_bleu_with_several_references_is_sacrebleus():
    hyps = ["the cat sat on the mat", "a dog barks"]
    refs = [["the cat sat on a mat", "the cat is on the mat"], ["a dog is barking"]]
    expected = BLEU().corpus_score(hyps, [["the cat sat on a mat", "a dog is barking"],
                                          ["the cat is on the mat", None]]).score
    scores = score_texts(hyps, refs, ["bleu", "chrf"])
    assert scores.bleu == pytest.approx(expected)
    assert set(scores.signatures) == {"bleu", "chrf"} and scores.unit == "sources"


def test_group_references_keeps_first_appearance_order():
    sources, refs = group_references(["b", "a", "b", "c"], ["B1", "A", "B2", "C"])
    assert sources == ["b", "a", "c"] and refs == [["B1", "B2"], ["A"], ["C"]]


def test_error_rates_are_lower_is_better():
    assert signed("wer", 20.0) > signed("wer", 30.0)
    assert signed("bleu", 30.0) > signed("bleu", 20.0)


def test_unknown_metric_and_mismatch():
    with pytest.raises(ValueError, match="unknown metric"):
        score_texts(["a"], ["a"], ["ter"])
    with pytest.raises(ValueError, match="1 outputs but 2 references"):
        score_texts(["a"], ["a", "b"], ["wer"])
