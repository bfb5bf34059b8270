"""The CPU encoder path (fused calls over padded input) equals packed sequences."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqattn.config import EncoderConfig
from seqattn.model.encoder import Encoder

from ..capabilities import bf16_training


def packed_reference(enc: Encoder, src: torch.Tensor, lengths: torch.Tensor):
    """What torch's packed-sequence RNN gives: states, final h, final c (merged directions)."""
    packed = pack_padded_sequence(enc.embedding(src), lengths, batch_first=True, enforce_sorted=False)
    out, final = enc.rnn(packed)
    states, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))
    h, c = final if isinstance(final, tuple) else (final, None)
    return states, enc._merge_directions(h), None if c is None else enc._merge_directions(c)


def make_encoder(rnn: str, layers: int, bidirectional: bool) -> Encoder:
    torch.manual_seed(0)
    cfg = EncoderConfig(rnn=rnn, emb_size=6, hidden_size=5, layers=layers,
                        bidirectional=bidirectional, dropout=0.0)
    return Encoder(cfg, 20).double()


@settings(max_examples=40, deadline=None)
@given(rnn=st.sampled_from(["lstm", "gru"]), layers=st.integers(1, 2), bidirectional=st.booleans(),
       lengths=st.lists(st.integers(1, 9), min_size=1, max_size=6), extra=st.integers(0, 2))
def test_equals_packed_sequences_in_value_and_gradient(rnn, layers, bidirectional, lengths, extra):
    enc = make_encoder(rnn, layers, bidirectional)
    lens = torch.tensor(lengths)
    width = max(lengths) + extra  # padding columns past the longest sequence, too
    g = torch.Generator().manual_seed(len(lengths))
    src = torch.randint(4, 20, (len(lengths), width), generator=g)
    src[torch.arange(width)[None, :] >= lens[:, None]] = 0
    out = enc(src, lens)
    got = [out.states, out.final_hidden, out.final_cell]
    want = list(packed_reference(enc, src, lens))
    for a, b in zip(got, want):
        if b is not None:
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    grads = []
    for outputs in (got, want):
        loss = sum((o * torch.linspace(-1, 1, o.numel(), dtype=o.dtype).view_as(o)).sum()
                   for o in outputs if o is not None)
        grads.append(torch.autograd.grad(loss, list(enc.parameters())))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@bf16_training
@pytest.mark.parametrize("lengths", [(5, 5, 5), (6, 5, 3, 6)])
def test_bf16_close_to_packed_fp32(lengths):
    enc = make_encoder("lstm", 1, True).float()
    lens = torch.tensor(lengths)
    src = torch.randint(4, 20, (len(lengths), max(lengths)))
    src[torch.arange(max(lengths))[None, :] >= lens[:, None]] = 0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = enc(src, lens)
    states, h, c = packed_reference(enc, src, lens)
    for a, b in ((out.states, states), (out.final_hidden, h), (out.final_cell, c)):
        torch.testing.assert_close(a.float(), b, rtol=0, atol=3e-2)
    assert (out.states[torch.arange(max(lengths))[None, :] >= lens[:, None]] == 0).all()
