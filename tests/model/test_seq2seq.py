import itertools

import pytest
import torch

from seqattn.config import ModelConfig
from seqattn.model import Seq2Seq
from seqattn.model.kernels.rnn import reverse_padded

from .helpers import VARIANTS, padded_batch, tiny_model

CASES = [(a, rnn, feed) for a, rnn, feed in itertools.product(VARIANTS, ["lstm", "gru"], [False, True])
         if not (a == "none" and feed)]


def step_logits(model, src, lengths, tgt_in):
    memory, state, _ = model.encode(src, lengths)
    out = []
    for t in range(tgt_in.size(1)):
        logits, state, _ = model.decoder.step(tgt_in[:, t], state, memory)
        out.append(logits)
    return torch.stack(out, 1)


@pytest.mark.parametrize("attention,rnn,feed", CASES)
def test_one_call_path_equals_step_path(attention, rnn, feed):
    model = tiny_model(attention=attention, rnn=rnn, input_feeding=feed)
    src, lengths = padded_batch()
    tgt_in = torch.randint(4, 40, (src.size(0), 6), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        attentional, weights = model(src, lengths, tgt_in)
        full = model.decoder.logits(attentional)
        stepped = step_logits(model, src, lengths, tgt_in)
    torch.testing.assert_close(full, stepped, atol=1e-5, rtol=0)
    if attention != "none":
        assert weights.shape == (4, 6, src.size(1))


@pytest.mark.parametrize("attention", VARIANTS)
def test_gradients_reach_encoder_embeddings(attention):
    model = tiny_model(attention=attention).train()
    src, lengths = padded_batch()
    tgt_in = torch.randint(4, 40, (4, 5))
    attentional, _ = model(src, lengths, tgt_in)
    model.decoder.logits(attentional).logsumexp(-1).sum().backward()
    grad = model.encoder.embedding.weight.grad
    used = src[src != 0].unique()
    assert torch.all(grad[used].abs().sum(-1) > 0)
    assert torch.all(grad[0] == 0)  # PAD embedding gets nothing


@pytest.mark.parametrize("attention", ["none", "general"])
def test_padding_does_not_change_outputs(attention):
    """A sentence gives the same logits alone as inside a padded batch."""
    model = tiny_model(attention=attention, reverse=True)
    src, lengths = padded_batch()
    tgt_in = torch.randint(4, 40, (4, 5))
    with torch.no_grad():
        batched = model.decoder.logits(model(src, lengths, tgt_in)[0])
        for row in range(4):
            n = int(lengths[row])
            alone = model.decoder.logits(model(src[row : row + 1, :n], lengths[row : row + 1],
                                               tgt_in[row : row + 1])[0])
            torch.testing.assert_close(batched[row : row + 1], alone, atol=1e-5, rtol=0)


def test_reverse_padded_reverses_only_real_tokens():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])
    assert reverse_padded(x, torch.tensor([3, 2])).tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]
    assert torch.equal(reverse_padded(reverse_padded(x, torch.tensor([3, 2])), torch.tensor([3, 2])), x)


def test_reversed_source_reads_backwards_but_reports_in_source_order():
    fwd = tiny_model(attention="general", bidirectional=False)
    rev = tiny_model(attention="general", bidirectional=False, reverse=True)
    rev.load_state_dict(fwd.state_dict())
    src, lengths = padded_batch(lengths=(5,))
    with torch.no_grad():
        states_rev = rev.encoder(src, lengths).states
        states_fwd_on_flipped = fwd.encoder(src.flip(1), lengths).states.flip(1)
    torch.testing.assert_close(states_rev, states_fwd_on_flipped)


@pytest.mark.parametrize("enc_layers,dec_layers,enc_rnn,dec_rnn",
                         [(2, 1, "lstm", "lstm"), (1, 2, "gru", "lstm"), (2, 2, "lstm", "gru")])
def test_bridge_handles_layer_and_type_mismatch(enc_layers, dec_layers, enc_rnn, dec_rnn):
    model = tiny_model(layers=enc_layers, dec_layers=dec_layers, rnn=enc_rnn, dec_rnn=dec_rnn)
    src, lengths = padded_batch()
    memory, state, enc = model.encode(src, lengths)
    h = state.hidden[0] if isinstance(state.hidden, tuple) else state.hidden
    assert h.shape == (dec_layers, 4, 24)
    assert enc.context_vector.shape == (4, 24)
    with torch.no_grad():
        model(src, lengths, torch.randint(4, 40, (4, 3)))


def _sizes(enc_rnn, dec_rnn, bidirectional, attention, feed, tie, enc_layers, dec_layers):
    enc_hidden = 6
    dec_hidden = enc_hidden * (2 if bidirectional else 1) if attention in ("dot", "scaled_dot") else 9
    return ModelConfig.model_validate({
        "encoder": {"rnn": enc_rnn, "emb_size": 5, "hidden_size": enc_hidden, "layers": enc_layers,
                    "bidirectional": bidirectional},
        "decoder": {"rnn": dec_rnn, "emb_size": dec_hidden if tie else 7, "hidden_size": dec_hidden,
                    "layers": dec_layers, "input_feeding": feed, "tie_embeddings": tie},
        "attention": {"type": attention, "additive_size": 4}})


SIZE_CASES = [c for c in itertools.product(["lstm", "gru"], ["lstm", "gru"], [True, False], VARIANTS,
                                           [False, True], [False, True], [1, 3], [1, 2])
              if not (c[3] == "none" and c[4])]


def test_parameters_are_counted_exactly_without_building_the_model():
    for case in SIZE_CASES:  # every module the model may have, in every combination
        cfg = _sizes(*case)
        with torch.device("meta"):
            built = Seq2Seq(cfg, 11, 13).num_parameters()
        assert Seq2Seq.count_parameters(cfg, 11, 13) == built, case


@pytest.mark.parametrize("key,value", [("encoder.hidden_size", 3_000_000_000), ("decoder.emb_size", 10**19),
                                       ("attention.additive_size", 10**19)])
def test_sizes_beyond_any_memory_are_counted_and_named(key, value):
    part, name = key.split(".")  # (built, even on the meta device, these overflow int64)
    tree = {"attention": {"type": "additive"}}
    tree.setdefault(part, {})[name] = value
    cfg = ModelConfig.model_validate(tree)
    assert Seq2Seq.count_parameters(cfg, 60, 60) > value
    assert Seq2Seq.largest_size(cfg, 60, 60) == f"model.{key} = {value:,}"
