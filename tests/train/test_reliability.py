"""No lost work: exact repeats, corrupt checkpoints, full disks, unwritable folders, NaNs, signals."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace

import pytest
import torch

from seqattn.cli import main
from seqattn.config import dump_config
from seqattn.errors import SeqattnError
from seqattn.model import loss as loss_module
from seqattn.train import Trainer, train
from seqattn.train.checkpoint import LATEST, latest_checkpoint, save_checkpoint
from seqattn.weights import read_tensors
from tests.processes import started
from tests.train.runs import (  # noqa: F401 (one_thread is a fixture)
    assert_bit_identical,
    final_tensors,
    kill_resume_module,
    one_thread,
    reliability_config,
    threads_restored,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 30-step run (checkpoints at 10, 20, 30; the last two kept)."""
    folder = tmp_path_factory.mktemp("reference")
    cfg = reliability_config(folder / "data")
    with threads_restored():
        train(cfg, folder / "run")
    config_file = folder / "config.yaml"
    config_file.write_text(dump_config(cfg))
    return SimpleNamespace(cfg=cfg, run=folder / "run", tensors=final_tensors(folder / "run"),
                           config_file=config_file)


def _log(run):
    return (run / "train.log").read_text(encoding="utf-8")


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("seqattn: error:")]
    assert len(errors) == 1, err
    return errors[0]


def test_same_seed_and_config_give_bit_identical_weights(reference, tmp_path):
    train(reference.cfg, tmp_path / "again")
    assert_bit_identical(reference.tensors, tmp_path / "again")
    # the comparison sees a single flipped bit
    flipped = dict(reference.tensors)
    name = next(k for k in flipped if k.startswith("last/"))
    bits = flipped[name].clone().reshape(-1).view(torch.int32)
    bits[0] ^= 1
    flipped[name] = bits.view(torch.float32).reshape(reference.tensors[name].shape)
    assert kill_resume_module().differences(reference.tensors, flipped) == [name]


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage,file", [
    (_truncate, "model.safetensors"),
    (_flip_last_byte, "optimizer.safetensors"),  # still parses: only the checksum catches it
    (lambda p: p.write_text("{not json"), "trainer_state.json"),
])
def test_damaged_latest_checkpoint_falls_back_and_stays_exact(reference, tmp_path, damage, file):
    run = tmp_path / "run"
    shutil.copytree(reference.run, run)
    damage(latest_checkpoint(run / "checkpoints") / file)
    Trainer(reference.cfg, run, resume=True).run()
    log = _log(run)
    assert f"step_00000030/{file}" in log and "resuming from the previous good checkpoint" in log
    assert "resumed from step_00000020" in log
    assert_bit_identical(reference.tensors, run)


@pytest.fixture(scope="module")
def auto_reference(tmp_path_factory):
    """A 20-step run in `precision: auto` (checkpoints at 10 and 20)."""
    folder = tmp_path_factory.mktemp("auto")
    cfg = reliability_config(folder / "data", ["train.precision=auto", "train.max_steps=20"])
    with threads_restored():
        train(cfg, folder / "run")
    return SimpleNamespace(cfg=cfg, run=folder / "run", tensors=final_tensors(folder / "run"))


def test_a_resumed_auto_run_keeps_the_precision_of_its_checkpoints(auto_reference, tmp_path, monkeypatch):
    """Even where this machine alone would now pick the other precision, the run stays exact."""
    from seqattn import precision as policy
    from seqattn.precision import Bf16Support, decide

    reference = auto_reference
    first = decide("auto", torch.device("cpu")).name
    state = json.loads((latest_checkpoint(reference.run / "checkpoints") / "trainer_state.json").read_text())
    assert state["precision"] == first
    run = tmp_path / "run"
    shutil.copytree(reference.run, run)
    _truncate(latest_checkpoint(run / "checkpoints") / "model.safetensors")  # resume from step 10
    other = Bf16Support(True, True, native=first == "fp32", detail="the other answer (test)")
    monkeypatch.setattr(policy, "probe_bf16", lambda device: other)
    assert decide("auto", torch.device("cpu")).name != first
    Trainer(reference.cfg, run, resume=True).run()
    assert f"precision {first} (auto: kept from step_00000010" in _log(run)
    assert_bit_identical(reference.tensors, run)


