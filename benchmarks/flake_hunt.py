"""Run the tests that use time, signals, sockets or subprocesses many times in a row, on a busy
machine, and count how often each fails and whether any process is left running.

A test file is selected when its source starts processes or threads, sends signals, opens
sockets or sleeps (the markers below), so new tests of that kind are hunted too. Each
repetition runs the selected files in one pytest process (`--junitxml` records every test),
marked in its environment so that a process it leaves behind is found (and killed) and no
other process is ever touched;
with `--load` the rest of the suite runs alongside, over and over, so the tests see a
machine as busy as CI's.

    python benchmarks/flake_hunt.py --repeat 20 --load --json flakes.json
    python benchmarks/flake_hunt.py --repeat 5 --files tests/test_signals.py
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MARKERS = re.compile(r"subprocess|Popen|os\.kill|signal\.|socket|time\.sleep|threading|serve_app|"
                     r"live_server|uvicorn|multiprocessing|kill_resume|nbclient")


def selected_files() -> list[Path]:
    return sorted(p for p in (REPO / "tests").rglob("test_*.py")
                  if MARKERS.search(p.read_text(encoding="utf-8")))


MARK = "SEQATTN_FLAKE_HUNT"  # set in the environment of every test process this script starts


def marked_processes(mark: str) -> set[int]:
    """Pids of running processes that inherited `MARK=mark` (started by the hunted tests,
    however they were re-parented), never anyone else's."""
    found, want = set(), f"{MARK}={mark}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if want in (entry / "environ").read_bytes().split(b"\0"):
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def _results(xml: Path) -> dict[str, str | None]:
    """test id -> None (passed or skipped) or its failure message."""
    out: dict[str, str | None] = {}
    if not xml.is_file():
        return out
    for case in ET.parse(xml).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        out[name] = None if bad is None else (bad.get("message") or "")[:300]
    return out


def _load(files: list[Path], stop_at: float) -> subprocess.Popen:
    """The rest of the suite, in a loop, until `stop_at` (its own process group)."""
    ignores = " ".join(f"--ignore={f}" for f in files)
    script = (f"while [ $(date +%s) -lt {int(stop_at)} ]; do "
              f"{sys.executable} -m pytest -q -p no:cacheprovider -x {ignores} -m 'not distributed' "
              f"--basetemp={tempfile.gettempdir()}/flake-hunt-load "
              f">/dev/null 2>&1; done")
    return subprocess.Popen(["bash", "-c", script], cwd=REPO, start_new_session=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--files", nargs="*", help="test files (default: every selected file)")
    p.add_argument("--load", action="store_true", help="run the rest of the suite alongside")
    p.add_argument("-k", dest="keyword", help="pytest -k expression within the files")
    p.add_argument("--json", help="write the counts here")
    a = p.parse_args()
    files = [Path(f).resolve() for f in a.files] if a.files else selected_files()
    print("files:", " ".join(str(f.relative_to(REPO)) for f in files))
    runs: Counter = Counter()
    failures: dict[str, list[str]] = {}
    leftovers: list[str] = []
    load = _load(files, time.time() + 10**6) if a.load else None
    started = time.time()
    try:
        for rep in range(a.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                xml = Path(tmp) / "r.xml"
                cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}",
                       f"--basetemp={tmp}/t", *map(str, files), *(["-k", a.keyword] if a.keyword else [])]
                env = {**os.environ, MARK: f"{os.getpid()}-{rep}"}
                rc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env).returncode
                results = _results(xml)
            for name, message in results.items():
                runs[name] += 1
                if message is not None:
                    failures.setdefault(name, []).append(message)
            time.sleep(1)  # (a process stopped at the very end has a moment to go)
            left = marked_processes(f"{os.getpid()}-{rep}")
            if left:
                leftovers.append(f"repetition {rep + 1}: pids {sorted(left)}")
                for pid in left:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            bad = sum(1 for m in results.values() if m is not None)
            print(f"repetition {rep + 1}/{a.repeat}: exit {rc}, {len(results)} tests, {bad} failed, "
                  f"{time.time() - started:.0f} s", flush=True)
    finally:
        if load:
            os.killpg(load.pid, signal.SIGKILL)
            load.wait()
    print(f"{len(runs)} tests x {a.repeat} repetitions{' under load' if a.load else ''}: "
          f"{sum(len(v) for v in failures.values())} failures, {len(leftovers)} repetitions left processes")
    for name, messages in sorted(failures.items()):
        print(f"  {len(messages)}/{runs[name]}  {name}: {messages[0]}")
    for line in leftovers:
        print("  left running:", line)
    if a.json:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _common import write_json

        write_json(a.json, {"repeat": a.repeat, "load": a.load, "files": [str(f.relative_to(REPO))
                                                                          for f in files],
                            "tests": len(runs), "failures": {k: {"failed": len(v), "runs": runs[k],
                                                                 "first": v[0]} for k, v in failures.items()},
                            "leftovers": leftovers, "seconds": round(time.time() - started)})
    sys.exit(1 if failures or leftovers else 0)


if __name__ == "__main__":
    main()
