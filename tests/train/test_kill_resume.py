"""SIGKILL a training process mid-checkpoint-write, mid-validation or at a random moment; resume; compare.

The killed runs are real processes (`benchmarks/kill_resume.py child ...` installs the kill
hook, then runs the `seqattn` CLI); the reference run and the resumes run in this process.
"""

from __future__ import annotations

import os
import random
import sys

import pytest

from seqattn.cli import main
from tests.train.runs import assert_bit_identical, kill_resume_module, one_thread, threads_restored  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")
STEPS, VAL_EVERY = 20, 5  # four validations and checkpoints
MOMENT = random.Random(os.urandom(8))  # any moment must work; the chosen one is in the test's id


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kill")
    cfg = kill_resume_module().make_config(folder / "data", STEPS, VAL_EVERY, heatmaps=0)
    with threads_restored():
        assert main(["train", str(cfg), "--out", str(folder / "reference")]) == 0
    return cfg, folder / "reference"


@pytest.mark.parametrize("phase,at,delay", [
    ("checkpoint", 1, None),  # the first checkpoint's weights, half written: resume starts afresh
    ("checkpoint", 6, None),  # the second checkpoint's optimizer file, half written
    ("validation", MOMENT.randint(1, STEPS // VAL_EVERY), None),  # (no heatmaps: one call each)
    ("timer", None, round(MOMENT.uniform(0.0, 3.0), 2)),
])
def test_sigkill_then_resume_gives_bit_identical_weights(reference, tmp_path, phase, at, delay):
    bench = kill_resume_module()
    cfg, ref = reference
    run = tmp_path / "run"
    args = ["train", str(cfg), "--out", str(run)]
    if phase == "timer":
        killed = bench.kill_after([sys.executable, "-m", "seqattn", *args], run, delay)
    else:
        killed = bench.run_to_end([sys.executable, bench.__file__, "child", phase, str(at), "--", *args], run)
        assert killed["rc"] == -9 and "KILLED AT" in killed["stderr"], killed["stderr"][-2000:]
    assert killed["rc"] in (0, -9), killed["stderr"][-2000:]
    assert main(["train", "--resume", str(run)]) == 0
    log = (run / "train.log").read_text(encoding="utf-8")
    if (phase, at) == ("checkpoint", 1):
        assert "has no checkpoint yet; starting from step 0" in log
    if (phase, at) == ("checkpoint", 6):
        assert "resumed from step_00000005" in log
    assert_bit_identical(ref, run)
