"""The verbs on an exported folder: translate, evaluate and score without torch, serve, the
refusals of what needs the model's internals, and int8 graphs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import seqattn
from seqattn.cli import main
from seqattn.deploy import ExportedTranslator
from seqattn.errors import SeqattnError
from seqattn.export import export_run
from seqattn.translator import Translator
from tests.deploy.runs import SENTENCES


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("verbs") / "tiny-export"
    export_run(trained_run, folder)
    return folder


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("texts")
    refs = ["GAMMA BETA ALPHA", "DELTA", "BETA BETA", "SIGMA OMEGA DELTA GAMMA"]
    paths = {"src": folder / "src.txt", "ref": folder / "ref.txt"}
    paths["src"].write_text("".join(SENTENCES[i] + "\n" for i in (0, 1, 3, 5)))
    paths["ref"].write_text("".join(r + "\n" for r in refs))
    return paths


NO_TORCH_CLI = textwrap.dedent("""
    import contextlib, io, json, runpy, sys

    class NoTorch:  # as if torch were not installed
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)

    sys.meta_path.insert(0, NoTorch())
    results = []
    for argv in json.loads(sys.argv[1]):
        out, err = io.StringIO(), io.StringIO()
        sys.argv = ["seqattn", *argv]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                runpy.run_module("seqattn", run_name="__main__", alter_sys=True)  # python -m seqattn
            except SystemExit as exit:
                code = exit.code
        results.append({"code": code, "out": out.getvalue(), "err": err.getvalue(),
                        "torch": sorted(m for m in sys.modules if m.split(".")[0] == "torch")})
    print(json.dumps(results))
