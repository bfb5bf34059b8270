"""Install the built packages into fresh virtual environments and run the main verbs from them.

    python -m build --outdir dist . && python scripts/build_runtime_wheel.py --outdir dist
    python scripts/check_wheel.py --dist dist [--sizes-json sizes.json]

First the wheel and the sdist must hold every file of src/seqattn (code, bundled data, recipes,
the page's files). Then, in a temporary folder, two virtual environments without the system's
packages. The full one gets torch 2.13.0 (the CPU wheel pip finds here; another request would pull
CUDA packages) and the seqattn wheel, with its `export` extra; from an empty working folder it
trains the bundled default and the cmudict_g2p recipe for 2 steps, translates, evaluates, exports,
serves (GET /, a page module, one POST /v1/translate; the server in its own process group, stopped
by its PID however the check ends) and refuses multi30k_deen, whose data is not shipped, in one
line. The runtime one gets the seqattn-runtime wheel alone: torch cannot be imported, the exported
folder translates as in the full one and evaluates, and train and serve say in one line that they
need PyTorch. The installed sizes (site-packages) are printed and, with --sizes-json, written.

Quiet on success but for the sizes; on a failure it prints the command, its status and output
and exits 1. The temporary folder is removed (--keep leaves it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"
TINY = ["train.max_steps=2", "train.val_every=2", "train.val_max_sentences=20", "train.max_minutes=null",
        "model.encoder.hidden_size=32", "model.decoder.hidden_size=64", "data.split.test_size=20",
        "decode.beam=2"]
G2P_TINY = [*TINY, "data.split.dev_size=20", "model.encoder.layers=1", "train.schedule.total_steps=2",
            "train.schedule.warmup_steps=1", "train.heatmaps=0"]
SOURCES = ["저는 AI를 좋아합니다", "나는 학생이에요.", "톰은 어디에 있어요?"]
REFERENCES = ["I like AI.", "I am a student.", "Where is Tom?"]
NEEDS_TORCH = "seqattn: error: seqattn {} needs PyTorch, which is not installed here: pip install torch"


class Failed(Exception):
    """A check that did not hold: what ran, and what it said."""


def package_files() -> set[str]:
    """Every file of the seqattn package in the source tree, as a wheel names it."""
    src = REPO / "src"
    return {p.relative_to(src).as_posix() for p in (src / "seqattn").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def check_contents(wheel: Path, runtime: Path, sdist: Path) -> None:
    """The wheels and the sdist hold every file of the package (the sdist under src/)."""
    want = package_files()
    for path in (wheel, runtime):
        with zipfile.ZipFile(path) as z:
            missing = want - set(z.namelist())
        if missing:
            raise Failed(f"{path.name} lacks {len(missing)} files of src/seqattn: {sorted(missing)[:10]}")
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    missing = {f"src/{f}" for f in want} - names
    if missing:
        raise Failed(f"{sdist.name} lacks {len(missing)} files of src/seqattn: {sorted(missing)[:10]}")


class Checker:
    """Runs commands in fresh virtual environments under `root`, from the empty folder root/work."""

    def __init__(self, root: Path) -> None:
        self.root, self.work = root, root / "work"
        self.work.mkdir()
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
        self.env.update(PYTHONNOUSERSITE="1", MPLCONFIGDIR=str(root / "mpl"), PIP_NO_INPUT="1",
                        PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONIOENCODING="utf-8")
        self.server: subprocess.Popen | None = None

    def bin(self, venv: str, name: str) -> str:
        return str(self.root / venv / "bin" / name)

    def run(self, cmd: list[str], *, status: int = 0, stdin: str = "", timeout: float = 600,
            ) -> tuple[str, str]:
        """Run `cmd` in its own process group (killed whole on a timeout); Failed unless it exits
        with `status`. Returns its stdout and stderr."""
        proc = subprocess.Popen(cmd, cwd=self.work, env=self.env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                start_new_session=True)
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise Failed(report(cmd, f"still running after {timeout:.0f} s (killed)", out, err)) from None
        if proc.returncode != status:
            raise Failed(report(cmd, f"exit status {proc.returncode} (expected {status})", out, err))
        return out, err

    def venv(self, name: str, *requirements: str) -> None:
        """A new virtual environment root/NAME (without the system's packages) with `requirements`
        installed, one after the other; Failed unless seqattn is then imported from it."""
        self.run([sys.executable, "-m", "venv", str(self.root / name)], timeout=300)
        self.install(name, *requirements)

    def install(self, name: str, *requirements: str) -> None:
        for req in requirements:
            self.run([self.bin(name, "python"), "-m", "pip", "install", "-q", req], timeout=1200)
        where, _ = self.run([self.bin(name, "python"), "-c", "import seqattn; print(seqattn.__file__)"])
        if not Path(where.strip()).is_relative_to(self.root / name):
            raise Failed(f"{name}: seqattn was imported from {where.strip()}, not from the installed wheel")

    def size(self, name: str) -> dict:
        """The installed size of the environment's site-packages, and its largest entries."""
        (site,) = (self.root / name / "lib").glob("python*/site-packages")
        sizes = {p.name: tree_bytes(p) for p in site.iterdir()}
        du, _ = self.run(["du", "-sk", str(site)])
        listed, _ = self.run([self.bin(name, "python"), "-m", "pip", "list", "--format", "json"])
        return {"bytes": sum(sizes.values()), "du_kib": int(du.split()[0]),
                "largest": dict(sorted(sizes.items(), key=lambda kv: -kv[1])[:8]),
                "packages": {p["name"]: p["version"] for p in json.loads(listed)}}

    # ------------------------------------------------------------------ the full install
    def full(self, wheel: Path) -> tuple[dict, dict]:
        self.venv("full", TORCH, str(wheel))
        base = self.size("full")
        self.install("full", f"{wheel}[export]")
        sq = self.bin("full", "seqattn")
        (self.work / "test.ko").write_text("".join(s + "\n" for s in SOURCES), encoding="utf-8")
        (self.work / "test.en").write_text("".join(s + "\n" for s in REFERENCES), encoding="utf-8")
        out, _ = self.run([sq, "train", "--out", "run", *TINY])
        expect(out, "test (beam 2)" in out and f"{SOURCES[0]}  ->" in out, "train: no test score or sample")
        out, _ = self.run([sq, "translate", "run", "--attention-out", "maps"],
                          stdin=(self.work / "test.ko").read_text(encoding="utf-8"))
        expect(out, len(out.splitlines()) == 3 and (self.work / "maps" / "0001.png").is_file(),
               "translate: not one line per source, or no heatmap")
        out, _ = self.run([sq, "evaluate", "run", "--src", "test.ko", "--ref", "test.en"])
        expect(out, out.startswith("BLEU") and "chrF" in out, "evaluate: no BLEU and chrF")
        self.run([sq, "export", "run", "--out", "exported"])
        expect("", (self.work / "exported" / "manifest.json").is_file(), "export: no manifest.json")
        exported, _ = self.run([sq, "translate", "exported", "--input", "test.ko"])
        self.serve(sq)
        out, _ = self.run([sq, "train", "cmudict_g2p", "--out", "g2p", *G2P_TINY])
        results = json.loads((self.work / "g2p" / "results.json").read_text())
        expect(out, "wer" in results.get("test", {}), "train cmudict_g2p: no test WER in results.json")
        _, err = self.run([sq, "train", "multi30k_deen", "--out", "m30k"], status=2)
        expect(err, err.strip().splitlines()[-1:] == ["seqattn: error: ../shared/data/multi30k/train.de.gz: "
                                                    "file not found"] and not (self.work / "m30k").exists(),
               "train multi30k_deen without its data: not the one line")
        return base, {"translated": exported}

    def serve(self, sq: str) -> None:
        """serve run on a free port in its own process group: GET /, a page module, one POST."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        log = (self.root / "serve.out").open("w+", encoding="utf-8")
        self.server = subprocess.Popen([sq, "serve", "run", "--port", str(port)], cwd=self.work, env=self.env,
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        try:
            deadline, page = time.monotonic() + 300, None
            while page is None:
                if self.server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    state = (f"exit status {self.server.returncode}" if self.server.returncode is not None
                             else "no answer within 300 s")
                    raise Failed(report(self.server.args, state, log.read(), ""))
                try:
                    page = http(f"{url}/")
                except urllib.error.HTTPError as exc:
                    raise Failed(f"serve: GET / answered {exc.code}") from None
                except OSError:  # not listening yet
                    time.sleep(0.5)
            script = http(f"{url}/static/app.js")
            body = json.dumps({"texts": [SOURCES[0]]}).encode()
            answer = json.loads(http(f"{url}/v1/translate", body))
            expect(page, '<script type="module" src="/static/app.js">' in page and "import" in script,
                   "serve: GET / or /static/app.js is not the page")
            expect(str(answer), len(answer["results"]) == 1 and answer["results"][0]["hypotheses"],
                   "serve: POST /v1/translate gave no hypothesis")
        finally:
            self.stop_server()
            log.close()

    def stop_server(self) -> None:
        if self.server is None:
            return
        try:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            pass
        try:  # whatever is left of its group
            os.killpg(self.server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.server.wait()
        self.server = None

    # ------------------------------------------------------------------ the runtime install
    def runtime(self, wheel: Path, translated: str) -> dict:
        self.venv("runtime", str(wheel))
        size = self.size("runtime")
        py, sq = self.bin("runtime", "python"), self.bin("runtime", "seqattn")
        _, err = self.run([py, "-c", "import torch"], status=1)
        expect(err, "No module named 'torch'" in err, "import torch did not fail for want of torch")
        out, _ = self.run([sq, "translate", "exported", "--input", "test.ko"])
        expect(out, out == translated, "translate EXPORTED: not what the full install's translate printed")
        out, _ = self.run([sq, "evaluate", "exported", "--src", "test.ko", "--ref", "test.en"])
        expect(out, out.startswith("BLEU") and "chrF" in out, "evaluate EXPORTED: no BLEU and chrF")
        out, err = self.run([sq, "translate", "exported", "--input", "test.ko", "--attention-out", "maps"],
                            status=2)
        expect(err, out == "" and err.strip().splitlines() == [
            "seqattn: error: seqattn translate needs matplotlib, which is not installed here: "
            "pip install matplotlib"], "translate --attention-out under seqattn-runtime: not one line "
               "before any output")
        for verb in ("train", "serve"):
            _, err = self.run([sq, verb, *(["exported"] if verb == "serve" else [])], status=2)
            expect(err, err.strip().splitlines() == [NEEDS_TORCH.format(verb)],
                   f"{verb} under seqattn-runtime: not the one line that it needs PyTorch")
        return size


def tree_bytes(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir() or p.is_symlink())


def http(url: str, body: bytes | None = None) -> str:
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/json"} if body else {})
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.read().decode("utf-8")


def expect(output: str, ok: bool, what: str) -> None:
    if not ok:
        raise Failed(f"{what}\n--- output:\n{output[-3000:]}")


def report(cmd, state: str, out: str, err: str) -> str:
    tail = lambda text: "\n".join(text.splitlines()[-40:])  # noqa: E731
    return f"{' '.join(map(str, cmd))}\n  {state}\n--- stdout:\n{tail(out)}\n--- stderr:\n{tail(err)}"


def the_one(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern))
    if len(found) != 1:
        raise Failed(f"{dist}: expected one {pattern}, found {[p.name for p in found]}")
    return found[0]


def machine() -> dict:
    cpu = platform.processor()
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=30).stdout.splitlines()
        cpu = next(x.split(":", 1)[1].strip() for x in lines if x.startswith("Model name:"))
    except (OSError, StopIteration, subprocess.SubprocessError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "date": time.strftime("%Y-%m-%d")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dist", type=Path, required=True,
                   help="folder with the seqattn wheel and sdist and the seqattn-runtime wheel")
    p.add_argument("--sizes-json", type=Path, metavar="PATH", help="write the installed sizes here")
    p.add_argument("--keep", action="store_true", help="leave the temporary folder (its path is printed)")
    a = p.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="seqattn-wheel-"))
    checker = None
    try:
        wheel, runtime = the_one(a.dist, "seqattn-*.whl"), the_one(a.dist, "seqattn_runtime-*.whl")
        check_contents(wheel, runtime, the_one(a.dist, "seqattn-*.tar.gz"))
        checker = Checker(root)
        base, made = checker.full(wheel)
        full_export = checker.size("full")
        small = checker.runtime(runtime, made["translated"])
    except Failed as exc:
        print(f"check_wheel: FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if checker is not None:
            checker.stop_server()
        if a.keep:
            print(f"check_wheel: left {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    sizes = {
        "what": "installed size of site-packages in a fresh virtual environment (scripts/check_wheel.py)",
        "machine": machine(),
        "full": {"installed": [TORCH, wheel.name], **base},
        "full_with_export": {"installed": [TORCH, f"{wheel.name}[export]"], **full_export},
        "runtime": {"installed": [runtime.name], **small},
        "runtime_over_full": round(small["bytes"] / base["bytes"], 4),
    }
    if a.sizes_json:
        a.sizes_json.write_text(json.dumps(sizes, indent=2) + "\n", encoding="utf-8")
    mb = lambda n: f"{n / 1e6:,.0f} MB"  # noqa: E731
    print(f"check_wheel: ok; installed sizes (site-packages): full {mb(base['bytes'])}, with the export "
          f"extra {mb(full_export['bytes'])}, seqattn-runtime {mb(small['bytes'])} "
          f"({sizes['runtime_over_full']:.0%} of full)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
