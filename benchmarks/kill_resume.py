"""Kill training with SIGKILL at random moments, resume it, and check the final weights are bit-identical.

Each trial starts `seqattn train` on a tiny synthetic task (CPU, fp32, one thread), kills it
with SIGKILL, runs `seqattn train --resume RUN_DIR` and compares the final weights (best and
last), optimizer and RNG state with those of an uninterrupted run of the same config and
seed. Trials cycle through four kinds of moment, each at a random point:

  timer       SIGKILL from outside after a random delay (uniform over the reference run's
              training time, counted from the moment config.yaml exists)
  step        inside a training step (after backward, before the optimizer update)
  validation  inside a validation (after translating the dev set, before scoring it)
  checkpoint  inside a checkpoint write: the temp file is cut to half its size, then the
              process is killed before the rename (as a kill during the write would leave it)

    python benchmarks/kill_resume.py                     # 20 trials, table on stdout
    python benchmarks/kill_resume.py --json kill.json    # also write the results as JSON
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_json  # noqa: E402

PHASES = ("timer", "step", "validation", "checkpoint")
WORDS = "alpha beta gamma delta omega sigma kappa theta zeta lambda".split()


# ----------------------------------------------------------------------------- the task


def _write_pairs(folder: Path, name: str, n: int, seed: int) -> dict[str, str]:
    """Source: random words; target: the words upper-cased, reversed."""
    rng = random.Random(seed)
    src, tgt = [], []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 6))]
        src.append(" ".join(words))
        tgt.append(" ".join(w.upper() for w in reversed(words)))
    (folder / f"{name}.src").write_text("".join(s + "\n" for s in src), encoding="utf-8")
    (folder / f"{name}.tgt").write_text("".join(t + "\n" for t in tgt), encoding="utf-8")
    return {"src": str(folder / f"{name}.src"), "tgt": str(folder / f"{name}.tgt")}


def make_config(folder: Path, steps: int = 60, val_every: int = 10, heatmaps: int = 1) -> Path:
    """Write a tiny corpus and a config that exercises dropout, scheduled sampling and plateau."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    tree = {
        "name": "killresume",
        "data": {"train": _write_pairs(folder, "train", 200, 1), "dev": _write_pairs(folder, "dev", 20, 2),
                 "test": _write_pairs(folder, "test", 20, 3),
                 "subword": {"type": "bpe", "vocab_size": 60, "joint": True}},
        "model": {"encoder": {"emb_size": 16, "hidden_size": 16, "dropout": 0.2},
                  "decoder": {"emb_size": 16, "hidden_size": 32, "dropout": 0.2, "input_feeding": True},
                  "attention": {"type": "general"}},
        "train": {"seed": 3, "batch_size": 8, "lr": 0.01, "max_steps": steps, "val_every": val_every,
                  "log_every": 5, "scheduled_sampling": 0.2, "schedule": {"type": "plateau", "patience": 0},
                  "early_stopping_patience": None, "keep_checkpoints": 2, "num_threads": 1,
                  "device": "cpu", "heatmaps": heatmaps, "samples": ["alpha beta gamma"]},
        "decode": {"beam": 2, "batch_size": 8},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- the child


