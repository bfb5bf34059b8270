import pytest
import torch

from seqattn.config import AttentionConfig
from seqattn.model.attention import make_attention

from .helpers import tiny_model

SCORES = ["dot", "general", "additive", "scaled_dot"]


@pytest.mark.parametrize("kind", SCORES)
def test_weights_sum_to_one_and_are_zero_on_padding(kind):
    torch.manual_seed(0)
    size = 8
    attention = make_attention(AttentionConfig(type=kind, additive_size=6), size, size)
    values = torch.randn(3, 5, size)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    query = torch.randn(3, 4, size) * 5  # large scores: softmax must still mask exactly
    keys = attention.project_keys(values)
    value, weights = attention(query, keys, values, mask)
    assert weights.shape == (3, 4, 5) and value.shape == (3, 4, size)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4))
    assert torch.all(weights[~mask.unsqueeze(1).expand_as(weights)] == 0.0)
    torch.testing.assert_close(value, weights @ values)


@pytest.mark.parametrize("kind", SCORES)
def test_padding_values_do_not_leak(kind):
    """Changing what sits in padded positions changes nothing."""
    torch.manual_seed(1)
    attention = make_attention(AttentionConfig(type=kind), 6, 6)
    values = torch.randn(1, 4, 6)
    mask = torch.tensor([[1, 1, 0, 0]], dtype=torch.bool)
    query = torch.randn(1, 3, 6)
    out1, _ = attention(query, attention.project_keys(values), values, mask)
    values2 = values.clone()
    values2[:, 2:] = 1000.0
    out2, _ = attention(query, attention.project_keys(values2), values2, mask)
    torch.testing.assert_close(out1, out2)


def test_scores_follow_their_definitions():
    torch.manual_seed(2)
    q, h = torch.randn(2, 1, 4), torch.randn(2, 3, 4)
    dot = make_attention(AttentionConfig(type="dot"), 4, 4).score
    scaled = make_attention(AttentionConfig(type="scaled_dot"), 4, 4).score
    general = make_attention(AttentionConfig(type="general"), 4, 4).score
    torch.testing.assert_close(dot(q, h), (q * h).sum(-1).unsqueeze(1))
    torch.testing.assert_close(scaled(q, h), dot(q, h) / 2.0)
    W = general.key_proj.weight
    torch.testing.assert_close(general(q, general.project_keys(h)), q @ (h @ W.T).transpose(1, 2))


def test_additive_score_is_v_tanh_of_projected_query_plus_key():
    """score(s_t, h_j) = v^T tanh(W_q s_t + b_q + W_k h_j), computed here one pair at a time."""
    torch.manual_seed(3)
    q, h = torch.randn(2, 3, 4), torch.randn(2, 5, 6)  # (batch, tgt_len, dec), (batch, src_len, enc)
    additive = make_attention(AttentionConfig(type="additive", additive_size=7), 6, 4).score
    got = additive(q, additive.project_keys(h))
    W_q, b_q = additive.query_proj.weight, additive.query_proj.bias
    W_k, v = additive.key_proj.weight, additive.v.weight[0]
    want = torch.empty(2, 3, 5)
    for b in range(2):
        for t in range(3):
            for j in range(5):
                want[b, t, j] = v @ torch.tanh(W_q @ q[b, t] + b_q + W_k @ h[b, j])
    torch.testing.assert_close(got, want)


def test_none_has_no_attention():
    assert make_attention(AttentionConfig(type="none"), 4, 4) is None


def test_cpu_products_run_in_fp32_with_and_without_gradients(monkeypatch):
    """On the CPU, attention products of bf16 inputs run as exact fp32 products (no oneDNN
    bf16 kernel per shape), under autocast or not, and gradients reach the bf16 inputs."""
    from seqattn.model.kernels.products import bmm

    seen = []
    real_bmm = torch.bmm

    def recording_bmm(x, y):
        seen.append((x.dtype, y.dtype))
        return real_bmm(x, y)

    torch.manual_seed(0)
    a = torch.randn(3, 4, 16).bfloat16().requires_grad_()
    b = torch.randn(3, 16, 5).bfloat16()
    monkeypatch.setattr(torch, "bmm", recording_bmm)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = bmm(a, b)
    assert seen == [(torch.float32, torch.float32)]
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, real_bmm(a.detach().float(), b.float()), rtol=0, atol=0)
    out.sum().backward()
    assert a.grad is not None and a.grad.dtype == torch.bfloat16
    seen.clear()
    with torch.no_grad():
        assert bmm(a, b).dtype == torch.float32
        assert bmm(a.float(), b).dtype == torch.float32  # mixed: the fp32 decoding memory
    assert seen == [(torch.float32, torch.float32)] * 2


@pytest.mark.parametrize("kind", ["dot", "general", "additive"])
def test_decoding_memory_is_fp32_on_cpu_and_attention_keeps_the_query_dtype(kind):
    """In eval mode the CPU memory is fp32 (converted once per decode, not per step); a bf16
    decoder's attention value still comes back in bf16 for its next bf16 product, and a
    training-mode memory keeps the encoder's dtype."""
    model = tiny_model(attention=kind).to(torch.bfloat16)
    states = torch.randn(2, 5, 24).bfloat16()  # (batch, src_len, 2 x 12 encoder hidden)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    memory = model.decoder.memory(states, mask)
    assert memory.values.dtype == memory.keys.dtype == torch.float32
    value, weights = model.decoder.attention(torch.randn(2, 1, 24).bfloat16(), memory.keys,
                                             memory.values, memory.mask)
    assert value.dtype == torch.bfloat16 and value.shape == (2, 1, 24)
    torch.testing.assert_close(weights.float().sum(-1), torch.ones(2, 1), rtol=0, atol=1e-2)
    assert torch.all(weights[1, 0, 3:] == 0)
    assert model.train().decoder.memory(states, mask).values.dtype == torch.bfloat16
