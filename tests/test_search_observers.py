"""The searches' seams: observers watch without changing anything, any Stepper can stand in for
the model, the RNN copies answer the declared interface, and explain walks the same weights
translate decodes with."""

from __future__ import annotations

import numpy as np
import pytest

import seqattn
from seqattn.explain import explain, format_text
from seqattn.model.kernels.packed import pack_bf16
from seqattn.model.kernels.quantize import quantize_int8
from seqattn.model.kernels.rnn import RNNStack
from seqattn.precision import int8_engine
from seqattn.search import BeamSearch, EachStep, GreedySearch, Observer, TorchStepper, TreeRecorder

from .model.helpers import padded_batch, tiny_model


def _same(a, b) -> None:
    assert [h.tokens for h in a] == [h.tokens for h in b]
    assert [h.score for h in a] == [h.score for h in b]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.attention, y.attention)


class Counting(Observer):
    def __init__(self) -> None:
        self.started, self.steps, self.ranked, self.kept = [], [], 0, []

    def search_starts(self, rows: int) -> None:
        self.started.append(rows)

    def step_starts(self, t: int) -> None:
        self.steps.append(t)

    def candidates(self, step) -> None:
        self.ranked += 1

    def rows_kept(self, rows: list[int]) -> None:
        self.kept.append(len(rows))


def test_observers_see_every_step_and_change_no_output():
    model = tiny_model(attention="general", seed=3)
    src, lengths = padded_batch(lengths=(7, 4, 1, 6, 2))
    plain = BeamSearch(beam=3, n_best=3).run(model, src, lengths)
    counting, calls = Counting(), []
    recorder = TreeRecorder(src.size(0))
    watched = BeamSearch(beam=3, n_best=3, observers=[counting, recorder, EachStep(lambda: calls.append(1))]
                         ).run(model, src, lengths)
    for a, b in zip(plain, watched):
        _same(a, b)
    assert counting.started == [5 * 3]
    assert counting.steps == list(range(len(counting.steps))) and counting.ranked == len(counting.steps)
    assert len(calls) == len(counting.steps)
    assert counting.kept and all(n % 3 == 0 for n in counting.kept)  # whole blocks of k rows leave
    for tree, hyps in zip(recorder.trees, watched):
        finished = [n for n in tree if n.status == "finished"]
        assert len(finished) >= len(hyps)
        assert all(n.parent < n.id for n in tree)  # a node extends an earlier one
    greedy_steps = Counting()
    watched_greedy = GreedySearch(observers=[greedy_steps]).run(model, src, lengths)
    _same(GreedySearch().run(model, src, lengths), watched_greedy)
    assert greedy_steps.started == [5] and greedy_steps.steps


def test_batched_trees_equal_one_by_one():
    model = tiny_model(attention="additive", seed=9)
    src, lengths = padded_batch(lengths=(5, 3, 6))
    together = TreeRecorder(3)
    BeamSearch(beam=3, n_best=2, observers=[together]).run(model, src, lengths)
    for row in range(3):
        n = int(lengths[row])
        alone = TreeRecorder(1)
        BeamSearch(beam=3, n_best=2, observers=[alone]).run(model, src[row : row + 1, :n],
                                                            lengths[row : row + 1])
        a, b = together.trees[row], alone.trees[0]
        assert [(x.id, x.parent, x.step, x.token, x.status) for x in a] == \
               [(y.id, y.parent, y.step, y.token, y.status) for y in b]
        assert [x.score for x in a] == pytest.approx([y.score for y in b], abs=1e-4)


class Wrapped:
    """A Stepper that is not the model: the seam an exported model or an ensemble plugs into."""

    def __init__(self, model):
        self.inner = TorchStepper(model)
        self.has_attention = self.inner.has_attention
        self.calls = 0

    def encode(self, src, src_lengths):
        return self.inner.encode(src, src_lengths)

    def step(self, tokens, state, memory):
        self.calls += 1
        return self.inner.step(tokens, state, memory)


@pytest.mark.parametrize("attention", ["none", "dot"])
def test_any_stepper_stands_in_for_the_model(attention):
    model = tiny_model(attention=attention, input_feeding=attention != "none", seed=2)
    src, lengths = padded_batch(lengths=(6, 2, 4))
    stepper = Wrapped(model)
    for a, b in zip(BeamSearch(beam=4, n_best=2).run(model, src, lengths),
                    BeamSearch(beam=4, n_best=2).run(stepper, src, lengths)):
        _same(a, b)
    assert stepper.calls > 0


def test_decoding_copies_answer_the_rnn_stack_interface():
    model = tiny_model(attention="general", rnn="gru", layers=2, seed=1)
    copies = [model, pack_bf16(model)] + ([quantize_int8(model)] if int8_engine() else [])
    for m in copies:
        assert isinstance(m.encoder.rnn, RNNStack) and isinstance(m.decoder.rnn, RNNStack)
    assert type(model.decoder.rnn).__name__ == "GRUStack"  # the original is never changed


@pytest.mark.skipif(int8_engine() is None, reason="this PyTorch build has no quantized CPU engine")
def test_explain_walks_the_weights_translate_decodes_with(trained_run):
    """An int8 translator's explanation is the int8 translation, step by step, and says so."""
    int8 = seqattn.load(str(trained_run), quantize="int8")
    sentence = "alpha beta gamma delta"
    ex, result = explain(int8, sentence), int8.translate([sentence], beam=1)[0]
    assert ex.weights == "int8" and "Weights: int8" in format_text(ex)
    assert [s.chosen for s in ex.steps] == result.tgt_tokens
    np.testing.assert_array_equal(ex.attention, result.attention)
    fp32 = explain(seqattn.load(str(trained_run)), sentence)
    assert fp32.weights == "fp32"
    assert not np.array_equal(fp32.encoder_states, ex.encoder_states)  # not the fp32 master weights
