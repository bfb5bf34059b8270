"""The import graph is layered: a module imports only its own component and lower layers.

Each line of LAYERS is a layer, lowest first; each entry a component (a module, or a
package with everything below it). Function-level imports count too.
"""

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "seqattn"

LAYERS = [
    ["seqattn.errors", "seqattn.version", "seqattn.stopping", "seqattn.choices"],  # choices: names users pick
    ["seqattn.safe_yaml", "seqattn.limits", "seqattn.hypotheses"],  # bounded YAML; decoding limits; results
    ["seqattn.config", "seqattn.atomic", "seqattn.flags", "seqattn.lock", "seqattn.recipe"],  # recipes
    ["seqattn.config_doc"],  # docs/CONFIG.md written from the schema
    ["seqattn.rundir", "seqattn.precision", "seqattn.runtime", "seqattn.viz", "seqattn.scoring"],
    ["seqattn.notebook"],  # Jupyter displays, drawn with viz
    ["seqattn.data"],
    ["seqattn.model.kernels"],  # the speed tricks, under
    ["seqattn.model"],  # the story
    ["seqattn.search", "seqattn.weights", "seqattn.decoding_copy", "seqattn.batches"],
    ["seqattn.results"],  # what translating returns
    ["seqattn.translator", "seqattn.deploy"],  # the façade; exported models, run without torch
    ["seqattn.ensemble"],  # several runs translating as one
    ["seqattn.evaluate", "seqattn.export"],  # export: a run -> ONNX graphs, checked against the model
    ["seqattn.train", "seqattn.explain"],
    ["seqattn.attribution"],  # attributions beside attention (explain's length limit)
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


# One owner per decision: each decision below is spelled in its owner module only; elsewhere it
# is imported. Text patterns (`scope`: the part of the package a rule covers), then the code's
# name lists (tuples, lists, sets, Literal[...]) and the numbers it uses as bounds.
SPELLINGS = [  # (decision, owner, pattern, scope)
    ("the --device flag", "flags.py", r"""add_argument\(\s*["']--device["']""", ""),
    ("the --precision flag", "flags.py", r"""add_argument\(\s*["']--precision["']""", ""),
    ("a server flag (a ServeOptions field)", "serve/options.py", r"""add_argument\(\s*["']--""", "serve/"),
    ("a decoding limit", "limits.py",
     r"^\s*MAX_(BEAM|BATCH_SENTENCES|LENGTH_PENALTY|SOURCE_TOKENS|OUTPUT_TOKENS|SAMPLES|SEED)\s*=(?!=)", ""),
    ("the output-length formula", "limits.py", r"max_len_a\s*\*|\*\s*[\w.]*max_len_a\b", ""),
    ("an attention-picture name", "rundir.py", r"""dev\{|dev\(\\d|/\s*["']attention["']""", ""),
]
NAME_LISTS = {"the device names": {"cpu", "cuda"}, "the precision names": {"bf16", "fp16"},  # choices.py
              "the ensemble rules": {"mean_logprob", "mean_prob"}}
LIMIT_VALUES = {64: "MAX_BEAM", 4096: "MAX_BATCH_SENTENCES", 1024: "MAX_OUTPUT_TOKENS"}  # limits.py
BOUND_KEYWORDS = {"le", "lt", "ge", "gt", "at_most", "at_least", "max", "min"}


def spelled_in_code(tree: ast.AST):
    """(line, decision, owner) for each name list and each limit used as a bound (compared
    with, a bound keyword's value, an argument of min() or max())."""
    for node in ast.walk(tree):
        numbers = []
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            names = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
            yield from ((node.lineno, what, "choices.py") for what, wanted in NAME_LISTS.items()
                        if wanted <= names)
        elif isinstance(node, ast.Compare):
            numbers = [node.left, *node.comparators]
        elif isinstance(node, ast.Call):
            numbers = [k.value for k in node.keywords if k.arg in BOUND_KEYWORDS]
            numbers += node.args if isinstance(node.func, ast.Name) and node.func.id in ("min", "max") else []
        yield from ((n.lineno, f"{n.value} as a bound ({LIMIT_VALUES[n.value]})", "limits.py")
                    for n in numbers if isinstance(n, ast.Constant) and n.value in LIMIT_VALUES)


def test_each_decision_is_spelled_by_its_owner_only():
    elsewhere = []
    for path in MODULES:
        rel, text = path.relative_to(SRC).as_posix(), path.read_text(encoding="utf-8")
        for decision, owner, pattern, scope in SPELLINGS:
            if rel != owner and rel.startswith(scope):
                elsewhere += [f"{rel}:{text.count(chr(10), 0, m.start()) + 1}: {decision} (owner: {owner})"
                              for m in re.finditer(pattern, text, flags=re.MULTILINE)]
        elsewhere += [f"{rel}:{line}: {decision} (owner: {owner})"
                      for line, decision, owner in spelled_in_code(ast.parse(text)) if rel != owner]
    assert not elsewhere, "\n".join(elsewhere)
