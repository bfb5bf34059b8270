"""The threaded gradient norm is the global 2-norm, and it still sees overflow."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqattn.train.gradients import ROW, total_norm


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.sampled_from([1, 7, ROW - 1, ROW, ROW + 1, 3 * ROW, 2 * ROW + 5]), min_size=1,
                      max_size=5), seed=st.integers(0, 2**16))
def test_equals_the_norm_of_all_gradients_together(sizes, seed):
    g = torch.Generator().manual_seed(seed)
    grads = [torch.randn(n, generator=g) * (i + 1) for i, n in enumerate(sizes)]
    expected = torch.linalg.vector_norm(torch.cat(grads).double())
    got = total_norm(grads)
    assert got.dtype == torch.float32 and got.dim() == 0
    assert math.isclose(got.item(), expected.item(), rel_tol=1e-5)


def test_matrices_and_the_empty_list():
    grads = [torch.full((3, ROW // 2), 2.0), torch.full((5,), 1.0)]
    assert math.isclose(total_norm(grads).item(), math.sqrt(4 * 3 * ROW // 2 + 5), rel_tol=1e-6)
    assert total_norm([]).item() == 0.0


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("where", [0, ROW + 3])  # in a full row and in the remainder
def test_a_non_finite_gradient_gives_a_non_finite_norm(bad, where):
    grads = [torch.ones(10), torch.ones(ROW + 7)]
    grads[1][where] = bad
    assert not math.isfinite(total_norm(grads).item())
