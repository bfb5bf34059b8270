"""The hand-laid output layer gives nn.Linear's values and gradients."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqattn.model.kernels.projection import OutputProjection, project


def linear_and_grads(layer, hidden, grad_out, fn):
    """(output, d hidden, d weight, d bias) of fn(hidden) backpropagated from grad_out."""
    hidden = hidden.detach().clone().requires_grad_()
    layer.zero_grad(set_to_none=True)
    out = fn(hidden)
    out.backward(grad_out)
    bias_grad = None if layer.bias is None else layer.bias.grad
    return out.detach(), hidden.grad, layer.weight.grad, bias_grad


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 9), n_in=st.integers(1, 9), n_out=st.integers(1, 9), bias=st.booleans(),
       seed=st.integers(0, 2**16))
def test_values_and_gradients_equal_linear_in_fp64(rows, n_in, n_out, bias, seed):
    torch.manual_seed(seed)
    layer = torch.nn.Linear(n_in, n_out, bias=bias).double()
    hidden = torch.randn(rows, n_in, dtype=torch.float64)
    grad_out = torch.randn(rows, n_out, dtype=torch.float64)
    ours = linear_and_grads(layer, hidden, grad_out,
                            lambda h: OutputProjection.apply(h, layer.weight, layer.bias))
    ref = linear_and_grads(layer, hidden, grad_out, layer)
    for a, b in zip(ours, ref):
        if b is None:
            assert a is None
        else:
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_gradcheck():
    torch.manual_seed(0)
    hidden = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(OutputProjection.apply, (hidden, weight, bias))


def test_bf16_under_autocast_is_close_to_autograd_linear_and_keeps_fp32_parameter_gradients():
    torch.manual_seed(1)
    layer = torch.nn.Linear(64, 300)
    hidden = torch.randn(128, 64).bfloat16()
    grad_out = torch.randn(128, 300).bfloat16()

    def ours(h):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return project(h, layer)

    def plain(h):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return layer(h)

    out, d_hidden, d_weight, d_bias = linear_and_grads(layer, hidden, grad_out, ours)
    ref = linear_and_grads(layer, hidden, grad_out, plain)
    assert out.dtype == d_hidden.dtype == torch.bfloat16
    assert d_weight.dtype == d_bias.dtype == torch.float32
    assert d_weight.is_contiguous() and d_weight.shape == layer.weight.shape
    torch.testing.assert_close(out, ref[0])  # the forward product is the same call
    for a, b in zip((d_hidden, d_weight, d_bias), ref[1:]):
        assert ((a.float() - b.float()).norm() / b.float().norm()) < 1e-2


def test_project_uses_the_hand_laid_path_only_for_bf16_training_on_the_cpu(monkeypatch):
    layer = torch.nn.Linear(4, 3)
    bf16 = torch.randn(2, 4).bfloat16().requires_grad_()
    assert type(project(bf16, layer).grad_fn).__name__ == "OutputProjectionBackward"
    assert type(project(torch.randn(2, 4, requires_grad=True), layer).grad_fn).__name__ == "AddmmBackward0"
    monkeypatch.setattr(OutputProjection, "apply", None)  # any use would fail now
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):  # evaluation: plain layer
        assert project(bf16, layer).dtype == torch.bfloat16


def test_tied_weight_gradients_add_up():
    """With tied embeddings the output weight also feeds the embedding: both gradients count."""
    torch.manual_seed(2)
    emb = torch.nn.Embedding(11, 6)
    layer = torch.nn.Linear(6, 11)
    layer.weight = emb.weight
    ids = torch.tensor([1, 4, 4, 9])
    grad_out = torch.randn(4, 11)
    grads = []
    for fn in (lambda h: OutputProjection.apply(h, layer.weight, layer.bias), layer):
        emb.zero_grad(set_to_none=True)
        fn(emb(ids)).backward(grad_out)
        grads.append(emb.weight.grad.clone())
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-5, atol=1e-6)