""")


def test_translate_evaluate_and_score_run_where_torch_cannot_be_imported(exported, trained_run, files):
    """`python -m seqattn VERB DIR` with torch blocked: translate, evaluate and score answer as in
    a process with torch (and import none of it); translate given a run directory, and serve,
    say in one line that they need PyTorch."""
    d, src, ref = str(exported), str(files["src"]), str(files["ref"])
    commands = [["translate", d, "--input", src, "--beam", "3", "--n-best", "2", "--length-penalty", "0.5"],
                ["evaluate", d, "--src", src, "--ref", ref, "--metrics", "bleu,chrf,wer"],
                ["score", d, "--src", src, "--tgt", ref, "--tokens"],
                ["translate", str(trained_run), "--input", src], ["serve", d, "--port", "0"]]
    proc = subprocess.run([sys.executable, "-c", NO_TORCH_CLI, json.dumps(commands)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    translated, evaluated, scored, needs_torch, serve = json.loads(proc.stdout)
    for r in (translated, evaluated, scored):
        assert r["code"] in (0, None) and r["torch"] == [], r
    lines = files["src"].read_text().splitlines()
    found = ExportedTranslator.load(exported).translate(lines, beam=3, n_best=2, length_penalty=0.5)
    expect = [f"{i}\t{r}\t{h.score:.4f}\t{h.text}" for i, t in enumerate(found, 1)
              for r, h in enumerate(t.hypotheses, 1)]
    assert translated["out"].splitlines() == expect
    assert [line.split()[0] for line in evaluated["out"].splitlines()] == ["BLEU", "chrF", "WER", "ppl", "(4"]
    assert len(scored["out"].splitlines()) == 4
    assert needs_torch["code"] == 2 and needs_torch["err"].strip().splitlines() == [
        "seqattn: error: seqattn translate needs PyTorch, which is not installed here: pip install torch "
        "(a folder written by seqattn export runs without it)"]
    assert serve["code"] == 2 and serve["err"].strip().splitlines() == [
        "seqattn: error: seqattn serve needs PyTorch, which is not installed here: pip install torch"]


def test_cli_outputs_equal_the_library_and_the_run(exported, trained_run, files, capsys, tmp_path):
    lines = files["src"].read_text().splitlines()
    assert main(["translate", str(exported), "--input", str(files["src"]), "--beam", "3", "--n-best", "2",
                 "--attention-out", str(tmp_path / "maps")]) == 0
    found = ExportedTranslator.load(exported).translate(lines, beam=3, n_best=2)
    expect = [f"{i}\t{r}\t{h.score:.4f}\t{h.text}" for i, t in enumerate(found, 1)
              for r, h in enumerate(t.hypotheses, 1)]
    assert capsys.readouterr().out.splitlines() == expect
    assert sorted(p.name for p in (tmp_path / "maps").iterdir())[:2] == ["0001.png", "0001.svg"]
    # evaluate: the scores and the perplexity of the run directory (ppl from forced decoding)
    argv = ["--src", str(files["src"]), "--ref", str(files["ref"]), "--metrics", "chrf,wer", "--beam", "1"]
    assert main(["evaluate", str(exported), *argv]) == 0
    mine = capsys.readouterr().out.splitlines()
    assert main(["evaluate", str(trained_run), *argv, "--precision", "fp32"]) == 0
    theirs = capsys.readouterr().out.splitlines()
    assert mine[:2] == theirs[:2] and mine[3:] == theirs[3:]  # chrF, WER, the count
    assert float(mine[2].split()[1]) == pytest.approx(float(theirs[2].split()[1]), rel=1e-3)  # ppl
    # score: ExportedTranslator.score equals Translator.score
    refs = files["ref"].read_text().splitlines()
    a = ExportedTranslator.load(exported).score(lines, refs)
    b = Translator.load(trained_run, device="cpu").score(lines, refs)
    for x, y in zip(a, b):
        assert x.tgt_tokens == y.tgt_tokens and x.src_tokens == y.src_tokens and x.unknown == y.unknown
        assert np.allclose(x.logprobs, y.logprobs, atol=1e-3) and abs(x.score - y.score) < 1e-3
        assert np.abs(x.attention - y.attention).max() < 1e-3


REFUSED = {  # argv after the verb and the folder: part of the one line
    "explain": (["explain", "{d}", "alpha"],
                "does not offer step-by-step internals (explain); serve the run"),
    "precision": (["translate", "{d}", "--precision", "bf16"], "decodes on the CPU with ONNX Runtime"),
    "quantize": (["evaluate", "{d}", "--src", "{d}/manifest.json", "--ref", "{d}/manifest.json",
                  "--quantize", "int8"], "with the weights it was exported with (fp32)"),
    "device": (["score", "{d}", "--src", "{d}/manifest.json", "--tgt", "{d}/manifest.json",
                "--device", "cuda"], "device, precision and quantize are the run directory's choices"),
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_what_an_export_cannot_do_is_one_line(case, exported, capsys):
    argv, expect = REFUSED[case]
    assert main([a.replace("{d}", str(exported)) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expect in err[0], err


def test_serve_an_exported_folder_beside_a_run(exported, trained_run):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from seqattn.serve.app import create_app

    with TestClient(create_app([exported, trained_run], device="cpu", heavy_work=1)) as client:
        models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
        assert models["tiny-export"]["exported"] and not models["run"]["exported"]
        assert models["tiny-export"]["device"] == "cpu, exported (ONNX Runtime, fp32)"
        assert models["tiny-export"]["architecture"] == models["run"]["architecture"]
        assert models["tiny-export"]["examples"] == ["alpha beta gamma"]
        body = {"texts": SENTENCES[:2], "model": "tiny-export", "beam": 3, "n_best": 2, "attention": True}
        r = client.post("/v1/translate", json=body)  # (heavy_work=1: the heavy lane, stepping aside)
        assert r.status_code == 200, r.text
        expect = ExportedTranslator.load(exported).translate(SENTENCES[:2], beam=3, n_best=2)
        assert [[h["text"] for h in t["hypotheses"]] for t in r.json()["results"]] == \
            [[h.text for h in t.hypotheses] for t in expect]
        r = client.post("/v1/score", json={"source": "alpha", "target": "ALPHA", "model": "tiny-export"})
        assert r.status_code == 200 and r.json()["tgt_tokens"][-1] == "</s>"
        internals = "does not offer step-by-step internals ({}); serve the run directory for the studio"
        tree = {"texts": ["alpha"], "model": "tiny-export", "tree": True}
        for path, body, status, what in (
                ("/v1/explain", {"text": "alpha", "model": "tiny-export"}, 422, "explain"),
                ("/v1/translate", tree, 422, "beam trees"),
                ("/v1/models/tiny-export/attention", None, 404, "training in pictures")):
            r = client.post(path, json=body) if body else client.get(path)
            assert r.status_code == status and r.json()["detail"] == \
                f"model 'tiny-export': an exported model {internals.format(what)}", r.text
        assert client.get("/v1/models/run/attention").status_code == 200  # (the run's own pictures)


def test_an_onnx_runtime_too_old_for_the_opset_is_one_line_before_loading(exported, monkeypatch):
    import onnxruntime

    loaded = []
    monkeypatch.setattr(onnxruntime, "__version__", "1.11.0")
    monkeypatch.setattr(onnxruntime, "InferenceSession", lambda *a, **k: loaded.append(a))
    with pytest.raises(SeqattnError) as err:
        seqattn.load(str(exported))
    assert str(err.value) == (f"{exported}: exported with ONNX opset 17, which ONNX Runtime 1.11.0 cannot "
                              "run (opset 17 needs 1.12 or newer): pip install --upgrade onnxruntime")
    assert loaded == []  # (refused before any graph was loaded)
    monkeypatch.setattr(onnxruntime, "__version__", "1.12.0")  # (a release new enough passes the table)
    with pytest.raises(AttributeError):
        ExportedTranslator.load(exported)  # (then loads: the stand-in session has no inputs)
    assert loaded


def test_int8_export_loads_translates_and_mostly_agrees_with_fp32(exported, trained_run, tmp_path, capsys):
    """int8 graphs (ONNX Runtime's dynamic quantization) of the tiny trained run: verified within
    the int8 tolerance, recorded in the manifest; their outputs agree with the fp32 graphs' on most
    tokens (measured: all 1,830 output tokens of 26 sentences, greedy and beam 3; the run is barely
    trained, its outputs repeat a few tokens)."""
    assert main(["export", str(trained_run), "--out", str(tmp_path / "int8"), "--quantize", "int8"]) == 0
    assert "int8 graphs, opset 17" in capsys.readouterr().err
    manifest = json.loads((tmp_path / "int8" / "manifest.json").read_text())
    assert manifest["quantization"] == "int8"
    int8 = seqattn.load(str(tmp_path / "int8"), quantize="int8")
    assert int8.weights_label == "int8"
    fp32 = ExportedTranslator.load(exported)
    texts = SENTENCES + (Path(trained_run).parent / "data" / "test.src").read_text().splitlines()
    same = total = 0
    for beam in (1, 3):
        for a, b in zip(fp32.translate(texts, beam=beam), int8.translate(texts, beam=beam)):
            total += len(a.tgt_tokens)
            same += sum(x == y for x, y in zip(a.tgt_tokens, b.tgt_tokens))
    print(f"int8 agrees with fp32 on {same} of {total} output tokens")
    assert same >= 0.9 * total
    assert (tmp_path / "int8" / "encoder.onnx").stat().st_size < (exported / "encoder.onnx").stat().st_size
