"""Every speed trick computes what the plain path computes: the model with all switches on
against `kernels.plain()`, in value and gradient, in training and in decoding."""

import itertools

import pytest
import torch

from seqattn.model import kernels
from seqattn.model.kernels.dropout import Dropout
from seqattn.model.loss import sequence_cross_entropy
from seqattn.search import BeamSearch, GreedySearch

from ...capabilities import bf16_training
from ..helpers import VARIANTS, padded_batch, tiny_model

CASES = [(a, rnn, feed, layers) for a, rnn, feed, layers in
         itertools.product(VARIANTS, ["lstm", "gru"], [False, True], [1, 2])
         if not (a == "none" and feed)]


def loss_and_gradients(model, src, lengths, tgt, smoothing=0.1, row_multiple=1):
    model.zero_grad()
    attentional, _ = model(src, lengths, tgt[:, :-1])
    loss, nll, n = sequence_cross_entropy(attentional, tgt[:, 1:], model.decoder.output, smoothing,
                                          row_multiple=row_multiple, scale=1 / 7)
    loss.backward()
    return loss.detach(), nll, n, {k: p.grad.clone() for k, p in model.named_parameters()
                                   if p.grad is not None}


def target_batch(seed=1, batch=4, length=7, vocab=40):
    tgt = torch.randint(4, vocab, (batch, length), generator=torch.Generator().manual_seed(seed))
    tgt[1, 5:] = 0  # padding in the target too
    tgt[3, 3:] = 0
    return tgt


@pytest.mark.parametrize("attention,rnn,feed,layers", CASES)
def test_training_pass_equals_the_plain_path(attention, rnn, feed, layers):
    model = tiny_model(attention=attention, rnn=rnn, input_feeding=feed, layers=layers).double().train()
    src, lengths = padded_batch()
    tgt = target_batch()
    fast = loss_and_gradients(model, src, lengths, tgt)
    with kernels.plain():
        slow = loss_and_gradients(model, src, lengths, tgt)
    torch.testing.assert_close(fast[0], slow[0], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(fast[1], slow[1], rtol=1e-10, atol=1e-12)
    assert fast[2] == slow[2]
    assert fast[3].keys() == slow[3].keys()
    for name in fast[3]:
        torch.testing.assert_close(fast[3][name], slow[3][name], rtol=1e-8, atol=1e-11, msg=name)


@pytest.mark.parametrize("attention,rnn", [("general", "lstm"), ("additive", "gru"), ("none", "lstm")])
@pytest.mark.parametrize("beam", [1, 3])
def test_decoding_equals_the_plain_path(attention, rnn, beam):
    model = tiny_model(attention=attention, rnn=rnn, layers=2).double()
    src, lengths = padded_batch(lengths=(7, 4, 1, 6, 2))

    def decode():
        with torch.no_grad():
            if beam == 1:
                return [[h] for h in GreedySearch(max_len_a=2.0, max_len_b=5).run(model, src, lengths)]
            return BeamSearch(beam=beam, n_best=beam, alpha=1.0, max_len_a=2.0, max_len_b=5).run(
                model, src, lengths)

    fast = decode()
    with kernels.plain():
        slow = decode()
    assert [len(group) for group in fast] == [len(group) for group in slow]
    for a, b in zip([h for g in fast for h in g], [h for g in slow for h in g]):
        assert a.tokens == b.tokens
        assert a.score == pytest.approx(b.score, abs=1e-9)
        if a.attention is not None:
            assert abs(a.attention - b.attention).max() < 1e-6  # (returned in fp32)


@bf16_training
def test_bf16_training_pass_is_close_to_the_plain_path():
    model = tiny_model(attention="general").train()
    src, lengths = padded_batch()
    tgt = target_batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fast = loss_and_gradients(model, src, lengths, tgt, row_multiple=64)
        with kernels.plain():
            slow = loss_and_gradients(model, src, lengths, tgt, row_multiple=64)
    torch.testing.assert_close(fast[0], slow[0], rtol=2e-2, atol=2e-2)
    for name in fast[3]:
        torch.testing.assert_close(fast[3][name], slow[3][name], rtol=0.1, atol=3e-2, msg=name)


@pytest.mark.parametrize("integer", [True, False])
def test_dropout_either_way_drops_p_and_keeps_the_expectation(integer):
    torch.manual_seed(0)
    x = torch.ones(200_000)
    with kernels.switched(integer_dropout=integer):
        y = Dropout(0.3).train()(x)
        assert torch.equal(Dropout(0.3).eval()(x), x)
    assert (y == 0).float().mean().item() == pytest.approx(0.3, abs=0.005)
    assert y.mean().item() == pytest.approx(1.0, abs=0.01)


def test_switches_are_restored_and_checked():
    before = kernels.Switches(**vars(kernels.SWITCHES))
    with pytest.raises(RuntimeError), kernels.plain():
        assert not kernels.SWITCHES.fused_loss
        raise RuntimeError
    assert kernels.SWITCHES == before
    with pytest.raises(ValueError, match="unknown kernel switch"):
        with kernels.switched(fused_everything=False):
            pass
