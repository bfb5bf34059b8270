"""Signals at random instants: every verb, SIGINT and SIGTERM, each outcome checked.

Each trial starts one `seqattn` command on a tiny synthetic task, sends SIGINT (to the whole
process group, as Ctrl-C does) or SIGTERM (to the process, as `kill PID` does) after a
delay drawn uniformly from the first seconds of the command's life (Python's start-up,
imports, setup, work), and checks what the documentation promises:

  stopped   exit 130, the last line of stderr `seqattn: interrupted by SIGINT ...`
  saved     (train, once set up) the step finishes, a checkpoint is saved: exit 0 and
            `checkpoint saved; continue with: seqattn train --resume RUN_DIR`
  finished  the command ended before the signal was sent or as it came (exit 0)
  startup   the signal landed in Python's own start-up, before the first line of seqattn ran:
            Python ends the process (killed by the signal, or its KeyboardInterrupt with no
            seqattn code in the traceback)

and, whatever the outcome: no seqattn traceback, the process ends within 20 s of the signal,
no process of its group is left running, a new run interrupted during setup is removed, and
an interrupted `prepare` leaves no temporary folder and no incomplete one (the finished
folder is renamed into place at once, so a late signal may find it there, complete).

    python benchmarks/signal_campaign.py                       # 20 trials per verb and signal
    python benchmarks/signal_campaign.py --trials 5 --verbs train,serve --json signals.json
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kill_resume import _write_pairs  # noqa: E402 (the same tiny synthetic task)

BOUND_S = 20.0  # how long a signalled command may take to end
VERBS = ("train", "prepare", "translate", "evaluate", "score", "explain", "serve", "study")


@dataclass
class Trial:
    verb: str
    signal: str
    delay_s: float
    outcome: str  # stopped / saved / finished / startup, or "problem"
    problem: str | None
    returncode: int | None
    ended_s: float | None  # seconds from the signal to the end
    last_line: str


# ----------------------------------------------------------------------------- the world
def make_world(folder: Path) -> Path:
    """Tiny data, configs and one trained run under `folder` (seconds)."""
    import yaml

    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    tree = {"name": "tiny",
            "data": {"train": _write_pairs(data, "train", 200, 1), "dev": _write_pairs(data, "dev", 20, 2),
                     "test": _write_pairs(data, "test", 20, 3),
                     "subword": {"type": "bpe", "vocab_size": 60, "joint": True}},
            "model": {"encoder": {"emb_size": 16, "hidden_size": 16, "dropout": 0.0},
                      "decoder": {"emb_size": 16, "hidden_size": 32, "dropout": 0.0},
                      "attention": {"type": "general"}},
            "train": {"batch_size": 16, "lr": 0.01, "max_steps": 100_000, "val_every": 20,
                      "log_every": 5, "early_stopping_patience": None, "seed": 3,
                      "samples": ["alpha beta gamma"], "precision": "fp32", "num_threads": 1},
            "decode": {"beam": 3, "batch_size": 8}}
    (folder / "train.yaml").write_text(yaml.safe_dump(tree), encoding="utf-8")
    big = dict(tree, data=dict(tree["data"], train=_write_pairs(data, "big", 150_000, 4)))
    (folder / "prepare.yaml").write_text(yaml.safe_dump(big), encoding="utf-8")
    _write_pairs(folder, "many", 20_000, 5)
    run = folder / "run"
    _seqattn(["train", str(folder / "train.yaml"), "--out", str(run), "train.max_steps=40"], check=True)
    return run


def _seqattn(argv: list[str], check: bool = False, **kw) -> subprocess.Popen | None:
    cmd = [sys.executable, "-m", "seqattn", *argv]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    if check:
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        return None
    return subprocess.Popen(cmd, env=env, start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def command(verb: str, world: Path, scratch: Path) -> tuple[list[str], float]:
    """The argv of one trial of `verb` and the window (seconds) its signal is drawn from."""
    run, many = str(world / "run"), str(world / "many.src")
    return {
        "train": (["train", str(world / "train.yaml"), "--out", str(scratch / "new")], 6.0),
        "prepare": (["prepare", str(world / "prepare.yaml"), "--out", str(scratch / "prep"),
                     "--workers", "2"], 6.0),
        "translate": (["translate", run, "--input", many, "--beam", "3"], 4.0),
        "evaluate": (["evaluate", run, "--src", many, "--ref", str(world / "many.tgt"),
                      "--output", str(scratch / "out.txt")], 4.0),
        "score": (["score", run, "--src", many, "--tgt", str(world / "many.tgt")], 4.0),
        "explain": (["explain", run, "alpha beta gamma delta"], 3.0),
        "serve": (["serve", run, "--port", "0"], 5.0),
        "study": (["study", "bottleneck", "--quick", "--out", str(scratch / "study")], 6.0),
    }[verb]


# ----------------------------------------------------------------------------- one trial
def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def judge(verb: str, name: str, rc: int | None, out: str, err: str, scratch: Path) -> tuple[str, str | None]:
    """(outcome, problem or None) for what one trial left."""
    lines = err.strip().splitlines()
    last = lines[-1] if lines else ""
    signum = int(getattr(signal, name))
    if rc is None:
        return "problem", f"still running {BOUND_S:.0f} s after {name}"
    if "seqattn" not in err and (rc == -signum or (rc == 1 and "KeyboardInterrupt" in err)):
        return "startup", None
    if "Traceback" in err:
        return "problem", f"a traceback (exit {rc}): {err[-600:]}"
    if rc == 130 and last.startswith(f"seqattn: interrupted by {name}"):
        if verb == "train" and "during setup" in last and (scratch / "new").exists():
            return "problem", "a new run interrupted during setup was left behind"
        prep = scratch / "prep"
        if verb == "prepare" and (list(scratch.glob(".prep.tmp-*"))
                                  or prep.exists() and not (prep / "manifest.json").exists()):
            return "problem", "an interrupted prepare left a temporary or incomplete folder behind"
        return "stopped", None
    if rc == 0 and verb != "train" and "seqattn: interrupted" not in err:
        return "finished", None  # (the signal came as it ended: Python runs no handler then)
    if verb == "train" and rc == 0 and f"interrupted by {name}" in out \
            and "checkpoint saved; continue with: seqattn train --resume" in err:
        return "saved", None
    return "problem", f"exit {rc}, last line {last!r}"


def trial(verb: str, name: str, delay: float, world: Path) -> Trial:
    scratch = Path(tempfile.mkdtemp(prefix=f"sig-{verb}-"))
    try:
        argv, _ = command(verb, world, scratch)
        proc = _seqattn(argv, cwd=scratch)
        time.sleep(delay)
        finished = proc.poll() is not None
        if not finished:
            if name == "SIGINT":
                os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
            else:
                proc.send_signal(signal.SIGTERM)  # `kill PID` reaches the main process only
        sent = time.monotonic()
        try:
            out, err = proc.communicate(timeout=BOUND_S)
            rc, ended = proc.returncode, time.monotonic() - sent
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            rc, ended = None, None
        if finished:
            outcome, problem = "finished", None if rc == 0 else f"exit {rc} unsignalled: {err[-300:]}"
            outcome = "problem" if problem else outcome
        else:
            outcome, problem = judge(verb, name, rc, out, err, scratch)
        deadline = time.monotonic() + 5
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
            outcome, problem = "problem", problem or "processes of its group were left running"
        lines = err.strip().splitlines()
        return Trial(verb, name, round(delay, 3), outcome, problem, rc,
                     None if ended is None else round(ended, 3), lines[-1] if lines else "")
    finally:
        if "proc" in locals() and _group_alive(proc.pid):  # (an error above: nothing left running)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        shutil.rmtree(scratch, ignore_errors=True)


def campaign(world: Path, verbs: list[str], trials: int, seed: int) -> list[Trial]:
    """`trials` random instants per verb and signal, in a shuffled order."""
    rng = random.Random(seed)
    jobs = [(v, s, rng.uniform(0, command(v, world, world)[1])) for v in verbs
            for s in ("SIGINT", "SIGTERM") for _ in range(trials)]
    rng.shuffle(jobs)
    return [trial(v, s, d, world) for v, s, d in jobs]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=20, help="random instants per verb and signal")
    p.add_argument("--verbs", default=",".join(VERBS))
    p.add_argument("--seed", type=int, default=None, help="default: a fresh one (printed)")
    p.add_argument("--json", help="write the trials and the summary here")
    a = p.parse_args()
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 30)
    verbs = a.verbs.split(",")
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="sig-world-") as folder:
        world = Path(folder)
        make_world(world)
        results = campaign(world, verbs, a.trials, seed)
    print(f"seed {seed}; {len(results)} trials in {time.time() - started:.0f} s")
    print(f"{'verb':10s} {'signal':8s} " + " ".join(f"{o:>9s}" for o in ("stopped", "saved", "finished",
                                                                         "startup", "problem")))
    for v in verbs:
        for s in ("SIGINT", "SIGTERM"):
            c = Counter(t.outcome for t in results if t.verb == v and t.signal == s)
            print(f"{v:10s} {s:8s} " + " ".join(f"{c[o]:9d}" for o in ("stopped", "saved", "finished",
                                                                       "startup", "problem")))
    problems = [t for t in results if t.problem]
    for t in problems:
        print(f"PROBLEM {t.verb} {t.signal} at {t.delay_s} s: {t.problem}")
    for t in results:
        if t.outcome == "startup":
            print(f"(startup: {t.verb} {t.signal} at {t.delay_s} s, exit {t.returncode})")
    ends = sorted(t.ended_s for t in results if t.ended_s is not None and t.outcome != "finished")
    if ends:
        print(f"signal to end: median {ends[len(ends) // 2]:.2f} s, max {ends[-1]:.2f} s")
    if a.json:
        from _common import write_json

        write_json(a.json, {"seed": seed, "trials": [asdict(t) for t in results],
                            "problems": len(problems)})
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
