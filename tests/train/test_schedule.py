"""Learning-rate schedules: each follows its formula, and a restored state continues exactly."""

import math

import pytest
import torch

from seqattn.config import ScheduleConfig
from seqattn.train.schedule import Schedule

BASE = 1e-3


def rates(schedule: Schedule, steps) -> list[float]:
    return [schedule.lr(s) for s in steps]


def test_constant_and_plateau_ramp_up_linearly_during_warm_up():
    for kind in ("constant", "plateau"):
        s = Schedule(ScheduleConfig(type=kind, warmup_steps=4, min_lr=0.0), BASE, None)
        assert rates(s, [1, 2, 3, 4, 5, 100]) == pytest.approx([BASE / 4, BASE / 2, 3 * BASE / 4,
                                                                 BASE, BASE, BASE])


def test_inverse_sqrt_peaks_at_the_end_of_warm_up_then_falls_as_one_over_sqrt_step():
    s = Schedule(ScheduleConfig(type="warmup_inverse_sqrt", warmup_steps=100), BASE, None)
    assert s.lr(50) == pytest.approx(BASE / 2)
    assert s.lr(100) == pytest.approx(BASE)
    assert s.lr(400) == pytest.approx(BASE / 2)
    assert s.lr(10_000) == pytest.approx(BASE / 10)


def test_cosine_decays_from_base_to_min_over_the_steps_after_warm_up():
    cfg = ScheduleConfig(type="warmup_cosine", warmup_steps=10, min_lr=1e-5)
    s = Schedule(cfg, BASE, 110)
    assert s.lr(5) == pytest.approx(BASE / 2)
    assert s.lr(10) == pytest.approx(BASE)
    assert s.lr(60) == pytest.approx(1e-5 + (BASE - 1e-5) * 0.5)  # half way: cos(pi/2) = 0
    assert s.lr(35) == pytest.approx(1e-5 + (BASE - 1e-5) * 0.5 * (1 + math.cos(math.pi / 4)))
    assert s.lr(110) == pytest.approx(1e-5)
    assert s.lr(500) == pytest.approx(1e-5)  # stays at the floor after the end
    lrs = rates(s, range(10, 111))
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_plateau_multiplies_by_factor_after_patience_bad_validations_and_stops_at_min_lr():
    s = Schedule(ScheduleConfig(type="plateau", factor=0.5, patience=1, min_lr=2e-4), BASE, None)
    history = []
    for improved in [True, False, False, True, False, False, False, False, False, False]:
        s.on_validation(improved)
        history.append(s.lr(1000))
    assert history == pytest.approx([BASE, BASE, BASE / 2, BASE / 2, BASE / 2, BASE / 4, BASE / 4,
                                     2e-4, 2e-4, 2e-4])


def test_other_schedules_ignore_validations():
    s = Schedule(ScheduleConfig(type="warmup_inverse_sqrt", warmup_steps=10), BASE, None)
    for _ in range(10):
        s.on_validation(False)
    assert s.lr(10) == pytest.approx(BASE)


def test_restored_state_continues_the_same_rates():
    cfg = ScheduleConfig(type="plateau", factor=0.5, patience=0)
    a = Schedule(cfg, BASE, None)
    for improved in [False, True, False]:
        a.on_validation(improved)
    b = Schedule(cfg, BASE, None)
    b.load_state_dict(a.state_dict())
    for improved in [False, False, True, False]:
        a.on_validation(improved)
        b.on_validation(improved)
        assert a.lr(500) == b.lr(500)
    assert a.state_dict() == b.state_dict()


def test_apply_sets_every_parameter_group():
    params = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    opt = torch.optim.Adam([{"params": params[:1]}, {"params": params[1:]}], lr=1.0)
    s = Schedule(ScheduleConfig(type="constant", warmup_steps=2), BASE, None)
    assert s.apply(opt, 1) == pytest.approx(BASE / 2)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([BASE / 2, BASE / 2])
