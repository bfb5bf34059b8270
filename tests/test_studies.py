"""Each study's --quick variant runs, writes its outputs, and gives sane numbers."""

import csv
import math

import pytest

from seqattn.cli import main
from seqattn.studies import run_study


def outputs_exist(folder, figures):
    assert (folder / "summary.md").read_text().startswith("# Study:")
    rows = list(csv.DictReader((folder / "results.csv").open()))
    assert rows
    for fig in figures:
        assert (folder / fig).read_bytes().startswith(b"\x89PNG")
    return rows


def test_bottleneck_quick_attention_wins_on_long_inputs(tmp_path):
    result = run_study("bottleneck", tmp_path, quick=True)
    outputs_exist(tmp_path, ["synthetic.png"])
    none, att = result["none"], result["attention (general)"]
    assert all(0.0 <= v <= 100.0 for v in none + att)
    assert att[-1] > none[-1]  # the longest bucket (45-60 symbols)


def test_scores_quick_reports_every_variant(tmp_path, capsys):
    assert main(["study", "scores", "--quick", "--out", str(tmp_path)]) == 0
    rows = outputs_exist(tmp_path, ["synthetic.png"])
    arms = {r["arm"] for r in rows}
    assert arms == {"none", "dot", "general", "additive", "scaled_dot"}
    speeds = [float(r["value"]) for r in rows if r["bucket"] == "tokens/s"]
    assert all(s > 0 for s in speeds)
    assert "| arm |" in capsys.readouterr().out


def test_reverse_quick(tmp_path):
    result = run_study("reverse", tmp_path, quick=True)
    outputs_exist(tmp_path, ["synthetic.png"])
    assert set(result) == {"none", "none + reversed source"}


def test_gradient_quick_attention_reaches_the_start(tmp_path):
    result = run_study("gradient", tmp_path, quick=True)
    outputs_exist(tmp_path, ["gradient.png"])
    for curve in result.values():
        assert all(math.isfinite(v) and v >= 0 for v in curve)
    # far from the end of the source (first words), attention's gradient is larger
    assert result["attention (general), init"][-1] > result["none, init"][-1]


@pytest.mark.parametrize("argv,msg", [
    (["study", "gradient", "--data", "x"], "synthetic only"),
    (["study", "bottleneck", "--data", "/nonexistent"], "no Multi30k"),
])
def test_study_errors(argv, msg, capsys):
    assert main(argv) == 2
    assert msg in capsys.readouterr().err
