"""Heatmaps (Hangul must render as glyphs) and the step-by-step explanation."""

import warnings

import matplotlib
import numpy as np
import pytest

import seqattn
from seqattn.cli import main
from seqattn.explain import explain, format_markdown, format_text
from seqattn.viz import draw_heatmap, figure_bytes, register_fonts, save_heatmap


def test_korean_labels_render_without_missing_glyphs(tmp_path):
    assert register_fonts(), "koreanize-matplotlib's NanumGothic font not found"
    before = dict(matplotlib.rcParams)
    attention = np.full((3, 4), 0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" is a UserWarning
        fig = draw_heatmap(attention, ["▁저는", "▁AI를", "▁좋아합니다", "</s>"], ["▁I", "▁like", "</s>"],
                           title="저는 AI를 좋아합니다")
        png = figure_bytes(fig, "png")
        figure_bytes(fig, "svg")
    assert png.startswith(b"\x89PNG")
    assert dict(matplotlib.rcParams) == before  # the user's global settings are untouched
    paths = save_heatmap(tmp_path / "ko", attention, ["가", "나", "다", "</s>"], ["a", "b", "c"])
    assert [p.suffix for p in paths] == [".png", ".svg"] and all(p.stat().st_size > 0 for p in paths)


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_dollar_signs_and_backslashes_are_drawn_as_plain_text(fmt):
    """Text in a figure is the user's: '$\\foo$' is not matplotlib math (it used to raise
    ParseFatalException at the first validation of a run whose dev set held such a line)."""
    tokens = ["▁$\\foo$", "▁x^{", "▁$5", "▁and", "▁$10$", "</s>"]
    fig = draw_heatmap(np.full((2, 6), 1 / 6), tokens, ["▁$\\bar{", "</s>"],
                       title="step 1: it costs $\\foo$ or $5_{x$")
    assert figure_bytes(fig, fmt)
    if fmt == "svg":
        assert "$\\foo$" in fig.axes[0].get_title()


def test_heatmap_checks_shapes():
    with pytest.raises(ValueError, match="does not match"):
        draw_heatmap(np.zeros((2, 2)), ["a"], ["b", "c"])


def test_long_sentences_get_a_bounded_figure():
    fig = draw_heatmap(np.full((80, 90), 1 / 90), [f"s{i}" for i in range(90)], [f"t{i}" for i in range(80)])
    w, h = fig.get_size_inches()
    assert 20 < w <= 40 and 18 < h <= 40


def test_explain_trace_equals_translate_attention(trained_run):
    translator = seqattn.load(str(trained_run))
    sentence = "alpha beta gamma delta"
    ex = explain(translator, sentence)
    result = translator.translate([sentence], beam=1)[0]
    assert ex.output_text == result.text
    assert [s.chosen for s in ex.steps] == result.tgt_tokens
    np.testing.assert_array_equal(ex.attention, result.attention)
    assert ex.src_tokens == result.src_tokens
    for step in ex.steps:
        assert step.top[0][0] == step.chosen  # greedy picks the most probable token
        np.testing.assert_allclose(step.weights.sum(), 1.0, atol=1e-5)
    text = format_text(ex)
    for part in ["Subwords", "Encoder hidden states", "Context vector", "query s_1", "alpha",
                 "top-5 next tokens", "Output:"]:
        assert part in text
    assert "data:image/png;base64," in format_markdown(ex)


def test_cli_attention_out_and_explain(trained_run, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("alpha beta\ngamma delta omega\n")
    assert main(["translate", str(trained_run), "--input", str(src), "--attention-out",
                 str(tmp_path / "maps")]) == 0
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == [
        "0001.png", "0001.svg", "0002.png", "0002.svg"]
    capsys.readouterr()
    assert main(["explain", str(trained_run), "alpha beta"]) == 0
    assert "step 1: query" in capsys.readouterr().out


def test_training_writes_heatmaps(trained_run):
    steps = sorted((trained_run / "attention").iterdir())
    assert steps and all((s / "dev1.png").is_file() for s in steps)
