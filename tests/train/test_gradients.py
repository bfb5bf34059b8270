"""The threaded gradient norm is the global 2-norm, and it still sees overflow; the updater
skips overflowing steps and scales losses exactly."""

import json
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqattn.train.gradients import ROW, Updater, total_norm


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


def _toy(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, fused=True)
    return model, opt


def _loss(model, step: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(step)
    x, y = torch.randn(8, 6, generator=g), torch.randint(0, 3, (8,), generator=g)
    return torch.nn.functional.cross_entropy(model(x), y)


@pytest.mark.parametrize("clip", [100.0, 0.05])  # (0.05: every step is clipped)
def test_loss_scaling_changes_no_bit_of_fp32_updates(clip):
    """Scaling by a power of two and back is exact in fp32: the same weights, step by step."""
    runs = []
    for scaling in (False, True):
        model, opt = _toy()
        updater = Updater(model.parameters(), opt, clip, loss_scaling=scaling)
        norms = [updater.step(_loss(model, step)) for step in range(5)]
        runs.append((norms, [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1], strict=True))


def _poison_once(param: torch.nn.Parameter) -> None:
    """The next backward pass writes inf into `param`'s gradient (once)."""
    handle = None

    def hook(grad):
        handle.remove()
        return torch.full_like(grad, math.inf)
    handle = param.register_hook(hook)


def test_overflow_skips_the_update_and_halves_the_scale():
    model, opt = _toy()
    updater = Updater(model.parameters(), opt, 5.0, loss_scaling=True)
    updater.step(_loss(model, 0))
    before = [p.detach().clone() for p in model.parameters()]
    adam_steps = [s["step"].item() for s in opt.state.values()]
    _poison_once(model[0].weight)
    assert not math.isfinite(updater.step(_loss(model, 1)))
    assert updater.lowered_scale == 2.0**15 == updater.state_dict()["scale"]
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
    assert [s["step"].item() for s in opt.state.values()] == adam_steps  # Adam did not move
    assert math.isfinite(updater.step(_loss(model, 2))) and updater.lowered_scale is None
    assert not torch.equal(before[0], model[0].weight)


def test_an_overflow_is_blamed_on_the_scale_only_while_it_is_above_one():
    for scaling, scale, blamed in ((False, None, False), (True, 1.0, False), (True, 4.0, True)):
        model, opt = _toy()
        updater = Updater(model.parameters(), opt, 5.0, loss_scaling=scaling)
        if scale is not None:
            updater.load_state_dict({**updater.state_dict(), "scale": scale})
        _poison_once(model[2].bias)
        assert not math.isfinite(updater.step(_loss(model, 0)))
        assert (updater.lowered_scale is not None) == blamed


def test_scaler_state_round_trips_through_json():
    model, opt = _toy()
    updater = Updater(model.parameters(), opt, 5.0, loss_scaling=True)
    _poison_once(model[0].bias)
    for step in range(3):
        updater.step(_loss(model, step))
    state = json.loads(json.dumps(updater.state_dict()))
    assert state["scale"] == 2.0**15 and state["_growth_tracker"] == 2
    again = Updater(model.parameters(), opt, 5.0, loss_scaling=True)
    again.load_state_dict(state)
    assert again.state_dict() == state
    assert Updater(model.parameters(), opt, 5.0).state_dict() == {}