def test_a_recorded_precision_this_machine_cannot_run_is_a_warning(auto_reference, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(auto_reference.run, run)
    state_file = latest_checkpoint(run / "checkpoints") / "trainer_state.json"
    state = json.loads(state_file.read_text())
    state_file.write_text(json.dumps({**state, "precision": "fp16"}))  # as if trained on a GPU
    Trainer(auto_reference.cfg, run, resume=True).run()
    log = _log(run)
    assert "was trained in fp16 (precision fp16 runs on CUDA only" in log
    assert "will not match an uninterrupted run bit for bit" in log


def test_disk_full_while_checkpointing_keeps_the_last_good_one(reference, tmp_path, monkeypatch, capsys):
    real_fsync = os.fsync

    def fsync(fd):
        if ".optimizer.safetensors." in os.readlink(f"/proc/self/fd/{fd}") and \
                "step_00000020" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    run = tmp_path / "run"
    code = main(["train", str(reference.config_file), "--out", str(run)])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2
    assert "optimizer.safetensors: cannot write (No space left on device)" in line
    assert "step_00000010, is intact" in line
    assert latest_checkpoint(run / "checkpoints").name == "step_00000010"
    assert not [p for p in run.rglob("*.tmp")]
    monkeypatch.undo()
    assert main(["train", "--resume", str(run)]) == 0
    assert_bit_identical(reference.tensors, run)


def test_unwritable_run_directory_is_a_clear_error(reference, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    shutil.copytree(reference.run, run)
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and str(dir).startswith(str(run)):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    code = main(["train", "--resume", str(run), "train.max_steps=40"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2 and f"{run}: cannot write here (Permission denied)" in line
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_run_directory(reference, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(reference.run, run)
    for folder in [run, *[p for p in run.rglob("*") if p.is_dir()]]:
        folder.chmod(0o555)
    try:
        code = main(["train", "--resume", str(run), "train.max_steps=40"])
    finally:
        for folder in [run, *[p for p in run.rglob("*") if p.is_dir()]]:
            folder.chmod(0o755)
    assert code == 2 and "cannot write here" in _one_error_line(capsys.readouterr().err)
    assert latest_checkpoint(run / "checkpoints").name == "step_00000030"


class _InfGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * float("inf")


def _poison_losses(monkeypatch, nan_calls=(), inf_grad_calls=(), always=False):
    real = loss_module.sequence_cross_entropy
    calls = {"n": 0}

    def poisoned(attentional, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] in inf_grad_calls:
            attentional = _InfGrad.apply(attentional)
        loss, nll, n = real(attentional, *args, **kwargs)
        if always or calls["n"] in nan_calls:
            loss = loss * float("nan")
        return loss, nll, n

    monkeypatch.setattr(loss_module, "sequence_cross_entropy", poisoned)  # (what training calls)


def test_non_finite_loss_or_gradient_skips_the_step(reference, tmp_path, monkeypatch):
    _poison_losses(monkeypatch, nan_calls={3, 4}, inf_grad_calls={7})
    result = train(reference.cfg, tmp_path / "run")
    assert result.progress.step == 30
    log = _log(tmp_path / "run")
    assert [f"step {s}: non-finite loss, step skipped" in log for s in (3, 4, 7)] == [True] * 3
    assert log.count("non-finite loss") == 3
    for name, value in final_tensors(tmp_path / "run").items():
        assert torch.isfinite(value.float()).all(), name
    assert kill_resume_module().differences(reference.tensors, final_tensors(tmp_path / "run"))


def test_too_many_non_finite_losses_stop_with_a_clear_error(reference, tmp_path, monkeypatch, capsys):
    _poison_losses(monkeypatch, always=True)
    code = main(["train", str(reference.config_file), "--out", str(tmp_path / "run")])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2 and "5 non-finite losses in a row at step 5; lower train.lr" in line
    assert not (tmp_path / "run" / "model.safetensors").exists()
    assert latest_checkpoint(tmp_path / "run" / "checkpoints") is None


def test_nan_weights_are_never_saved_as_best_or_last(reference, tmp_path, monkeypatch):
    real_step = Trainer._train_step

    def diverging_step(self, *args):
        out = real_step(self, *args)
        if self.progress.step == 19:  # weights blow up in the 20th step, right before validation
            with torch.no_grad():
                next(self.model.parameters()).fill_(float("nan"))
        return out

    monkeypatch.setattr(Trainer, "_train_step", diverging_step)
    run = tmp_path / "run"
    with pytest.raises(SeqattnError, match="NaN or inf"):
        train(reference.cfg, run)
    assert latest_checkpoint(run / "checkpoints").name == "step_00000010"
    for path in run.rglob("*.safetensors"):
        assert all(torch.isfinite(t.float()).all() for t in read_tensors(path).values()), path
    # the guard itself, used for every weights file
    trainer_model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        trainer_model.weight[0, 0] = float("inf")
    optimizer = torch.optim.Adam(trainer_model.parameters())
    state = {"step": 99, "progress": {}, "schedule": {}}
    pattern = r"step 99 not saved: .*NaN or inf values \(weight\).*step_00000010, is intact"
    with pytest.raises(SeqattnError, match=pattern):
        save_checkpoint(run / "checkpoints", trainer_model, optimizer, state, keep=2)
    assert json.loads((run / "checkpoints" / LATEST).read_text())["dir"] == "step_00000010"


def test_sigint_saves_a_checkpoint_and_resume_is_exact(reference, tmp_path, monkeypatch):
    real_step = Trainer._train_step

    def interrupted_step(self, *args):
        if self.progress.step == 12:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C would, in the 13th step
        return real_step(self, *args)

    monkeypatch.setattr(Trainer, "_train_step", interrupted_step)
    run = tmp_path / "run"
    result = train(reference.cfg, run)
    assert result.stop_reason == "interrupted by SIGINT" and result.progress.step == 13
    assert latest_checkpoint(run / "checkpoints").name == "step_00000013"
    assert f"continue with: seqattn train --resume {run}" in _log(run)
    monkeypatch.undo()
    Trainer(reference.cfg, run, resume=True).run()
    assert_bit_identical(reference.tensors, run)


def test_sigterm_to_the_process_saves_and_says_how_to_resume(reference, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "seqattn", "train", str(reference.config_file), "--out", str(run),
           "train.max_steps=100000"]
    with started(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        deadline = time.monotonic() + 120
        while not ((run / "train.log").is_file() and " step 10 dev:" in _log(run)):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert f"checkpoint saved; continue with: seqattn train --resume {run}" in err
    step = int(out.split("stopped after step ")[1].split(":")[0])
    assert "interrupted by SIGTERM" in out
    assert latest_checkpoint(run / "checkpoints").name == f"step_{step:08d}"


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_signal_during_setup_stops_at_once_and_leaves_no_new_run(reference, tmp_path, name):
    # the signal arrives while the model is being built, then setup drags on: the program
    # (`seqattn.program`, as the console script runs it) must stop at once, not after 30 s
    run = tmp_path / "new" / "run"
    code = f"""
import os, signal, sys, time
from seqattn.model.seq2seq import Seq2Seq
from seqattn.program import main
real = Seq2Seq.count_parameters
def slow_setup(*args):
    os.kill(os.getpid(), signal.{name})
    time.sleep(30)
    return real(*args)
Seq2Seq.count_parameters = staticmethod(slow_setup)
sys.exit(main(["train", {str(reference.config_file)!r}, "--out", {str(run)!r}]))
"""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert time.monotonic() - started < 25  # not the 30 s sleep: stopped at once
    assert proc.returncode == 130, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"seqattn: interrupted by {name} during setup (a new run is removed, a resumed one left as it was)")
    assert not (tmp_path / "new").exists()


def test_in_library_use_a_signal_during_training_is_noted_and_pythons_handlers_come_back(reference, tmp_path,
                                                                                        monkeypatch):
    real_step = Trainer._train_step

    def interrupted_step(self, *args):
        if self.progress.step == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # (noted by the session's own handler)
        return real_step(self, *args)

    monkeypatch.setattr(Trainer, "_train_step", interrupted_step)
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    result = train(reference.cfg, tmp_path / "run")
    assert result.stop_reason == "interrupted by SIGTERM" and result.progress.step == 4
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
