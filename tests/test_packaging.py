"""The packages' definitions, checked without building (scripts/check_wheel.py, run by .ci/run,
builds and installs them): every file of src/seqattn is package data or a module, and the
seqattn-runtime distribution is pyproject.toml with the runtime extra as its dependencies."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import REPO

try:
    import tomllib
except ImportError:  # Python 3.10 (pytest brings tomli there)
    import tomli as tomllib

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_file_of_the_package_is_a_module_or_package_data():
    """setuptools puts in the wheel the modules of packages (folders with __init__.py) and the
    files package-data's globs match: a file matched by neither (a new folder of page scripts,
    say) would be missing from an installed seqattn."""
    root = REPO / "src" / "seqattn"
    globs = PYPROJECT["tool"]["setuptools"]["package-data"]["seqattn"]
    data = {p for g in globs for p in root.glob(g) if p.is_file()}
    files = {p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    modules = {p for p in files if p.suffix == ".py" and (p.parent / "__init__.py").is_file()}
    assert not sorted(str(p.relative_to(root)) for p in files - data - modules)
    assert {"recipes/cmudict_g2p.yaml", "serve/static/app.js", "resources/kor.txt"} <= {
        p.relative_to(root).as_posix() for p in data}


def test_the_runtime_distribution_is_the_package_without_torch():
    build = _script("build_runtime_wheel")
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    made = tomllib.loads(build.runtime_pyproject(text))
    runtime = PYPROJECT["project"]["optional-dependencies"]["runtime"]
    assert made["project"]["name"] == "seqattn-runtime"
    assert made["project"]["dependencies"] == runtime and "optional-dependencies" not in made["project"]
    assert not [d for d in runtime if d.lower().startswith("torch")]
    assert made["project"]["scripts"] == PYPROJECT["project"]["scripts"]  # the same `seqattn` command
    assert made["tool"] == PYPROJECT["tool"]  # the same package, files and data
    with pytest.raises(ValueError, match="update scripts/build_runtime_wheel.py"):
        build.runtime_pyproject(text.replace('name = "seqattn"', 'name = "seqattn-full"'))

