"""Nothing in seqattn can execute code from a file: no pickle, no unsafe torch.load, safe YAML only.

A static scan of every module under src/ (ast), checked against samples it must flag, and a
run-time tripwire: loading, resuming and translating a run with every unpickler booby-trapped.
"""

from __future__ import annotations

import ast
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO
from tests.train.runs import threads_restored

SRC = REPO / "src" / "seqattn"
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "shelve", "joblib", "jsonpickle"}
YAML_UNSAFE = {"unsafe_load", "unsafe_load_all", "full_load", "full_load_all"}


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _keyword(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _is_true(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def unsafe_uses(source: str, filename: str = "<src>") -> list[str]:
    """Every place in `source` that could unpickle or otherwise run code from a file."""
    tree = ast.parse(source, filename)
    found = []
    aliases: dict[str, str] = {}  # local name -> dotted origin, from imports
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
                if a.name.split(".")[0] in UNSAFE_MODULES:
                    found.append(f"{filename}:{node.lineno}: import {a.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            if node.module.split(".")[0] in UNSAFE_MODULES:
                found.append(f"{filename}:{node.lineno}: from {node.module} import ...")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        head, _, rest = name.partition(".")
        full = f"{aliases.get(head, head)}.{rest}" if rest else aliases.get(head, head)
        where = f"{filename}:{node.lineno}: {name}(...)"
        weights_only = _is_true(_keyword(node, "weights_only"))
        if full in ("torch.load", "torch.serialization.load") and not weights_only:
            found.append(f"{where} without weights_only=True")
        elif full in ("torch.jit.load", "torch.package.PackageImporter", "pandas.read_pickle"):
            found.append(where)
        elif full in ("numpy.load", "np.load") and _keyword(node, "allow_pickle") is not None and \
                not (isinstance(_keyword(node, "allow_pickle"), ast.Constant)
                     and _keyword(node, "allow_pickle").value is False):
            found.append(f"{where} with allow_pickle")
        elif full.startswith("yaml."):
            method = full.split(".")[-1]
            loader = _keyword(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
            safe_loader = loader is not None and _dotted(loader).split(".")[-1] in ("SafeLoader",
                                                                                    "CSafeLoader")
            if method in YAML_UNSAFE or (method in ("load", "load_all") and not safe_loader):
                found.append(f"{where}: use yaml.safe_load")
        elif full.split(".")[-1] in ("load", "loads", "Unpickler") and full.split(".")[0] in UNSAFE_MODULES:
            found.append(where)
    return found


@pytest.mark.parametrize("snippet", [
    "import pickle\npickle.load(open('x', 'rb'))",
    "import pickle as p\np.loads(b'')",
    "from pickle import loads",
    "import torch\ntorch.load('x.pt')",
    "import torch\ntorch.load('x.pt', weights_only=False)",
    "from torch import load\nload('x.pt')",
    "import torch as T\nT.load('x', map_location='cpu')",
    "import yaml\nyaml.load(open('c.yaml'))",
    "import yaml\nyaml.load(text, Loader=yaml.Loader)",
    "import yaml\nyaml.unsafe_load(text)",
    "import numpy as np\nnp.load('x.npy', allow_pickle=True)",
    "import joblib\njoblib.load('m.pkl')",
    "import torch\ntorch.jit.load('m.pt')",
])
def test_the_scan_flags_unsafe_loading(snippet):
    assert unsafe_uses(snippet)


@pytest.mark.parametrize("snippet", [
    "import torch\ntorch.load('x.pt', weights_only=True)",
    "import yaml\nyaml.safe_load(text)",
    "import yaml\nyaml.load(text, Loader=yaml.SafeLoader)",
    "import numpy as np\nnp.load('x.npy', mmap_mode='r')",
    "from safetensors.torch import load\nload(data)",
    "import json\njson.loads(text)",
])
def test_the_scan_passes_safe_loading(snippet):
    assert unsafe_uses(snippet) == []


def test_no_module_in_src_can_unpickle():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 20
    problems = [p for f in files
                for p in unsafe_uses(f.read_text(encoding="utf-8"), str(f.relative_to(REPO)))]
    assert problems == []


def test_loading_resuming_and_translating_never_unpickles(trained_run, tmp_path, monkeypatch):
    from seqattn.cli import main

    def tripwire(*args, **kwargs):
        raise AssertionError("something tried to unpickle")

    for module, name in [(pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")]:
        monkeypatch.setattr(module, name, tripwire)
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    source = Path(tmp_path / "in.txt")
    source.write_text("alpha beta\n", encoding="utf-8")
    with threads_restored():
        assert main(["train", "--resume", str(run), "train.max_steps=42", "train.heatmaps=0",
                     "train.num_threads=1"]) == 0
    assert main(["translate", str(run), "--input", str(source), "--beam", "2"]) == 0