def _die(note: str) -> None:
    print(f"KILLED AT {note}", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def install_hook(phase: str, at: int) -> None:
    """Make this process SIGKILL itself at the `at`-th event of `phase`."""
    calls = {"n": 0}

    def hit() -> bool:
        calls["n"] += 1
        return calls["n"] == at

    if phase == "step":
        import torch.nn.utils

        clip = torch.nn.utils.clip_grad_norm_

        def clip_then_maybe_die(*args, **kwargs):
            if hit():
                _die(f"training step {at} (after backward)")
            return clip(*args, **kwargs)

        torch.nn.utils.clip_grad_norm_ = clip_then_maybe_die
    elif phase == "validation":
        from seqattn.translator import Translator

        translate = Translator.translate

        def translate_then_maybe_die(self, *args, **kwargs):
            out = translate(self, *args, **kwargs)
            if hit():
                _die(f"translate call {at} (in a validation or its heatmaps)")
            return out

        Translator.translate = translate_then_maybe_die
    elif phase == "checkpoint":
        replace = os.replace

        def cut_and_die(src, dst, *args, **kwargs):
            if "checkpoints" in Path(dst).parts and hit():
                os.truncate(src, os.path.getsize(src) // 2)
                _die(f"checkpoint file {at}: {Path(dst).parent.name}/{Path(dst).name}, cut in half")
            return replace(src, dst, *args, **kwargs)

        os.replace = cut_and_die
    else:
        raise ValueError(f"unknown phase {phase}")


def child(argv: list[str]) -> int:
    """`child PHASE AT -- seqattn args`: run the seqattn CLI with a kill hook installed."""
    phase, at, sep, *args = argv
    assert sep == "--"
    install_hook(phase, int(at))
    from seqattn.cli import main

    return main(args)


# ----------------------------------------------------------------------------- the parent


def _seqattn(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "seqattn", *args]


def run_to_end(cmd: list[str], run_dir: Path, timeout: float = 600) -> dict:
    """Run a command; return its exit status, output and how long training ran after config.yaml."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    config_at = None
    while proc.poll() is None:
        if config_at is None and (run_dir / "config.yaml").is_file():
            config_at = time.perf_counter()
        if time.perf_counter() - started > timeout:
            proc.kill()
        time.sleep(0.01)
    out, err = proc.communicate()
    ended = time.perf_counter()
    return {"rc": proc.returncode, "stdout": out, "stderr": err, "seconds": ended - started,
            "train_seconds": ended - (config_at or started)}


def kill_after(cmd: list[str], run_dir: Path, delay: float, timeout: float = 600) -> dict:
    """Start a command, wait until `run_dir/config.yaml` exists, then SIGKILL it after `delay` s."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while proc.poll() is None and not (run_dir / "config.yaml").is_file():
        if time.perf_counter() - started > timeout:
            break
        time.sleep(0.005)
    deadline = time.perf_counter() + delay
    while proc.poll() is None and time.perf_counter() < deadline:
        time.sleep(0.002)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    return {"rc": proc.returncode, "stderr": err, "killed": killed,
            "seconds": time.perf_counter() - started}


def final_tensors(run_dir: Path) -> dict:
    """Best weights, and the last checkpoint's weights, optimizer and RNG state."""
    from seqattn.train.checkpoint import MODEL, OPTIMIZER, latest_checkpoint
    from seqattn.weights import read_tensors

    last = latest_checkpoint(run_dir / "checkpoints")
    tensors = {f"best/{k}": v for k, v in read_tensors(run_dir / "model.safetensors").items()}
    tensors.update({f"last/{k}": v for k, v in read_tensors(last / MODEL).items()})
    tensors.update({f"optimizer/{k}": v for k, v in read_tensors(last / OPTIMIZER).items()})
    return tensors


def _bits(t):
    import torch

    return t.detach().contiguous().reshape(-1).view(torch.uint8)


def differences(a: dict, b: dict) -> list[str]:
    """Names of tensors that differ in any bit (or exist on one side only)."""
    import torch

    names = sorted(set(a) | set(b))
    return [n for n in names if n not in a or n not in b or a[n].dtype != b[n].dtype
            or a[n].shape != b[n].shape or not torch.equal(_bits(a[n]), _bits(b[n]))]


def _resumed_from(run_dir: Path) -> str:
    log = (run_dir / "train.log").read_text(encoding="utf-8", errors="replace").splitlines()
    notes = [line for line in log if "resumed from" in line or "no checkpoint yet" in line]
    if not notes:
        return "?"
    last = notes[-1]
    return last.split("resumed from ", 1)[1].split(" ")[0] if "resumed from" in last else "scratch"


def run_trial(cfg: Path, run_dir: Path, phase: str, at: int | None = None, delay: float | None = None,
              reference: dict | None = None) -> dict:
    """One kill + resume; returns what happened and whether the final tensors match `reference`."""
    started = time.perf_counter()
    args = ["train", str(cfg), "--out", str(run_dir)]
    if phase == "timer":
        killed = kill_after(_seqattn(args), run_dir, float(delay))
        point = f"after {delay:.2f} s"
    else:
        killed = run_to_end([sys.executable, __file__, "child", phase, str(at), "--", *args], run_dir)
        killed["killed"] = killed["rc"] == -signal.SIGKILL
        notes = [line for line in killed["stderr"].splitlines() if line.startswith("KILLED AT ")]
        point = notes[-1].removeprefix("KILLED AT ") if notes else f"event {at} never came"
    was_killed = killed["killed"]
    if not was_killed and killed["rc"] != 0:
        raise RuntimeError(f"trial run failed (rc {killed['rc']}):\n{killed['stderr'][-2000:]}")
    resumed = run_to_end(_seqattn(["train", "--resume", str(run_dir)]), run_dir)
    result = {"phase": phase, "point": point, "killed": was_killed, "resume_rc": resumed["rc"],
              "resumed_from": _resumed_from(run_dir) if resumed["rc"] == 0 else "-",
              "fell_back": "previous good checkpoint" in resumed["stderr"]}
    if resumed["rc"] != 0:
        result.update(match=False, differing=[f"resume failed: {resumed['stderr'].strip()[-300:]}"])
    else:
        diff = differences(reference or {}, final_tensors(run_dir)) if reference is not None else []
        result.update(match=not diff, differing=diff[:5])
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def _table(rows: list[dict]) -> str:
    head = (f"{'#':>2}  {'moment':<11} {'where the kill landed':<64} {'resumed from':<14} "
            f"{'match':<5} {'s':>5}")
    lines = [head, "-" * len(head)]
    for i, r in enumerate(rows, start=1):
        where = r["point"] if r["killed"] else f"{r['point']} (finished before the kill)"
        lines.append(f"{i:>2}  {r['phase']:<11} {where[:64]:<64} {r['resumed_from']:<14} "
                     f"{'yes' if r['match'] else 'NO':<5} {r['seconds']:>5.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--seed", type=int, default=0, help="seed for the kill moments")
    p.add_argument("--steps", type=int, default=60, help="training steps of the tiny run")
    p.add_argument("--json", metavar="PATH", help="also write the results here")
    p.add_argument("--workdir", metavar="DIR", help="keep the runs here (default: a temp folder)")
    a = p.parse_args(argv)
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory(prefix="kill_resume.") as tmp:
        work = Path(a.workdir or tmp)
        val_every = 10
        cfg = make_config(work / "data", a.steps, val_every)
        ref_dir = work / "reference"
        ref = run_to_end(_seqattn(["train", str(cfg), "--out", str(ref_dir)]), ref_dir)
        if ref["rc"] != 0:
            print(ref["stderr"][-2000:], file=sys.stderr)
            return 1
        reference = final_tensors(ref_dir)
        print(f"reference run: {ref['seconds']:.1f} s ({ref['train_seconds']:.1f} s after config.yaml); "
              f"{len(reference)} tensors compared per trial", flush=True)
        checkpoints = a.steps // val_every + (a.steps % val_every > 0)
        events = {"step": a.steps, "validation": 2 * checkpoints, "checkpoint": 4 * checkpoints}
        rows = []
        for i in range(a.trials):
            phase = PHASES[i % len(PHASES)]
            at = rng.randint(1, events[phase]) if phase != "timer" else None
            delay = rng.uniform(0, ref["train_seconds"]) if phase == "timer" else None
            row = run_trial(cfg, work / f"trial{i + 1:02d}", phase, at, delay, reference)
            rows.append(row)
            print(_table(rows).splitlines()[-1], flush=True)
        matched = sum(r["match"] for r in rows)
        print()
        print(_table(rows))
        print(f"\n{matched}/{len(rows)} resumed runs bit-identical to the uninterrupted run")
        if a.json:
            import torch

            write_json(a.json, {
                "matched": matched, "trials": len(rows), "steps": a.steps, "val_every": val_every,
                "seed": a.seed, "reference_seconds": round(ref["seconds"], 2),
                "tensors_compared": len(reference),
                "torch": torch.__version__, "python": platform.python_version(),
                "machine": platform.machine(), "rows": rows})
    return 0 if matched == len(rows) else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        sys.exit(child(sys.argv[2:]))
    sys.exit(main())
