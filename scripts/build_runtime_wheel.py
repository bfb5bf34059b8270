"""Build the wheel of `seqattn-runtime`: the same `seqattn` package and console script as the
full distribution, with only the torch-free dependencies (the `runtime` extra of pyproject.toml).

    python scripts/build_runtime_wheel.py --outdir dist    # dist/seqattn_runtime-VERSION-py3-none-any.whl

Extras can only add dependencies, never drop torch, so an install without torch needs a
distribution of its own (as opencv-python-headless is to opencv-python). It is not a second
pyproject kept by hand: this script copies pyproject.toml, README.md and src/ into a temporary
folder, changes the name, the description and the dependencies there, and runs `python -m build
--wheel` on the copy. Install one of the two distributions, never both: they hold the same files.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10 (build brings tomli there)
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
NAME = "seqattn-runtime"
SUMMARY = ("seqattn without PyTorch: translate, evaluate and score with models exported by "
           "`seqattn export` (ONNX Runtime)")


def runtime_pyproject(text: str) -> str:
    """pyproject.toml's text with the name, description and dependencies of seqattn-runtime and no
    extras; ValueError when its layout is not the one this expects."""
    project = tomllib.loads(text)["project"]
    deps = project["optional-dependencies"]["runtime"]
    new, n_name = re.subn(r'(?m)^name = "seqattn"$', f'name = "{NAME}"', text)
    new, n_desc = re.subn(r'(?m)^description = ".*"$', f'description = "{SUMMARY}"', new)
    block = "dependencies = [\n" + "".join(f'  "{d}",\n' for d in deps) + "]\n"
    new, n_deps = re.subn(r'(?ms)^dependencies = \[\n.*?^\]\n', lambda _: block, new)
    new, n_extras = re.subn(r'(?ms)^\[project\.optional-dependencies\]\n.*?(?=^\[)', "", new)
    if (n_name, n_desc, n_deps, n_extras) != (1, 1, 1, 1):
        raise ValueError("pyproject.toml: expected one name, description, dependencies list and "
                         "[project.optional-dependencies] table; update scripts/build_runtime_wheel.py")
    made = tomllib.loads(new)["project"]
    if made["name"] != NAME or made["dependencies"] != deps or "optional-dependencies" in made:
        raise ValueError("scripts/build_runtime_wheel.py: the rewritten pyproject.toml is not as meant")
    return new


def build(outdir: Path, quiet: bool = True) -> Path:
    """Build the seqattn-runtime wheel into `outdir`; returns its path."""
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="seqattn-runtime-") as tmp:
        tree = Path(tmp)
        shutil.copy2(REPO / "README.md", tree / "README.md")
        shutil.copytree(REPO / "src", tree / "src",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
        (tree / "pyproject.toml").write_text(runtime_pyproject(text), encoding="utf-8")
        before = set(outdir.glob("seqattn_runtime-*.whl"))
        proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir.resolve()),
                               str(tree)], capture_output=quiet, text=True)
        if proc.returncode != 0:
            sys.stderr.write((proc.stdout or "") + (proc.stderr or ""))
            raise SystemExit(f"python -m build --wheel (seqattn-runtime) failed: status {proc.returncode}")
    wheels = set(outdir.glob("seqattn_runtime-*.whl"))
    return max(wheels - before or wheels, key=lambda w: w.stat().st_mtime)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--outdir", type=Path, default=REPO / "dist", help="where the wheel goes (default: dist/)")
    p.add_argument("--verbose", action="store_true", help="show the build's output")
    a = p.parse_args(argv)
    print(build(a.outdir, quiet=not a.verbose))
    return 0


if __name__ == "__main__":
    sys.exit(main())
