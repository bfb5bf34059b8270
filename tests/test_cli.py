"""The `seqattn` command: every verb end to end, and clear one-line errors."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml

import seqattn
from seqattn.cli import main
from tests.conftest import tiny_tree
from tests.fifo import fifo_with_writer


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_error(code, err, pattern):
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("seqattn: error:")]
    assert len(lines) == 1 and pattern in lines[0], err


@pytest.mark.parametrize("verb,flags", [
    ("train", ["--out", "--resume", "--device", "CONFIG"]),
    ("translate", ["--input", "--beam", "--n-best", "--batch-size", "--device"]),
    ("evaluate", ["--src", "--ref", "--beam", "--output", "--device"]),
])
def test_help_documents_every_flag(capsys, verb, flags):
    with pytest.raises(SystemExit) as exc:
        main([verb, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in flags:
        assert flag in out


def test_translate_stdin_and_file(trained_run, tmp_path, capsys, monkeypatch):
    src = tmp_path / "in.txt"
    src.write_text("alpha beta\ngamma\n\n")
    code, out, _ = run_cli(capsys, "translate", trained_run, "--input", src, "--beam", "2")
    assert code == 0 and len(out.splitlines()) == 3
    code, out, _ = run_cli(capsys, "translate", trained_run, "--input", src, "--beam", "3", "--n-best", "2")
    rows = [line.split("\t") for line in out.splitlines()]
    assert [r[:2] for r in rows] == [["1", "1"], ["1", "2"], ["2", "1"], ["2", "2"], ["3", "1"], ["3", "2"]]
    monkeypatch.setattr(sys, "stdin", open(src, encoding="utf-8"))  # noqa: SIM115
    code, out2, _ = run_cli(capsys, "translate", trained_run, "--beam", "2")
    assert code == 0 and len(out2.splitlines()) == 3


def test_translate_and_evaluate_read_a_pipe(trained_run, tmp_path, capsys):
    data = trained_run.parent / "data"
    code, expected, _ = run_cli(capsys, "translate", trained_run, "--input", data / "dev.src", "--beam", "1")
    assert code == 0 and len(expected.splitlines()) == 20
    with fifo_with_writer(tmp_path / "fifo", (data / "dev.src").read_bytes()) as fifo:
        code, out, err = run_cli(capsys, "translate", trained_run, "--input", fifo, "--beam", "1")
    assert (code, err) == (0, "") and out == expected
    with fifo_with_writer(tmp_path / "src", (data / "test.src").read_bytes()) as src, \
            fifo_with_writer(tmp_path / "ref", (data / "test.tgt").read_bytes()) as ref:
        code, out, _ = run_cli(capsys, "evaluate", trained_run, "--src", src, "--ref", ref, "--beam", "1")
    assert code == 0 and "(20 sentences, beam 1)" in out


def test_translate_input_dev_stdin_in_a_real_process(trained_run):
    data = trained_run.parent / "data"
    cmd = [sys.executable, "-m", "seqattn", "translate", str(trained_run), "--beam", "1", "--input"]
    expected = subprocess.run([*cmd, str(data / "dev.src")], capture_output=True, timeout=300)
    assert expected.returncode == 0 and len(expected.stdout.splitlines()) == 20
    piped = subprocess.run([*cmd, "/dev/stdin"], input=(data / "dev.src").read_bytes(), capture_output=True,
                           timeout=300)  # (stdin is a pipe here, as in `... | seqattn translate`)
    assert (piped.returncode, piped.stderr, piped.stdout) == (0, b"", expected.stdout)


def test_evaluate_prints_sacrebleu_signatures(trained_run, capsys):
    data = trained_run.parent / "data"
    code, out, _ = run_cli(capsys, "evaluate", trained_run, "--src", data / "test.src",
                           "--ref", data / "test.tgt", "--beam", "2")
    assert code == 0
    assert "BLEU" in out and "nrefs:1|case:mixed" in out and "chrF" in out and "ppl" in out


def test_python_api_returns_attention_arrays(trained_run):
    translator = seqattn.load(str(trained_run))
    results = translator.translate(["alpha beta gamma", ""], beam=3, n_best=2)
    assert len(results) == 2
    for r in results:
        assert len(r.hypotheses) == 2
        assert r.src_tokens[-1] == "</s>"
        assert isinstance(r.attention, np.ndarray)
        assert r.attention.shape == (len(r.tgt_tokens), len(r.src_tokens))
        np.testing.assert_allclose(r.attention.sum(1), 1.0, atol=1e-5)


def test_resume_extends_a_finished_run(trained_run, tmp_path, capsys):
    run = tmp_path / "copy"
    shutil.copytree(trained_run, run)
    code, out, _ = run_cli(capsys, "train", "--resume", run, "train.max_steps=50")
    assert code == 0
    assert "stopped after step 50" in out


def test_train_cli_with_config_and_overrides(tmp_path, capsys):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_tree(tmp_path / "data")))
    code, out, _ = run_cli(capsys, "train", cfg, "--out", tmp_path / "run", "train.max_steps=12",
                           "model.attention.type=additive")
    assert code == 0 and "stopped after step 12" in out and "test (beam 3)" in out
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["model"]["attention"]["type"] == "additive"
    code, _, err = run_cli(capsys, "train", cfg, "--out", tmp_path / "run")
    assert_clean_error(code, err, "already exists and is not empty")


def test_bad_corpus_writes_nothing(tmp_path, capsys):
    tree = tiny_tree(tmp_path / "data")
    (tmp_path / "data" / "train.tgt").write_text("one line only\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tree))
    code, _, err = run_cli(capsys, "train", cfg, "--out", tmp_path / "run")
    assert_clean_error(code, err, "train.tgt has 1")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv,pattern", [
    (["train", "missing.yaml"], "config file not found"),
    (["train", "train.lrr=1"], "did you mean 'lr'"),
    (["train", "train.batch_size=-1"], "train.batch_size"),
    (["translate", "no/such/run"], "run directory not found"),
    (["evaluate", "no/such/run", "--src", "a", "--ref", "b"], "run directory not found"),
])
def test_clear_errors(argv, pattern, capsys):
    code, _, err = run_cli(capsys, *argv)
    assert_clean_error(code, err, pattern)


def test_errors_on_a_run_directory(trained_run, tmp_path, capsys):
    code, _, err = run_cli(capsys, "translate", tmp_path)
    assert_clean_error(code, err, "not a seqattn run directory")
    code, _, err = run_cli(capsys, "translate", trained_run, "--beam", "0", "--input", __file__)
    assert_clean_error(code, err, "beam must be between 1 and 64")
    data = trained_run.parent / "data"
    code, _, err = run_cli(capsys, "evaluate", trained_run, "--src", data / "test.src",
                           "--ref", data / "train.tgt")
    assert_clean_error(code, err, "must be line-aligned")
    code, _, err = run_cli(capsys, "train", "--resume", tmp_path)
    assert_clean_error(code, err, "not a seqattn run directory")


def test_real_process_prints_one_line_and_debug_shows_traceback(tmp_path):
    cmd = [sys.executable, "-m", "seqattn", "translate", str(tmp_path / "nothing")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "run directory not found" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "seqattn", "--debug", *cmd[3:]], capture_output=True,
                          text=True, timeout=120)
    assert "Traceback" in proc.stderr


@pytest.mark.parametrize("module,line", [
    ("torch", "seqattn study needs PyTorch, which is not installed here: pip install torch"),
    ("matplotlib.figure",
     "seqattn study needs matplotlib, which is not installed here: pip install matplotlib"),
    ("yaml", "seqattn study needs yaml, which is not installed here: pip install PyYAML"),
])
def test_a_missing_package_is_one_line_naming_it(module, line, capsys, monkeypatch):
    """As in the seqattn-runtime distribution, which leaves out what only the full toolkit uses."""
    from seqattn.cli import training

    def missing(_args):
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)

    monkeypatch.setitem(training.COMMANDS, "study", missing)
    code, _, err = run_cli(capsys, "study", "gradient")
    assert code == 2 and err.splitlines() == [f"seqattn: error: {line}"]
    monkeypatch.setitem(training.COMMANDS, "study", lambda _args: __import__("seqattn.nothing_here"))
    with pytest.raises(ModuleNotFoundError):  # a module of seqattn itself missing: a broken install
        main(["study", "gradient"])
