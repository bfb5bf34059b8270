"""How often does the bf16 probe answer differently from one process to the next?

`precision: auto` trains in bf16 only where `seqattn.precision.probe_bf16` finds bf16 native.
A run and its resume are separate processes, so the answer must not change between them. This
script starts `--trials` fresh processes per probe and counts the answers: the current probe,
and (with `--against COMMIT`) the probe of an older commit, taken from git into a temporary
folder. Run it while the machine is busy (e.g. beside the test suite): an answer that depends
on timing shows there.

    python benchmarks/probe_stability.py --trials 100 --against 1675abc --json out.json
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, print_environment, write_json  # noqa: E402

ASK = "import torch, {module} as p; print(p.probe_bf16(torch.device('cpu')).native)"


def answer(module: str, path: str | None) -> str:
    """'True' or 'False' from a fresh process (or its last error line)."""
    code = (f"import sys; sys.path.insert(0, {path!r}); " if path else "") + ASK.format(module=module)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return done.stdout.strip() or (done.stderr.strip().splitlines() or ["no answer"])[-1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=100, help="fresh processes per probe")
    ap.add_argument("--against", metavar="COMMIT", help="also ask the probe of this commit")
    ap.add_argument("--json", help="write the answers here")
    a = ap.parse_args()
    env = print_environment()
    with tempfile.TemporaryDirectory(prefix="probe.") as tmp:
        probes = {"current": ("seqattn.precision", None)}
        if a.against:
            source = subprocess.run(["git", "show", f"{a.against}:src/seqattn/precision.py"], cwd=REPO,
                                    capture_output=True, text=True, check=True).stdout
            (Path(tmp) / "precision_then.py").write_text(source, encoding="utf-8")
            probes[a.against] = ("precision_then", tmp)
        answers: dict[str, list[str]] = {name: [] for name in probes}
        for i in range(a.trials):
            for name, (module, path) in probes.items():  # (interleaved: both see the same load)
                answers[name].append(answer(module, path))
            print(f"{i + 1:>4}  " + "  ".join(f"{n}: {v[-1]}" for n, v in answers.items()), flush=True)
    summary = {name: {"trials": len(v), "native": v.count("True"), "not_native": v.count("False"),
                      "other": len(v) - v.count("True") - v.count("False")} for name, v in answers.items()}
    for name, s in summary.items():
        print(f"{name}: native in {s['native']} of {s['trials']} processes, not native in {s['not_native']}")
    write_json(a.json, {"summary": summary, "answers": answers, "environment": env})
    changed = [n for n, s in summary.items() if s["native"] and s["native"] != s["trials"]]
    return 1 if "current" in changed else 0


if __name__ == "__main__":
    sys.exit(main())
