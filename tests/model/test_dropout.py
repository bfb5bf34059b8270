"""The uniform-draw dropout behaves like dropout: rate, scale, gradient, eval identity."""

import pytest
import torch

from seqattn.model.dropout import Dropout


def test_drops_at_rate_p_and_keeps_the_mean():
    torch.manual_seed(0)
    drop = Dropout(0.3).train()
    x = torch.ones(200, 500)
    y = drop(x)
    zeros = (y == 0).float().mean().item()
    assert abs(zeros - 0.3) < 0.01
    assert torch.all((y == 0) | torch.isclose(y, torch.tensor(1 / 0.7)))
    assert abs(y.mean().item() - 1.0) < 0.02


def test_gradient_is_the_same_mask_and_scale():
    torch.manual_seed(1)
    x = torch.randn(50, 40, requires_grad=True)
    y = Dropout(0.5).train()(x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    kept = y != 0
    assert torch.equal(grad[kept], torch.full_like(grad[kept], 2.0))
    assert torch.equal(grad[~kept], torch.zeros_like(grad[~kept]))


def test_identity_in_eval_mode_and_at_zero_and_keeps_bf16():
    x = torch.randn(4, 5)
    assert Dropout(0.3).eval()(x) is x
    assert Dropout(0.0).train()(x) is x
    assert Dropout(0.3).train()(x.bfloat16()).dtype == torch.bfloat16
    with pytest.raises(ValueError):
        Dropout(1.0)
