"""The fused label-smoothed cross-entropy equals the textbook composition, value and gradient."""

import pytest
import torch
import torch.nn.functional as F

from seqattn.model.kernels.loss import SmoothedCrossEntropy
from seqattn.model.loss import sequence_cross_entropy


def reference(logits: torch.Tensor, gold: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    logp = torch.log_softmax(logits.float(), dim=-1)
    nll = F.nll_loss(logp, gold, reduction="sum")
    return (1 - eps) * nll + eps * -logp.mean(dim=-1).sum(), nll


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_fused_loss_matches_reference_value_and_gradient(eps):
    torch.manual_seed(0)
    logits = (torch.randn(37, 50, dtype=torch.float64) * 3).requires_grad_()
    gold = torch.randint(0, 50, (37,))
    loss, nll = SmoothedCrossEntropy.apply(logits, gold, eps)
    (grad,) = torch.autograd.grad(loss * 0.7, logits)
    ref_loss, ref_nll = reference(logits, gold, eps)
    (ref_grad,) = torch.autograd.grad(ref_loss * 0.7, logits)
    torch.testing.assert_close(loss.double(), ref_loss.double(), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(nll.double(), ref_nll.double(), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grad.double(), ref_grad.double(), rtol=1e-6, atol=1e-8)


def test_fused_loss_leaves_fp32_logits_untouched_and_passes_gradcheck():
    logits = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    before = logits.detach().clone()
    gold = torch.tensor([0, 6, 3, 3, 1])
    SmoothedCrossEntropy.apply(logits, gold, 0.1)
    assert torch.equal(logits.detach(), before)
    assert torch.autograd.gradcheck(lambda x: SmoothedCrossEntropy.apply(x, gold, 0.1)[0], (logits,))


def test_bf16_logits_give_bf16_gradient_close_to_fp32():
    torch.manual_seed(1)
    logits32 = torch.randn(64, 300).requires_grad_()
    logits16 = logits32.detach().bfloat16().requires_grad_()
    gold = torch.randint(0, 300, (64,))
    loss32, _ = SmoothedCrossEntropy.apply(logits32, gold, 0.1)
    loss16, _ = SmoothedCrossEntropy.apply(logits16, gold, 0.1)
    assert loss16.dtype == torch.float32
    assert abs(loss16.item() - loss32.item()) / loss32.item() < 1e-2
    loss32.backward()
    loss16.backward()
    assert logits16.grad.dtype == torch.bfloat16
    torch.testing.assert_close(logits16.grad.float(), logits32.grad, atol=2e-3, rtol=2e-2)


def test_sequence_loss_ignores_padding_positions():
    torch.manual_seed(2)
    out = torch.nn.Linear(8, 11)
    attentional = torch.randn(3, 4, 8)
    tgt = torch.tensor([[4, 5, 3, 0], [6, 3, 0, 0], [7, 8, 9, 3]])
    loss, nll, n = sequence_cross_entropy(attentional, tgt, out, 0.1, pad_id=0)
    attentional2 = attentional.clone()
    attentional2[tgt == 0] = 1e3  # garbage on padding must not matter
    loss2, _, _ = sequence_cross_entropy(attentional2, tgt, out, 0.1, pad_id=0)
    assert n == 9
    assert torch.equal(loss, loss2)
    ref, ref_nll = reference(out(attentional[tgt != 0]), tgt[tgt != 0], 0.1)
    torch.testing.assert_close(loss, ref)
    torch.testing.assert_close(nll, ref_nll.detach())


def test_rounding_rows_up_changes_neither_loss_nor_gradients():
    torch.manual_seed(3)
    out = torch.nn.Linear(8, 11)
    attentional = torch.randn(3, 5, 8, requires_grad=True)
    tgt = torch.tensor([[4, 5, 3, 0, 0], [6, 3, 0, 0, 0], [7, 8, 9, 10, 3]])
    results = []
    for multiple in (1, 4, 64):
        loss, nll, n = sequence_cross_entropy(attentional, tgt, out, 0.1, 0, row_multiple=multiple)
        grads = torch.autograd.grad(loss, [attentional, out.weight, out.bias])
        results.append((loss, nll, n, grads))
    for loss, nll, n, grads in results[1:]:
        assert n == results[0][2] == 10
        torch.testing.assert_close(loss, results[0][0])
        torch.testing.assert_close(nll, results[0][1])
        for g, ref in zip(grads, results[0][3]):
            torch.testing.assert_close(g, ref)

def test_fp16_gradient_is_scaled_before_it_is_rounded_to_fp16():
    """fp16 training multiplies the loss by a loss scale (2^16) in backward: the gradient must
    reach fp16 only after that, or its small entries (softmax / 1,000 tokens) flush to zero
    (and the scale itself, 65,536, is above fp16's largest number)."""
    torch.manual_seed(2)
    base = torch.randn(30, 500) * 4
    gold = torch.randint(0, 500, (30,))
    logits = base.half().requires_grad_()
    loss, _ = SmoothedCrossEntropy.apply(logits, gold, 0.0, 1 / 1000)
    (loss * 2.0**16).backward()
    assert logits.grad.dtype == torch.float16 and torch.isfinite(logits.grad).all()
    ref = base.half().double().requires_grad_()
    (reference(ref, gold, 0.0)[0] * 2.0**16 / 1000).backward()
    small = ref.grad.abs() < 2.0**-25 * 2**16  # under half of fp16's smallest before scaling
    assert small.sum() > 100 and (logits.grad[small] != 0).float().mean() > 0.9
    torch.testing.assert_close(logits.grad.double(), ref.grad, rtol=2e-3, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
@pytest.mark.parametrize("scale", [1.0, 1 / 37, 2.5, 0.0])
def test_scaled_loss_gives_the_scaled_gradient(dtype, scale):
    torch.manual_seed(4)
    base = torch.randn(40, 90, dtype=torch.float64) * 3
    gold = torch.randint(0, 90, (37,))  # three padding rows
    logits = base.to(dtype).requires_grad_()
    loss, nll = SmoothedCrossEntropy.apply(logits, gold, 0.1, scale)
    loss.backward()  # upstream gradient exactly 1: the stored gradient is handed on as is
    ref_logits = base.to(dtype).double().requires_grad_()
    ref_loss, ref_nll = reference(ref_logits[:37], gold, 0.1)
    (ref_loss * scale).backward()
    exact = dtype == torch.float64
    tol = {"rtol": 1e-5, "atol": 1e-8} if exact else {"rtol": 2e-2, "atol": 1e-3 * max(scale, 1e-3)}
    torch.testing.assert_close(loss.double(), ref_loss.double() * scale, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(nll.double(), ref_nll.double(), rtol=1e-5, atol=1e-6)
    assert logits.grad.dtype == dtype
    torch.testing.assert_close(logits.grad.double(), ref_logits.grad, **tol)
    assert torch.all(logits.grad[37:] == 0)


@pytest.mark.parametrize("scale", [1.0, 0.25])
def test_output_layer_gradients_match_the_textbook_composition(scale):
    torch.manual_seed(5)
    out = torch.nn.Linear(8, 11).double()
    out.bias.data.normal_()  # a bias that matters
    attentional = torch.randn(3, 5, 8, dtype=torch.float64, requires_grad=True)
    tgt = torch.tensor([[4, 5, 3, 0, 0], [6, 3, 0, 0, 0], [7, 8, 9, 10, 3]])
    loss, nll, n = sequence_cross_entropy(attentional, tgt, out, 0.1, 0, row_multiple=4, scale=scale)
    params = [attentional, out.weight, out.bias]
    grads = torch.autograd.grad(loss, params)
    logp = torch.log_softmax(out(attentional[tgt != 0]), dim=-1)
    ref = (0.9 * torch.nn.functional.nll_loss(logp, tgt[tgt != 0], reduction="sum")
           - 0.1 * logp.mean(dim=-1).sum()) * scale
    torch.testing.assert_close(loss, ref)
    for g, r in zip(grads, torch.autograd.grad(ref, params)):
        torch.testing.assert_close(g, r)
    assert n == 10


@pytest.mark.parametrize("scale", [-1.0, float("nan")])
def test_a_negative_or_nan_scale_is_a_clear_error(scale):
    with pytest.raises(ValueError, match="loss scale must be a number >= 0"):
        SmoothedCrossEntropy.apply(torch.randn(3, 5), torch.tensor([0, 1, 2]), 0.1, scale)
