import pytest
import torch

from seqattn.config import AttentionConfig
from seqattn.model.attention import make_attention

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


def test_none_has_no_attention():
    assert make_attention(AttentionConfig(type="none"), 4, 4) is None


def test_training_products_run_in_fp32_on_cpu_and_keep_the_input_dtype(monkeypatch):
    """Under bf16 autocast, attention products that need gradients run as fp32 products of
    the bf16 inputs (no oneDNN bf16 kernel per shape); without gradients they stay bf16."""
    from seqattn.model.attention import bmm

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
    assert out.dtype == torch.bfloat16
    exact = real_bmm(a.detach().float(), b.float())
    torch.testing.assert_close(out.float(), exact.bfloat16().float(), rtol=0, atol=0)
    out.float().sum().backward()
    assert a.grad is not None and a.grad.dtype == torch.bfloat16
    seen.clear()
    with torch.no_grad():
        assert bmm(a, b).dtype == torch.bfloat16
    assert seen == [(torch.bfloat16, torch.bfloat16)]
