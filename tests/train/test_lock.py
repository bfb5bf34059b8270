"""One writer per run directory (`seqattn.lock`): a second writer is refused naming the first,
a lock left by a dead process is taken over, readers are never blocked."""

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

from seqattn.cli import main
from seqattn.config import dump_config
from seqattn.errors import SeqattnError
from seqattn.lock import WriterLock
from seqattn.rundir import RunDir
from seqattn.train import train
from tests.conftest import tiny_config, tiny_tree
from tests.train.runs import threads_restored

REFUSED = "another process is writing this run (pid "


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("locked")
    cfg = tiny_config(folder / "data", ["train.max_steps=10", "train.val_every=5"])
    with threads_restored():
        train(cfg, folder / "run")
    (folder / "config.yaml").write_text(dump_config(cfg))
    return folder / "run"


def _start(argv: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "seqattn", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)


def _finish(procs: list[subprocess.Popen]) -> None:
    for p in procs:  # whatever happened, nothing is left running
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.communicate()


def _one_refused(procs: list[subprocess.Popen], deadline_s: float = 120) -> tuple[subprocess.Popen, str]:
    """Wait until one of `procs` has ended; it must be a refusal while the other still runs."""
    deadline = time.monotonic() + deadline_s
    while all(p.poll() is None for p in procs):
        assert time.monotonic() < deadline, "neither process ended"
        time.sleep(0.05)
    loser = next(p for p in procs if p.poll() is not None)
    winner = next(p for p in procs if p is not loser)
    _, err = loser.communicate()
    assert loser.returncode == 2 and REFUSED in err and "Traceback" not in err, err[-2000:]
    assert winner.poll() is None, "the other writer must still be running"
    return winner, err


def _wait_for_step(run: Path, step: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while not (run / "train.log").is_file() or f" step {step} epoch" not in (run / "train.log").read_text():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-2000:]
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["resume", "new"])
def test_two_writers_started_together_exactly_one_proceeds(finished_run, tmp_path, how):
    if how == "resume":
        run = tmp_path / "run"
        shutil.copytree(finished_run, run)
        argv = ["train", "--resume", str(run), "train.max_steps=1000000"]
    else:
        run = tmp_path / "new"
        argv = ["train", str(finished_run.parent / "config.yaml"), "--out", str(run),
                "train.max_steps=1000000"]
    procs = [_start(argv), _start(argv)]
    try:
        winner, err = _one_refused(procs)
        line = err.strip().splitlines()[-1]
        assert f"pid {winner.pid} on host {socket.gethostname()}" in line, line
        _wait_for_step(run, 15 if how == "resume" else 5, winner)
        winner.send_signal(signal.SIGTERM)  # the one that proceeds trains, and stops cleanly
        out, err = winner.communicate(timeout=60)
        assert winner.returncode == 0 and "checkpoint saved; continue with" in err, err[-2000:]
        assert (run / "checkpoints").is_dir()
        assert not (run / "writer.lock").exists()  # released cleanly: removed
    finally:
        _finish(procs)


def test_a_lock_left_by_a_dead_process_is_taken_over(finished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid names no running process now
    record = {"pid": dead.pid, "host": socket.gethostname(), "since": "2026-12-01 10:00:00"}
    (run / "writer.lock").write_text(json.dumps(record) + "\n")
    with threads_restored():
        assert main(["train", "--resume", str(run), "train.max_steps=12"]) == 0
    log = (run / "train.log").read_text()
    assert (f"took over the lock of {run} from pid {dead.pid} on host {socket.gethostname()}, "
            "since 2026-12-01 10:00:00, which is no longer running") in log
    assert not (run / "writer.lock").exists()


def test_a_held_lock_refuses_a_writer_but_no_reader(finished_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    with RunDir(run).writer_lock():  # (as a training process would hold it)
        assert main(["train", "--resume", str(run), "train.max_steps=12"]) == 2
        assert REFUSED + f"{os.getpid()} on host" in capsys.readouterr().err
        src = tmp_path / "in.txt"
        src.write_text("alpha beta\ngamma\n")
        assert main(["translate", str(run), "--input", str(src)]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 2
        assert main(["evaluate", str(run), "--src", str(src), "--ref", str(src)]) == 0


def test_prepare_takes_its_own_lock(tmp_path, capsys):
    import yaml

    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny_tree(tmp_path / "data")))
    out = tmp_path / "prep"
    with WriterLock(tmp_path / ".prep.lock", out, "prepared folder"):
        assert main(["prepare", str(tmp_path / "c.yaml"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out}: another process is writing this prepared folder (pid {os.getpid()}" in err
    assert not out.exists()
    assert main(["prepare", str(tmp_path / "c.yaml"), "--out", str(out)]) == 0
    assert (out / "manifest.json").is_file()


def test_a_lock_file_that_is_a_folder_is_one_clear_error(tmp_path):
    (tmp_path / "writer.lock").mkdir()
    with pytest.raises(SeqattnError, match=r"cannot create its lock file writer.lock \(Is a directory\)"):
        RunDir(tmp_path).writer_lock().acquire()


def test_a_refusal_in_the_instant_before_the_holder_writes_its_record_still_names_it(tmp_path):
    """The holder locks first and writes its record just after; a second writer arriving
    between the two waits briefly for the record instead of naming nobody."""
    import fcntl
    import threading

    path = tmp_path / "writer.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    record = {"pid": 4242, "host": "elsewhere", "since": "2026-12-02 00:00:00"}
    writer = threading.Timer(0.3, lambda: os.pwrite(fd, json.dumps(record).encode() + b"\n", 0))
    writer.start()
    try:
        with pytest.raises(SeqattnError, match="pid 4242 on host elsewhere"):
            WriterLock(path, tmp_path, "run").acquire()
    finally:
        writer.join()
        os.close(fd)
