"""A forced prefix: outputs start with given tokens and search continues from there
(`search/prefix.py`, `translate(..., prefix=...)`, `--prefix`, the API's `prefix`)."""

from __future__ import annotations

import pytest
import torch

from seqattn.cli import main
from seqattn.data.subword import EOS_ID
from seqattn.errors import SeqattnError
from seqattn.search import BeamSearch, GreedySearch, forced_scores
from seqattn.translator import Translator

from .model.helpers import padded_batch, tiny_model

LENGTHS = (7, 4, 1, 6, 3)


@pytest.mark.parametrize("attention,feed", [("general", False), ("additive", True), ("none", False)])
def test_the_models_own_greedy_start_changes_nothing(attention, feed):
    model = tiny_model(attention=attention, input_feeding=feed, seed=4)
    src, lengths = padded_batch(lengths=LENGTHS)
    free = GreedySearch(max_len_a=1.0, max_len_b=5).run(model, src, lengths)
    for cut in (1, 3):
        starts = [h.tokens[: min(cut, len(h.tokens) - 1)] for h in free]  # (never EOS)
        forced = GreedySearch(max_len_a=1.0, max_len_b=5).run(model, src, lengths, starts)
        assert [h.tokens for h in forced] == [h.tokens for h in free]
        assert [h.score for h in forced] == pytest.approx([h.score for h in free], abs=1e-5)


@pytest.mark.parametrize("search", [GreedySearch(max_len_a=1.0, max_len_b=6),
                                    BeamSearch(beam=3, n_best=2, max_len_a=1.0, max_len_b=6)])
def test_outputs_start_with_the_prefix_and_batched_equals_one_by_one(search):
    model = tiny_model(attention="general", seed=6)
    src, lengths = padded_batch(lengths=LENGTHS)
    prefixes = [[5, 6], [], [7], [8, 8, 8], [9]]
    batched = search.run(model, src, lengths, prefixes)
    for row, found in enumerate(batched):
        n = int(lengths[row])
        alone = search.run(model, src[row : row + 1, :n], lengths[row : row + 1], [prefixes[row]])[0]
        hyps, alone = (found, alone) if isinstance(found, list) else ([found], [alone])
        assert [h.tokens for h in hyps] == [h.tokens for h in alone]
        assert [h.score for h in hyps] == pytest.approx([h.score for h in alone], abs=1e-4)
        for h in hyps:
            assert h.tokens[: len(prefixes[row])] == prefixes[row]
    if isinstance(search, GreedySearch):  # the prefix's log-probabilities count in the score
        body = [h.tokens[:-1] if h.tokens[-1] == EOS_ID else h.tokens for h in batched]
        for h, f in zip(batched, forced_scores(model, src, lengths, body)):
            assert h.score == pytest.approx(sum(f.logprobs[: len(h.tokens)]), abs=1e-4)


@pytest.fixture(scope="module")
def translator(trained_run):
    return Translator.load(trained_run, device="cpu")


def test_translate_continues_a_prefix(translator):
    sources = ["alpha beta gamma", "delta omega", "kappa"]
    free = translator.translate(sources, beam=1)
    for r in free:  # the model's own first word, as text: the output is unchanged
        pieces = [p for p in r.tgt_tokens if p != "</s>"]
        start = translator.subwords.tgt.decode(translator.subwords.tgt.encode([r.text])[0][:1])
        same = translator.translate([r.source], beam=1, prefix=start)[0]
        assert same.text == r.text and same.score == pytest.approx(r.score, abs=1e-5), (pieces, start)
    forced = translator.translate(sources, beam=3, n_best=2, prefix=["ZETA", "", "OMEGA SIGMA"])
    assert forced[0].text.startswith("ZETA") and forced[2].text.startswith("OMEGA SIGMA")
    assert all(h.text.startswith("ZETA") for h in forced[0].hypotheses)
    one_by_one = [translator.translate([s], beam=3, n_best=2, prefix=p)[0]
                  for s, p in zip(sources, ["ZETA", "", "OMEGA SIGMA"])]
    texts = [[h.text for h in r.hypotheses] for r in forced]
    assert texts == [[h.text for h in r.hypotheses] for r in one_by_one]


def test_bad_prefixes_are_refused_in_one_line(translator):
    with pytest.raises(SeqattnError, match=r"^prefix 1 is \d+ subwords, but the output for its source ends"):
        translator.translate(["alpha"], prefix="ALPHA " * 40)
    with pytest.raises(SeqattnError, match=r"^prefix 2 \('漢字 ☃'\) is made only of tokens outside the"):
        translator.translate(["alpha", "beta"], prefix=["ALPHA", "漢字 ☃"])
    with pytest.raises(SeqattnError, match="^1 prefixes for 2 texts: give one per text, or one string for"):
        translator.translate(["alpha", "beta"], prefix=["ALPHA"])


def test_the_prefix_flags(trained_run, tmp_path, capsys):
    src, pre = tmp_path / "in.txt", tmp_path / "prefixes.txt"
    src.write_text("alpha beta\nkappa\n", encoding="utf-8")
    pre.write_text("ZETA\n\n", encoding="utf-8")
    assert main(["translate", str(trained_run), "--input", str(src), "--prefix-file", str(pre), "--beam", "2",
                 "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = Translator.load(trained_run, device="cpu").translate(["alpha beta", "kappa"], beam=2,
                                                                    prefix=["ZETA", ""])
    assert lines == [t.text for t in expected] and lines[0].startswith("ZETA")
    assert main(["translate", str(trained_run), "--input", str(src), "--prefix", "OMEGA",
                 "--device", "cpu"]) == 0
    assert all(line.startswith("OMEGA") for line in capsys.readouterr().out.splitlines())
    pre.write_text("ZETA\n", encoding="utf-8")
    assert main(["translate", str(trained_run), "--input", str(src), "--prefix-file", str(pre)]) == 2
    err = capsys.readouterr().err
    assert "prefixes.txt has 1 lines but the input has 2: they must be line-aligned" in err


def test_the_api_takes_a_prefix(translator):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from seqattn.serve.app import create_app

    with TestClient(create_app({"tiny": translator})) as client:
        body = client.post("/v1/translate", json={"texts": ["alpha beta", "kappa"], "beam": 2,
                                                  "prefix": ["ZETA", ""]}).json()
        expected = translator.translate(["alpha beta", "kappa"], beam=2, prefix=["ZETA", ""])
        assert [r["hypotheses"][0]["text"] for r in body["results"]] == [t.text for t in expected]
        one = client.post("/v1/translate", json={"texts": ["kappa"], "prefix": "OMEGA"}).json()
        assert one["results"][0]["hypotheses"][0]["text"].startswith("OMEGA")
        bad = client.post("/v1/translate", json={"texts": ["a", "b"], "prefix": ["x"]})
        assert bad.status_code == 422 and bad.json()["detail"].startswith("1 prefixes for 2 texts")
    assert torch.get_num_threads() >= 1
