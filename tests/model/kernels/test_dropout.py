"""The uniform-draw dropout behaves like dropout: rate, scale, gradient, eval identity."""

import pytest
import torch

from seqattn.model.kernels.dropout import Dropout


def test_drops_at_rate_p_and_keeps_the_mean():
    torch.manual_seed(0)
    drop = Dropout(0.3).train()
    x = torch.ones(200, 500)
    y = drop(x)
    zeros = (y == 0).float().mean().item()
    assert abs(zeros - 0.3) < 0.01
    kept_value = 1 / (1 - 9830 / 32768)  # p = 0.3 rounded to 15 bits: 0.299988
    assert abs(kept_value - 1 / 0.7) < 3e-5
    assert torch.all((y == 0) | torch.isclose(y, torch.tensor(kept_value)))
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


def test_mask_halves_are_independent_and_uniform():
    """Both 15-bit halves of a 32-bit draw drop at rate p, independently of each other."""
    from seqattn.model.kernels.dropout import keep_mask

    torch.manual_seed(2)
    keep = keep_mask((400_000,), 0.3, "cpu")
    even, odd = keep[0::2].float(), keep[1::2].float()
    for half in (even, odd):
        assert abs(1 - half.mean().item() - 0.3) < 0.004
    both_dropped = ((1 - even) * (1 - odd)).mean().item()
    assert abs(both_dropped - 0.09) < 0.004  # P(drop) squared: no correlation within a draw
    assert keep_mask((3, 0, 5), 0.3, "cpu").shape == (3, 0, 5)
    assert keep_mask((7, 3), 0.3, "cpu").shape == (7, 3)  # an odd number of elements


def test_mask_is_bit_for_bit_the_threshold_comparison():
    """The integer arithmetic gives exactly `15-bit draw >= threshold`, also at the extremes."""
    from seqattn.model.kernels.dropout import LEVELS, keep_mask

    for p in (1e-6, 2**-15, 0.3, 0.5, 1 - 2**-15):
        torch.manual_seed(3)
        keep = keep_mask((10_001,), p, "cpu")
        torch.manual_seed(3)
        draws = torch.empty(5_001, dtype=torch.int32).random_()
        halves = draws.view(torch.int16)[:10_001].int() & (LEVELS - 1)
        expected = halves >= round(p * LEVELS)
        assert keep.dtype == torch.int16
        assert torch.equal(keep.bool(), expected), p
