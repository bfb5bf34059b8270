"""An exported folder: loaded without torch, checked whole, refused in one line when it is not."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import seqattn
from seqattn.cli import main
from seqattn.deploy import ExportedTranslator
from seqattn.deploy.manifest import sha256_file
from seqattn.errors import SeqattnError
from seqattn.export import export_run
from tests.deploy.runs import SENTENCES, make_run


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    run = make_run(folder, "char", rnn="lstm", attention="general", input_feeding=True)
    export_run(run, folder / "exported")
    return folder / "exported"


BLOCK_TORCH = textwrap.dedent("""
    import json, sys

    class NoTorch:  # as if torch were not installed
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError(f"No module named {name!r} (blocked by the test)")

    sys.meta_path.insert(0, NoTorch())
    import seqattn

    translator = seqattn.load(sys.argv[1])
    found = translator.translate(json.loads(sys.argv[2]), beam=3, n_best=2)
    print(json.dumps({"torch": sorted(m for m in sys.modules if m.split(".")[0] == "torch"),
                      "kind": type(translator).__name__,
                      "texts": [[h.text for h in t.hypotheses] for t in found],
                      "attention": [list(t.attention.shape) for t in found]}))
""")


def test_runs_where_torch_cannot_be_imported(exported):
    proc = subprocess.run([sys.executable, "-c", BLOCK_TORCH, str(exported), json.dumps(SENTENCES[:3])],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["torch"] == [] and result["kind"] == "ExportedTranslator"
    expected = ExportedTranslator.load(exported, threads=1).translate(SENTENCES[:3], beam=3, n_best=2)
    assert result["texts"] == [[h.text for h in t.hypotheses] for t in expected]
    assert all(shape[0] == len(t.tgt_tokens) for shape, t in zip(result["attention"], expected))


def test_load_returns_the_exported_translator(exported):
    translator = seqattn.load(str(exported))
    assert isinstance(translator, ExportedTranslator)
    assert translator.translate(["alpha"])[0].hypotheses
    with pytest.raises(SeqattnError, match=r"does not offer step-by-step internals \(beam trees\)"):
        translator.translate(["alpha"], tree=True)
    with pytest.raises(SeqattnError, match="beam must be between 1 and 64"):
        translator.translate(["alpha"], beam=65)
    with pytest.raises(SeqattnError, match=r"decodes on the CPU with ONNX Runtime, with the weights it was "
                       r"exported with \(fp32\)"):
        seqattn.load(str(exported), quantize="int8")


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def _write_manifest(folder: Path, body: dict) -> None:
    (folder / "manifest.json").write_text(json.dumps(body))


DAMAGE = {  # id: (damage, part of the one-line message)
    "missing-file": (lambda f: (f / "decoder_step.onnx").unlink(),
                     "decoder_step.onnx: missing from the exported model"),
    "changed-file": (lambda f: (f / "encoder.onnx").write_bytes((f / "encoder.onnx").read_bytes() + b"\0"),
                     "encoder.onnx: changed since export (its SHA-256 is not the manifest's)"),
    "changed-vocabulary": (lambda f: (f / "vocab.src.json").write_text("{}"),
                           "vocab.src.json: changed since export"),
    "foreign-file": (lambda f: (f / "notes.txt").write_text("hello"),
                     "notes.txt: not part of the exported model"),
    "newer-format": (lambda f: _write_manifest(f, {**_manifest(f), "version": 99}),
                     "written in export format 99 by a newer seqattn"),
    "damaged-manifest": (lambda f: (f / "manifest.json").write_text('{"format": "seqattn-export", '),
                         "manifest.json: damaged manifest (not JSON)"),
    "no-manifest": (lambda f: (f / "manifest.json").unlink(), "not an exported model (no manifest.json)"),
    "manifest-lists-a-path": (lambda f: _write_manifest(f, {**_manifest(f), "files": {
        **_manifest(f)["files"], "../run/config.yaml": "0" * 64}}),
        "damaged manifest (lists '../run/config.yaml')"),
}


@pytest.mark.parametrize("case", list(DAMAGE), ids=list(DAMAGE))
def test_a_damaged_folder_is_refused_in_one_line(case, exported, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(exported, folder)
    damage, expect = DAMAGE[case]
    damage(folder)
    with pytest.raises(SeqattnError) as err:
        ExportedTranslator.load(folder)
    assert expect in str(err.value) and "\n" not in str(err.value)


def test_an_opset_onnx_runtime_cannot_run_is_one_line(exported, tmp_path):
    import onnx

    folder = tmp_path / "copy"
    shutil.copytree(exported, folder)
    graph = onnx.load(str(folder / "encoder.onnx"))
    graph.opset_import[0].version = 999  # (an opset from the future)
    onnx.save(graph, str(folder / "encoder.onnx"))
    body = _manifest(folder)
    body["files"] = {**body["files"], "encoder.onnx": sha256_file(folder / "encoder.onnx")}
    _write_manifest(folder, body)
    expect = r"encoder.onnx: ONNX Runtime .* cannot load this graph \(opset 17\)"
    with pytest.raises(SeqattnError, match=expect):
        ExportedTranslator.load(folder)


def test_export_refuses_and_leaves_nothing(exported, tmp_path, monkeypatch, capsys):
    run = make_run(tmp_path, "char", rnn="gru", attention="dot")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    assert main(["export", str(run), "--out", str(tmp_path / "busy")]) == 2
    assert "busy: already exists and is not empty" in capsys.readouterr().err
    assert main(["export", str(exported), "--out", str(tmp_path / "out")]) == 2  # (an export is no run)
    assert "is an exported model, not a run directory: export the run" in capsys.readouterr().err
    before = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.setattr("seqattn.export.disagreement", lambda *a: "sentence 1, output 1: made up by the test")
    assert main(["export", str(run), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the exported graphs disagree with the PyTorch model (sentence 1" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no folder, no temporary, no lock


def test_an_exported_folder_is_not_a_run_to_resume(exported, capsys):
    assert main(["train", "--resume", str(exported)]) == 2
    assert (f"{exported} is an exported model, not a run directory: training resumes from the run it was "
            "exported from") in capsys.readouterr().err
