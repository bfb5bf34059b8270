"""Data-parallel training through torchrun: 2 CPU processes (gloo over loopback) on a tiny model.

Each launch starts real processes (about 10 s on 2 cores); skip them with -m "not distributed".
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from seqattn.cli import main
from seqattn.config import build_config
from seqattn.data.pipeline import load_splits
from seqattn.train import Trainer
from seqattn.train.checkpoint import latest_checkpoint
from seqattn.train.distributed import Distributed
from seqattn.weights import read_tensors
from tests.conftest import tiny_tree
from tests.processes import started

pytestmark = pytest.mark.distributed
FAST = ["train.val_every=1000", "train.heatmaps=0", "train.samples=[]", "train.log_every=1",
        "train.schedule.type=constant", "train.dist_timeout_minutes=2"]
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID")
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}


def _config_file(folder: Path) -> Path:
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_tree(folder / "data")))
    return path


def _seqattn(*argv, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seqattn", *map(str, argv)], capture_output=True,
                          text=True, timeout=timeout, env=CLEAN_ENV)


def _state(run: Path) -> dict:
    return json.loads((latest_checkpoint(run / "checkpoints") / "trainer_state.json").read_text())


def _progress(run: Path) -> dict:
    return _state(run)["progress"]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return read_tensors(latest_checkpoint(run / "checkpoints") / "model.safetensors")


def _cfg(cfg_file: Path, overrides: list[str] = ()):
    return build_config(yaml.safe_load(cfg_file.read_text()), [*FAST, *overrides])


def _reference(cfg_file: Path, run: Path, resume: bool) -> Trainer:
    """A single-process trainer, built (and restored when `resume`) but not yet trained."""
    cfg = _cfg(cfg_file)
    trainer = Trainer(cfg, run, resume=resume)
    run.mkdir(exist_ok=True)
    trainer._build(load_splits(cfg.data))
    trainer.metrics.close()
    return trainer


def _step(trainer: Trainer, batch_ids: list[int]) -> None:
    trainer.schedule.apply(trainer.optimizer, trainer.progress.step + 1)
    trainer._train_step(batch_ids, trainer.data.train.target_tokens(batch_ids))
    trainer.progress.step += 1


def _assert_close(weights: dict[str, torch.Tensor], model: torch.nn.Module) -> None:
    mine = model.state_dict()
    assert weights.keys() == mine.keys()
    for key, value in weights.items():
        torch.testing.assert_close(value, mine[key], atol=2e-5, rtol=1e-4, msg=key)


def test_share_gives_each_rank_its_batch_and_counts_global_batches():
    batches = [[0], [1], [2], [3], [4]]
    assert [Distributed(r, 2).share(batches, 2) for r in (0, 1)] == [([2], 2), ([3], 2)]
    assert [Distributed(r, 2).share(batches, 4) for r in (0, 1)] == [([4], 1), (None, 1)]
    assert Distributed(0, 1).share(batches, 3) == ([3], 1)


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory) -> tuple[Path, Path]:
    """3 steps on 2 processes through `seqattn train --nproc 2` (13 batches an epoch)."""
    folder = tmp_path_factory.mktemp("ddp")
    cfg_file = _config_file(folder)
    done = _seqattn("train", cfg_file, "--out", folder / "run", "--nproc", "2", *FAST, "train.max_steps=3")
    assert done.returncode == 0, done.stderr[-3000:]
    return cfg_file, folder / "run"


def test_two_processes_equal_one_process_on_the_combined_batch(two_process_run, tmp_path):
    cfg_file, run = two_process_run
    assert _progress(run) | {"step": 3, "epoch": 0, "batch_in_epoch": 6} == _progress(run)
    assert len((run / "train.log").read_text().split("stopping:")) == 2  # rank 0 alone writes
    rng = _state(run)["rank_rng"]  # each rank's random state, for resuming on 2 processes
    assert len(rng) == 2 and rng[0] != rng[1]
    reference = _reference(cfg_file, tmp_path / "one", resume=False)
    assert (tmp_path / "one" / "spm.model").read_bytes() == (run / "spm.model").read_bytes()
    batches = reference.batcher.epoch(0)
    for k in range(3):  # rank 0 trained batch 2k, rank 1 batch 2k + 1
        _step(reference, batches[2 * k] + batches[2 * k + 1])
    _assert_close(_weights(run), reference.model)


def test_resume_on_another_number_of_processes(two_process_run, tmp_path):
    cfg_file, base = two_process_run
    run = tmp_path / "run"
    shutil.copytree(base, run)
    # 2 -> 1: the data position is in global batches, so one process goes on from batch 6
    Trainer(_cfg(cfg_file, ["train.max_steps=7"]), run, resume=True).run()
    assert (_progress(run)["step"], _progress(run)["batch_in_epoch"]) == (7, 10)
    shutil.copytree(run, tmp_path / "ref")
    reference = _reference(cfg_file, tmp_path / "ref", resume=True)
    # 1 -> 2: step 8 takes batches 10 and 11; step 9 only batch 12, the last of the epoch,
    # while rank 1 takes part with nothing to add
    done = _seqattn("train", "--resume", run, "--nproc", "2", *FAST, "train.max_steps=9")
    assert done.returncode == 0, done.stderr[-3000:]
    assert _progress(run) | {"step": 9, "epoch": 1, "batch_in_epoch": 0} == _progress(run)
    batches = reference.batcher.epoch(0)
    _step(reference, batches[10] + batches[11])
    _step(reference, batches[12])
    _assert_close(_weights(run), reference.model)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_through_torchrun_rendezvous(tmp_path):
    cfg_file, run = _config_file(tmp_path), tmp_path / "run"
    node = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
            "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{_free_port()}", "--rdzv-id", "t2",
            "--rdzv-conf", "join_timeout=60", "--max-restarts", "0",
            "-m", "seqattn", "train", str(cfg_file), "--out", str(run), *FAST, "train.max_steps=4"]
    with started(node, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CLEAN_ENV) as one, \
            started(node, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CLEAN_ENV) as two:
        launchers = [one, two]
        outputs = [p.communicate(timeout=150) for p in launchers]
    assert [p.returncode for p in launchers] == [0, 0], [err[-2000:] for _, err in outputs]
    assert _progress(run) | {"step": 4, "batch_in_epoch": 8} == _progress(run)
    assert (run / "model.safetensors").is_file() and (run / "results.json").is_file()
    assert sum("stopped after step 4" in out for out, _ in outputs) == 1  # only rank 0 reports


def _worker_pid(launcher: int, rank: int) -> int | None:
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) \
                    == launcher and f"RANK={rank}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                return int(entry.name)
        except OSError:
            continue
    return None


def _wait_for_step_3(run: Path, launcher: subprocess.Popen) -> Path:
    deadline, log = time.monotonic() + 90, run / "train.log"
    while not (log.exists() and "step 3 " in log.read_text()):
        assert launcher.poll() is None and time.monotonic() < deadline, launcher.communicate()[1][-2000:]
        time.sleep(0.2)
    return log


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_a_dying_rank_ends_the_job_with_a_clear_error(tmp_path):
    cfg_file, run = _config_file(tmp_path), tmp_path / "run"
    cmd = [sys.executable, "-m", "seqattn", "train", str(cfg_file), "--out", str(run), "--nproc", "2",
           *FAST, "train.max_steps=1000000", "train.max_minutes=3"]
    with started(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CLEAN_ENV) as launcher:
        _wait_for_step_3(run, launcher)
        pid = _worker_pid(launcher.pid, 1)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        _, err = launcher.communicate(timeout=120)
    assert time.monotonic() - killed < 60  # no hang
    assert launcher.returncode == 2
    last = [line for line in err.splitlines() if line.startswith("seqattn: error:")][-1]
    assert "distributed training failed" in last and f"(pid {pid}) was killed by SIGKILL" in last, err[-3000:]


def test_torchrun_needs_one_run_directory_for_all_processes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert main(["train", str(_config_file(tmp_path))]) == 2
    assert "under torchrun give --out RUN_DIR" in capsys.readouterr().err


def test_ctrl_c_to_a_launched_job_saves_a_checkpoint(tmp_path):
    # the launcher (torchrun, in the seqattn process) passes Ctrl-C on to the ranks, which save
    cfg_file, run = _config_file(tmp_path), tmp_path / "run"
    cmd = [sys.executable, "-m", "seqattn", "train", str(cfg_file), "--out", str(run), "--nproc", "2",
           *FAST, "train.max_steps=1000000", "train.max_minutes=3"]
    with started(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CLEAN_ENV) as launcher:
        log = _wait_for_step_3(run, launcher)
        os.killpg(launcher.pid, signal.SIGINT)
        _, err = launcher.communicate(timeout=120)
    assert "Traceback" not in err, err[-3000:]
    assert "checkpoint saved; continue with: seqattn train --resume" in log.read_text(), err[-3000:]
    assert latest_checkpoint(run / "checkpoints") is not None

