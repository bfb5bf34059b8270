"""The bf16 decoding copy with prepacked oneDNN weights computes what the plain copy does."""

import pytest
import torch
from torch import nn

from seqattn.model.kernels import packed
from seqattn.model.kernels.packed import PackedLinear, PackedRNN, pack_bf16, packing_works
from seqattn.search import BeamSearch, GreedySearch

from ..helpers import VARIANTS, padded_batch, tiny_model

needs_packing = pytest.mark.skipif(not packing_works(), reason="no oneDNN bf16 weight packing here")


@needs_packing
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 16), (3, 1, 16), (2, 3, 4, 16)])
def test_packed_linear_is_the_plain_bf16_product(shape, bias):
    torch.manual_seed(0)
    linear = nn.Linear(16, 40, bias=bias).bfloat16()
    x = torch.randn(shape).bfloat16()
    out = PackedLinear(linear)(x)
    assert out.shape == (*shape[:-1], 40) and out.dtype == torch.bfloat16
    torch.testing.assert_close(out, linear(x), atol=0, rtol=0)


@needs_packing
@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU])
@pytest.mark.parametrize("layers", [1, 2])
def test_packed_rnn_step_follows_the_fp32_cell(kind, layers):
    torch.manual_seed(1)
    rnn = kind(8, 24, layers, batch_first=True).eval()
    x = torch.randn(6, 8)
    h = torch.randn(layers, 6, 24) * 0.5
    hidden = (h, torch.randn(layers, 6, 24) * 0.5) if kind is nn.LSTM else h
    out_ref, hid_ref = rnn(x.unsqueeze(1), hidden)  # one step of the fp32 module
    cast = (lambda s: tuple(t.bfloat16() for t in s)) if kind is nn.LSTM else (lambda s: s.bfloat16())
    out, hid = PackedRNN(rnn.bfloat16()).step(x.bfloat16(), cast(hidden))
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), out_ref[:, 0], atol=3e-2, rtol=0)
    for got, ref in zip(hid if kind is nn.LSTM else (hid,), hid_ref if kind is nn.LSTM else (hid_ref,)):
        assert got.shape == ref.shape
        torch.testing.assert_close(got.float(), ref, atol=3e-2, rtol=0)


@needs_packing
@pytest.mark.parametrize("attention", VARIANTS)
@pytest.mark.parametrize("rnn", ["lstm", "gru"])
@pytest.mark.parametrize("input_feeding", [False, True])
def test_packed_model_steps_close_to_fp32_and_decodes(attention, rnn, input_feeding):
    model = tiny_model(seed=3, attention=attention, rnn=rnn, layers=2, input_feeding=input_feeding)
    fast = pack_bf16(model)
    assert isinstance(fast.decoder.output, PackedLinear) and isinstance(fast.decoder.rnn, PackedRNN)
    src, lengths = padded_batch(seed=4)
    # decoder logits of one step from the same start: within bf16 rounding of fp32
    with torch.inference_mode():
        mem32, st32, _ = model.encode(src, lengths)
        mem16, st16, _ = fast.encode(src, lengths)
        tokens = torch.full((src.size(0),), 2)
        ref, _, w_ref = model.decoder.step(tokens, st32, mem32)
        got, _, w_got = fast.decoder.step(tokens, st16, mem16)
    torch.testing.assert_close(got.float(), ref, atol=5e-2, rtol=5e-2)
    if attention != "none":
        torch.testing.assert_close(w_got.float().sum(-1), torch.ones(src.size(0)), atol=1e-2, rtol=0)
    # whole searches run and give well-formed output
    greedy = GreedySearch(sos_id=2, eos_id=3).run(fast, src, lengths)
    beams = BeamSearch(beam=3, n_best=2, sos_id=2, eos_id=3).run(fast, src, lengths)
    assert len(greedy) == len(beams) == src.size(0)
    for hyp, n_best in zip(greedy, beams):
        assert 1 <= len(hyp.tokens) and all(0 <= t < 40 for t in hyp.tokens)
        assert 1 <= len(n_best) <= 2


def test_packing_leaves_the_model_alone():
    model = tiny_model(seed=5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pack_bf16(model)
    after = model.state_dict()
    assert all(after[k].dtype == torch.float32 and torch.equal(after[k], v) for k, v in before.items())
    assert isinstance(model.decoder.output, nn.Linear) and isinstance(model.decoder.rnn, nn.LSTM)


def test_without_packing_the_copy_is_plain_bf16(monkeypatch):
    monkeypatch.setattr(packed, "packing_works", lambda: False)
    model = tiny_model(seed=6)
    copy16 = pack_bf16(model)
    assert isinstance(copy16.decoder.output, nn.Linear) and isinstance(copy16.decoder.rnn, nn.LSTM)
    assert all(p.dtype == torch.bfloat16 for p in copy16.parameters())
    src, lengths = padded_batch(seed=7)
    assert len(GreedySearch(sos_id=2, eos_id=3).run(copy16, src, lengths)) == src.size(0)
