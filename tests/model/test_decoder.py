"""Decoder.attend_with: the step after the softmax with weights given from outside."""

import pytest
import torch

from seqattn.data.subword import SOS_ID

from .helpers import padded_batch, tiny_model


@pytest.mark.parametrize("kind,input_feeding", [("dot", False), ("general", True), ("additive", False)])
def test_attend_with_the_steps_own_weights_gives_the_steps_own_output(kind, input_feeding):
    """Fed back the weights a decoding step computed, attend_with reproduces that step's
    attention value, attentional hidden and logits bit for bit."""
    model = tiny_model(attention=kind, input_feeding=input_feeding)
    src, lengths = padded_batch()
    with torch.no_grad():
        memory, state, _ = model.encode(src, lengths)
        tokens = torch.full((src.size(0),), SOS_ID)
        for token in (SOS_ID, 7, 9):
            tokens = torch.full_like(tokens, token)
            logits, state, weights, trace = model.decoder.traced_step(tokens, state, memory)
            value, attentional = model.decoder.attend_with(trace.query, trace.weights, memory)
            assert torch.equal(value, trace.attention_value)
            assert torch.equal(attentional, trace.attentional)
            assert torch.equal(model.decoder.logits(attentional[:, 0]), logits)


def test_attend_with_other_weights_changes_the_output_and_reads_only_the_weighted_states():
    model = tiny_model(attention="general")
    src, lengths = padded_batch(lengths=(5,))
    with torch.no_grad():
        memory, state, _ = model.encode(src, lengths)
        _, _, _, trace = model.decoder.traced_step(torch.tensor([SOS_ID]), state, memory)
        one_hot = torch.zeros_like(trace.weights)
        one_hot[0, 0, 2] = 1.0  # all attention on source token 2
        value, attentional = model.decoder.attend_with(trace.query, one_hot, memory)
    torch.testing.assert_close(value[0, 0], memory.values[0, 2].to(value.dtype))
    assert not torch.allclose(attentional, trace.attentional)


def test_attend_with_needs_attention():
    model = tiny_model(attention="none")
    src, lengths = padded_batch(lengths=(3,))
    memory, _, _ = model.encode(src, lengths)
    with pytest.raises(ValueError, match="no attention"):
        model.decoder.attend_with(torch.zeros(1, 1, 24), torch.ones(1, 1, 3) / 3, memory)
