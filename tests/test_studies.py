"""Each study's --quick variant runs, writes its outputs, and gives sane numbers."""

import csv
import math

import pytest
import torch

from seqattn.cli import main
from seqattn.studies import run_study
from seqattn.studies.common import Arm, synthetic_tree, train_arms


def outputs_exist(folder, figures):
    assert (folder / "summary.md").read_text().startswith("# Study:")
    rows = list(csv.DictReader((folder / "results.csv").open()))
    assert rows
    for fig in figures:
        assert (folder / fig).read_bytes().startswith(b"\x89PNG")
    return rows


@pytest.mark.usefixtures("side_by_side_cores")
def test_bottleneck_quick_attention_wins_on_long_inputs(tmp_path):
    result = run_study("bottleneck", tmp_path, quick=True)
    outputs_exist(tmp_path, ["synthetic.png"])
    none, att = result["none"], result["attention (general)"]
    assert all(0.0 <= v <= 100.0 for v in none + att)
    assert att[-1] > none[-1]  # the longest bucket (45-60 symbols)


@pytest.mark.usefixtures("side_by_side_cores")
def test_scores_quick_reports_every_variant(tmp_path, capsys, monkeypatch):
    """The five arms go through training, scoring, the figure and the table; how well they learn
    is the other quick studies' concern, so each arm trains 20 steps here instead of 100."""
    import seqattn.studies.comparisons as comparisons

    def short(folder, task, quick):
        tree = synthetic_tree(folder, task, quick)
        tree["train"].update(max_steps=20, val_every=20, log_every=10)
        return tree

    monkeypatch.setattr(comparisons, "synthetic_tree", short)
    assert main(["study", "scores", "--quick", "--out", str(tmp_path)]) == 0
    rows = outputs_exist(tmp_path, ["synthetic.png"])
    arms = {r["arm"] for r in rows}
    assert arms == {"none", "dot", "general", "additive", "scaled_dot"}
    speeds = [float(r["value"]) for r in rows if r["bucket"] == "tokens/s"]
    assert all(s > 0 for s in speeds)
    assert "| arm |" in capsys.readouterr().out


@pytest.mark.usefixtures("side_by_side_cores")
def test_reverse_quick(tmp_path):
    result = run_study("reverse", tmp_path, quick=True)
    outputs_exist(tmp_path, ["synthetic.png"])
    assert set(result) == {"none", "none + reversed source"}


@pytest.mark.usefixtures("side_by_side_cores")
def test_gradient_quick_attention_reaches_the_start(tmp_path):
    result = run_study("gradient", tmp_path, quick=True)
    outputs_exist(tmp_path, ["gradient.png"])
    for curve in result.values():
        assert all(math.isfinite(v) and v >= 0 for v in curve)
    # far from the end of the source (first words), attention's gradient is larger
    assert result["attention (general), init"][-1] > result["none, init"][-1]


def test_runs_side_by_side_equal_runs_one_after_another(tmp_path):
    tree = synthetic_tree(tmp_path / "data", "copy", quick=True)
    tree["train"].update(max_steps=8, val_every=8, log_every=4)
    jobs = [(Arm("none", ["model.attention.type=none"]), 1), (Arm("general"), 2)]
    one_by_one = train_arms(tree, jobs, tmp_path / "a", workers=1)
    side_by_side = train_arms(tree, jobs, tmp_path / "b", workers=2)  # spawned, one thread each
    for (first, speed_a, params_a), (second, speed_b, params_b) in zip(one_by_one, side_by_side):
        assert params_a == params_b and speed_a > 0 and speed_b > 0
        b = second.model.state_dict()
        for name, tensor in first.model.state_dict().items():
            assert torch.equal(tensor, b[name]), name
    assert (tmp_path / "b" / "runs" / "general-seed2" / "train.log").is_file()


@pytest.mark.parametrize("argv,msg", [
    (["study", "gradient", "--data", "x"], "synthetic only"),
    (["study", "bottleneck", "--data", "/nonexistent"], "no Multi30k"),
])
def test_study_errors(argv, msg, capsys):
    assert main(argv) == 2
    assert msg in capsys.readouterr().err
