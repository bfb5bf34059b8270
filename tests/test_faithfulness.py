"""The faithfulness study: its measures, its ground truths, its counterfactuals and its --quick run."""

import csv
import math
import random

import numpy as np
import pytest
import torch

from seqattn.cli import main
from seqattn.data.batching import make_batch
from seqattn.data.corpus import read_corpus
from seqattn.search import forced_scores
from seqattn.studies.alignment import (
    romanisation_alignment,
    romanisation_pairs,
    romanise_syllable,
    synthetic_alignment,
)
from seqattn.studies.counterfactual import (
    EPSILON,
    StepReplay,
    _outcome,
    adversarial_weights,
    counterfactuals,
    js_divergence,
)
from seqattn.studies.faithfulness import Measured
from seqattn.studies.faithfulness_report import _csv_rows, key_numbers
from seqattn.studies.measures import alignment_errors, kendall_tau_b, row_agreement
from seqattn.translator import Translator

# ----------------------------------------------------------------------------- measures


def test_kendall_tau_b_by_hand():
    assert kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)  # one of six pairs swapped
    assert kendall_tau_b([1, 2, 3], [3, 2, 1]) == -1.0
    # ties: pairs (1,2) tied in x and (2,3) tied in y; 4 concordant, 0 discordant -> 4 / sqrt(5 * 5)
    assert kendall_tau_b([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)
    assert math.isnan(kendall_tau_b([0.5, 0.5, 0.5], [1, 2, 3]))  # a constant row ranks nothing
    assert math.isnan(kendall_tau_b([1.0], [2.0]))


def test_kendall_tau_b_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n in (2, 5, 17):
        x, y = rng.integers(0, 4, n).astype(float), rng.normal(size=n)  # ties in x
        assert kendall_tau_b(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)


def test_agreement_ranks_by_magnitude_and_alignment_reads_the_arg_max():
    attention = np.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1]])
    signed = np.array([[-0.1, -0.9, 0.5], [0.3, -0.2, 0.1]])
    assert row_agreement(attention, signed) == [1.0, 1.0]
    assert alignment_errors(attention, [1, 0]) == (0, 2)
    assert alignment_errors(signed, [2, 0]) == (1, 2)  # |-0.9| is the largest of row 0
    assert alignment_errors(signed[:1], []) == (0, 0)


# ----------------------------------------------------------------------------- ground truths


def test_synthetic_alignments():
    assert synthetic_alignment("copy", 4) == [0, 1, 2, 3]
    assert synthetic_alignment("reverse", 4) == [3, 2, 1, 0]
    with pytest.raises(ValueError):
        synthetic_alignment("sort", 3)


def test_romanisation_alignment_by_hand():
    assert [romanise_syllable(c) for c in "한글좋아"] == ["han", "geul", "jot", "a"]
    assert romanisation_alignment("가게", "gage") == [0, 0, 1, 1]
    assert romanisation_alignment("학생", "haksaeng") == [0, 0, 0, 1, 1, 1, 1, 1]
    assert romanisation_alignment("생각은", "saenggageun") is None  # k carried over to the vowel: dropped
    assert romanisation_alignment("AI를", "AIreul") is None


def test_the_bundled_romanisation_pairs_kept_are_syllable_by_syllable():
    from seqattn.config import CorpusSpec

    text = read_corpus(CorpusSpec(tsv="builtin:korean-romanization", src_column=0, tgt_column=1))
    kept = romanisation_pairs(text.src, text.tgt)
    assert len(text.src) // 2 < len(kept) < len(text.src)  # most pairs, not all
    for word, romanised, truth in random.Random(0).sample(kept, 300):
        assert len(truth) == len(romanised) and sorted(truth) == truth and set(truth) == set(range(len(word)))
        for i, syllable in enumerate(word):
            assert "".join(romanised[k] for k, j in enumerate(truth) if j == i) == romanise_syllable(syllable)


# ----------------------------------------------------------------------------- counterfactuals


@pytest.fixture(scope="module")
def replay(trained_run):
    translator = Translator.load(trained_run, device="cpu", precision="fp32")
    sub = translator.subwords
    src = sub.encode_src(["alpha beta gamma delta"])[0]
    out = translator.translate(["alpha beta gamma delta"], beam=1)[0].text
    return translator.model, StepReplay(translator.model, src, sub.encode_tgt([out])[0]), src, out, sub


def test_the_replay_runs_the_forced_pass_and_the_original_weights_change_nothing(replay):
    model, r, src, out, sub = replay
    batch = make_batch([src], None, [0])
    forced = forced_scores(model, batch.src, batch.src_lengths, sub.encode_tgt([out]))[0]
    np.testing.assert_allclose(r.weights.numpy(), forced.attention, atol=1e-6)
    logps = torch.log_softmax(r.logits(r.weights[None])[0], -1).detach()
    np.testing.assert_allclose(logps.gather(1, r.forced[:, None])[:, 0].numpy(), forced.logprobs, atol=1e-5)
    same = r.weights.expand(3, -1, -1)
    assert torch.equal(r.logits(same), r.logits(same.clone()))
    token = r.logits(r.weights[None])[0].argmax(-1)
    with torch.no_grad():
        changed, drop, jsd = _outcome(r, same, token)
    assert torch.equal(changed, torch.zeros_like(changed)) and torch.equal(drop, torch.zeros_like(drop))
    assert torch.all(jsd.abs() < 1e-6)


