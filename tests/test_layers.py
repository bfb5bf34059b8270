"""The import graph is layered: a module imports only its own component and lower layers.

Each line of LAYERS is a layer, lowest first; each entry a component (a module, or a
package with everything below it). Function-level imports count too.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "seqattn"

LAYERS = [
    ["seqattn.errors", "seqattn.version", "seqattn.stopping", "seqattn.choices"],  # choices: names users pick
    ["seqattn.safe_yaml", "seqattn.limits"],  # bounded YAML; the decoding limits
    ["seqattn.config", "seqattn.atomic", "seqattn.flags", "seqattn.lock"],
    ["seqattn.config_doc"],  # docs/CONFIG.md written from the schema
    ["seqattn.rundir", "seqattn.precision", "seqattn.runtime", "seqattn.viz", "seqattn.scoring"],
    ["seqattn.notebook"],  # Jupyter displays, drawn with viz
    ["seqattn.data"],
    ["seqattn.model.kernels"],  # the speed tricks, under
    ["seqattn.model"],  # the story
    ["seqattn.search", "seqattn.weights", "seqattn.decoding_copy", "seqattn.batches"],
    ["seqattn.results"],  # what translating returns
    ["seqattn.translator"],  # the façade
    ["seqattn.evaluate"],
    ["seqattn.train", "seqattn.explain"],
    ["seqattn.studies", "seqattn.serve"],
    ["seqattn.cli"],
    ["seqattn.program"],  # the program's entry: signal handling first, then the CLI
    ["seqattn.__main__", "seqattn"],  # `python -m seqattn`; the package root (`seqattn.load`)
]
RANK = {component: rank for rank, layer in enumerate(LAYERS) for component in layer}


def component(module: str) -> str:
    """The longest LAYERS entry that `module` is or lies under."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        if name in RANK:
            return name
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "seqattn"}
        elif isinstance(node, ast.ImportFrom) and node.module == "seqattn":  # `from seqattn import stopping`
            found |= {f"seqattn.{a.name}" for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "seqattn":
            found.add(node.module)
    return found


MODULES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_no_upward_imports(path):
    me = component(module_name(path))
    for target in imports(path):
        other = component(target)
        assert other == me or RANK[other] < RANK[me], (
            f"{module_name(path)} ({me}, layer {RANK[me]}) imports {target} ({other}, layer {RANK[other]})")


def test_no_module_is_too_long():
    lines = {module_name(p): len(p.read_text(encoding="utf-8").splitlines()) for p in MODULES}
    assert not {name: n for name, n in lines.items() if n > 420}


def test_no_page_script_is_too_long():
    static = SRC / "serve" / "static"  # the page's scripts, ES modules
    scripts = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in static.glob("*.js")}
    assert scripts and not {name: n for name, n in scripts.items() if n > 300}
