"""The page's scripts: ES modules (static/*.js), their import graph, how they are served, and
their pure parts' unit tests, which run under Node's own test runner (tests/js/*.test.mjs).

The Node tests are skipped, with the reason, when `node` is not on PATH.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from seqattn.serve.assets import STATIC_DIR

ROOT = Path(__file__).resolve().parents[2]
JS_TESTS = ROOT / "tests" / "js"
ENTRY = "app.js"
# modules with no DOM: Node imports them, the unit tests in tests/js/ cover them
PURE = {"tokens.js", "colour.js", "format.js", "forms.js", "keys.js", "steps.js", "treelayout.js",
        "divergence.js", "prefix.js", "draws.js", "importance.js"}
IMPORT = re.compile(r"""^import\s[^;]*?\sfrom\s+["']([^"']+)["'];""", re.M)


def modules() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(STATIC_DIR.glob("*.js"))}


def imports(text: str) -> list[str]:
    return IMPORT.findall(text)


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH: the page's unit tests (tests/js/) need Node 18.15 or later")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    found = re.match(r"v(\d+)\.(\d+)", version)
    if not found or (int(found.group(1)), int(found.group(2))) < (18, 15):
        pytest.skip(f"node {version or '(unknown version)'} is too old: the tests need node:test and "
                    "--test-reporter (Node 18.15 or later)")
    return node


def test_node_unit_tests_pass():
    node = node_or_skip()
    files = sorted(JS_TESTS.glob("*.test.mjs"))
    assert files, f"no *.test.mjs under {JS_TESTS}"
    expected = sum(len(re.findall(r"^test\(", f.read_text(encoding="utf-8"), re.M)) for f in files)
    # files, not the folder: Node 21+ reads a folder argument as a file to run
    proc = subprocess.run([node, "--test", "--test-reporter=tap", *map(str, files)], cwd=ROOT,
                          capture_output=True, text=True, encoding="utf-8", timeout=180)
    report = proc.stdout[-8000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, report
    counts = dict(re.findall(r"^# (pass|fail) (\d+)$", proc.stdout, re.M))
    assert counts == {"pass": str(expected), "fail": "0"}, report  # every test( ran, and passed


def test_the_page_loads_one_module_that_imports_every_script():
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts == [f'<script type="module" src="/static/{ENTRY}">'], scripts
    code = modules()
    seen, todo = set(), [ENTRY]
    while todo:
        name = todo.pop()
        seen.add(name)
        for target in imports(code[name]):
            assert target.startswith("./") and target.endswith(".js"), f"{name} imports {target}"
            assert target[2:] in code, f"{name} imports {target}, which is not in static/"
            if target[2:] not in seen:
                todo.append(target[2:])
    assert seen == set(code), f"not imported by the page: {sorted(set(code) - seen)}"


def test_modules_share_no_globals_and_pure_ones_no_dom():
    for name, text in modules().items():
        assert not re.search(r"\b(window|globalThis|self)\s*\.", text), f"{name} uses a global object"
        assert not re.search(r"^var\s", text, re.M), f"{name} declares a var"
        if name in PURE:
            dom = re.search(r"\b(document|window|sessionStorage|fetch)\b", text)
            assert not dom, f"{name} is meant to be pure, and uses {dom and dom.group(0)}"
            assert set(t[2:] for t in imports(text)) <= PURE, f"{name} imports a module that uses the DOM"
    assert PURE <= set(modules())


def test_every_module_is_served_as_javascript(make_client):
    client = make_client()
    for name in modules():
        r = client.get(f"/static/{name}")
        assert r.status_code == 200, name
        kind = r.headers["content-type"].split(";")[0]
        assert kind in ("text/javascript", "application/javascript"), (name, kind)
