"""Forced decoding and the beam-search tree: scoring the search's own output gives the
search's own score; forced attention rows sum to 1; the tree holds the winning path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqattn.cli import main
from seqattn.errors import SeqattnError
from seqattn.search import length_penalty
from seqattn.translator import Translator
from tests.conftest import WORDS

PROPS = settings(max_examples=25, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SENTENCES = st.lists(st.sampled_from(WORDS), min_size=1, max_size=7).map(" ".join)


@pytest.fixture(scope="module")
def translator(trained_run) -> Translator:
    torch.set_num_threads(1)
    return Translator.load(trained_run, device="cpu")  # fp32: the reference numerics


@PROPS
@given(source=SENTENCES, beam=st.sampled_from([1, 5]), alpha=st.sampled_from([0.0, 1.0, 2.0]))
def test_scoring_the_search_output_gives_the_search_score(translator, source, beam, alpha):
    hyp = translator.translate([source], beam=beam, length_penalty=alpha)[0]
    if hyp.tgt_tokens[-1:] != ["</s>"] or not hyp.text.strip():
        return  # stopped by the length limit (no EOS to score), or an empty output
    forced = translator.score([source], [hyp.text], length_penalty_alpha=alpha)[0]
    assert forced.tgt_tokens == hyp.tgt_tokens
    # greedy reports the raw log-probability, beam search the length-normalised score
    expected = forced.logprob if beam == 1 else forced.score
    assert hyp.score == pytest.approx(expected, abs=1e-4)
    assert forced.score == pytest.approx(forced.logprob / length_penalty(len(forced.tgt_tokens), alpha))


@PROPS
@given(source=SENTENCES, target=SENTENCES.map(str.upper))
def test_forced_attention_rows_sum_to_one(translator, source, target):
    r = translator.score([source], [target])[0]
    assert r.attention.shape == (len(r.tgt_tokens), len(r.src_tokens))
    np.testing.assert_allclose(r.attention.sum(1), 1.0, atol=1e-5)
    assert all(lp <= 0 for lp in r.logprobs) and r.logprob == pytest.approx(sum(r.logprobs))


def test_batched_scores_equal_one_by_one(translator):
    sources = ["alpha beta", "gamma delta omega sigma kappa", "theta"]
    targets = ["BETA ALPHA", "KAPPA SIGMA OMEGA DELTA GAMMA", "ZETA ZETA"]
    together = translator.score(sources, targets)
    for s, t, r in zip(sources, targets, together):
        alone = translator.score([s], [t])[0]
        np.testing.assert_allclose(alone.logprobs, r.logprobs, atol=1e-5)


def test_the_tree_holds_the_winning_path(translator):
    t = translator.translate(["alpha beta gamma"], beam=5, tree=True)[0]
    nodes = {n.id: n for n in t.tree}
    assert {n.status for n in t.tree} <= {"kept", "finished", "pruned"}
    for step in {n.step for n in t.tree}:
        assert sum(n.status == "kept" for n in t.tree if n.step == step) <= 5
    # the best hypothesis is a finished node whose ancestors were all kept
    ids = translator.subwords.encode_tgt([t.text])[0] + [3]
    ends = [n for n in t.tree if n.status == "finished" and n.step == len(ids) - 1 and n.token == ids[-1]]
    chains = []
    for end in ends:
        chain, node = [], end
        while node is not None:
            chain.append(node)
            node = nodes.get(node.parent)
        chains.append(chain[::-1])
    best = [c for c in chains if [n.token for n in c] == ids]
    assert best and all(n.status == "kept" for n in best[0][:-1])
    final = best[0][-1]
    alpha = translator.cfg.decode.length_penalty
    assert final.score / length_penalty(len(ids), alpha) == pytest.approx(t.score, abs=1e-5)
    assert all(n.attention is not None and n.attention.shape == (len(t.src_tokens),) for n in t.tree)


def test_the_tree_of_beam_one_is_the_greedy_path(translator):
    greedy = translator.translate(["delta omega"], beam=1)[0]
    t = translator.translate(["delta omega"], beam=1, tree=True)[0]
    assert t.text == greedy.text
    kept = [n for n in t.tree if n.status in ("kept", "finished")]
    assert [translator.subwords.tgt_pieces([n.token])[0] for n in kept] == greedy.tgt_tokens


def test_score_refuses_what_it_cannot_score(translator):
    with pytest.raises(SeqattnError, match="target 1 is empty"):
        translator.score(["alpha"], [" "])
    with pytest.raises(SeqattnError, match="2 sources but 1 targets"):
        translator.score(["alpha", "beta"], ["ALPHA"])
    with pytest.raises(SeqattnError, match="lists of sources and targets"):
        translator.score("alpha", "ALPHA")


def test_score_command(trained_run, tmp_path, capsys):
    (tmp_path / "s.txt").write_text("alpha beta\ngamma\n")
    (tmp_path / "t.txt").write_text("BETA ALPHA\nGAMMA\n")
    assert main(["score", str(trained_run), "--src", str(tmp_path / "s.txt"), "--tgt",
                 str(tmp_path / "t.txt"), "--tokens", "--precision", "fp32"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    logprob, score, n, *tokens = lines[0].split("\t")
    assert float(logprob) <= 0 and int(n) == len(tokens) and tokens[-1].startswith("</s>=")
    (tmp_path / "e.txt").write_text("BETA\n\n")
    assert main(["score", str(trained_run), "--src", str(tmp_path / "s.txt"), "--tgt",
                 str(tmp_path / "e.txt")]) == 2
    assert "e.txt:2: empty target" in capsys.readouterr().err


def test_notebook_displays(translator):
    t = translator.translate(["alpha beta"], beam=3, n_best=2)[0]
    html = t._repr_html_()
    assert "alpha beta" in html and html.count("<tr>") == 3 and "data:image/png;base64," in html
    assert "log-probability" in translator.score(["alpha"], ["ALPHA"])[0]._repr_html_()
    from seqattn.explain import explain

    ex = explain(translator, "alpha beta")
    page = ex._repr_html_()
    assert "score(s_t, h_j)" in page and page.count("<tr>") == 1 + len(ex.steps)