def test_other_weights_change_the_output_and_the_adversary_keeps_it(replay):
    model, r, *_ = replay
    outcome = counterfactuals(r, torch.Generator().manual_seed(0))
    steps = r.weights.size(0)
    assert len(outcome.permutation_changed) == len(outcome.adversarial_jsd) == steps
    assert sum(outcome.uniform_drop) != 0.0 and sum(outcome.permutation_jsd) > 0.0
    assert all(0.0 <= j <= math.log(2) + 1e-6 for j in outcome.adversarial_jsd)
    base = r.logits(r.weights[None])[0]
    token = base.argmax(-1)
    p0 = torch.softmax(base, -1).gather(1, token[:, None])[:, 0]
    jsd, weights = adversarial_weights(r, token, p0, torch.Generator().manual_seed(1), steps=40)
    after = r.logits(weights[None])[0].detach()
    assert torch.equal(after.argmax(-1), token)  # every step keeps its output token...
    p = torch.softmax(after, -1).gather(1, token[:, None])[:, 0]
    assert torch.all((p - p0).abs() <= EPSILON + 1e-6)  # ... and its probability within EPSILON
    torch.testing.assert_close(js_divergence(weights, r.weights), jsd)
    assert all(p.grad is None for p in model.parameters())  # only the weights' logits were differentiated


# ----------------------------------------------------------------------------- the study


def test_each_arm_reports_its_greedy_accuracy_pooled_over_parts():
    first, second = Measured("copy", "dot"), Measured("copy", "dot")
    first.count_output([4, 5, 6], [4, 5, 6])  # right
    first.count_output([4, 9], [4, 5, 6])  # one of three symbols right (a short output)
    second.count_output([7, 8, 9, 10], [8, 9, 10])  # one symbol too many shifts all: none right
    first.add(second)
    first.steps = {"p_original": [], "adversarial_jsd": []}
    accuracy = key_numbers([first])["accuracy"]["copy, dot"]
    assert accuracy["symbol_accuracy"] == 4 / 9 and accuracy["sequence_accuracy"] == 1 / 3
    assert accuracy["sequences"] == 3 and math.isnan(accuracy["test_bleu"])
    multi30k = Measured("multi30k", "dot", test_bleu=(33.5, 1000))
    multi30k.steps = first.steps
    numbers = key_numbers([multi30k])
    assert numbers["accuracy"]["multi30k, dot"]["test_bleu"] == 33.5
    task_rows = [row for row in _csv_rows([multi30k], numbers) if row[0] == "task"]
    assert task_rows == [["task", "multi30k", "dot", "greedy", "test_bleu", 33.5, 1000]]


@pytest.mark.usefixtures("side_by_side_cores")
def test_faithfulness_quick_writes_its_files_with_sane_numbers(tmp_path, capsys):
    assert main(["study", "faithfulness", "--quick", "--out", str(tmp_path)]) == 0
    assert "## 3. Counterfactual attention" in capsys.readouterr().out
    assert (tmp_path / "summary.md").read_text(encoding="utf-8").startswith("# Study: faithfulness")
    for figure in ("agreement.png", "example_attention.png", "example_integrated_gradients.png"):
        assert (tmp_path / figure).read_bytes().startswith(b"\x89PNG")
    rows = list(csv.DictReader((tmp_path / "results.csv").open(encoding="utf-8")))
    def by(claim, measure):
        return [float(r["value"]) for r in rows if r["claim"] == claim and r["measure"] == measure]

    taus, errors = by("agreement", "kendall_tau_b_abs"), by("alignment", "alignment_error_rate")
    assert len(taus) == 5 * 5 and all(-1.0 <= t <= 1.0 for t in taus)  # 5 arms x (4 methods, IG vs occlusion)
    assert len(errors) == 5 * 5 and all(0.0 <= e <= 1.0 for e in errors)  # 5 arms x (attention, 4 methods)
    assert {r["task"] for r in rows} == {"copy", "reverse", "romanisation"}
    changed = by("counterfactual", "changed")
    assert all(0.0 <= c <= 1.0 for c in changed) and max(changed) > 0.0  # trained models depend on attention
    assert all(0.0 <= j <= math.log(2) for j in by("counterfactual", "jsd"))
    symbols, sequences = by("task", "symbol_accuracy"), by("task", "sequence_accuracy")
    assert len(symbols) == len(sequences) == 5 and all(0.0 <= a <= 1.0 for a in symbols + sequences)
    assert max(symbols) > 0.2  # 150 steps of copying: far above chance (1 in 40 symbols)
