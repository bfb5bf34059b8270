"""Heatmaps (Hangul must render as glyphs) and the step-by-step explanation."""

import re
import warnings

import matplotlib
import numpy as np
import pytest
from wcwidth import wcswidth

import seqattn
from seqattn.cli import main
from seqattn.explain import Explanation, Step, explain, format_markdown, format_text
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
    assert "step 1: input <s> -> query" in capsys.readouterr().out


def test_training_writes_heatmaps(trained_run):
    steps = sorted((trained_run / "attention").iterdir())
    assert steps and all((s / "dev1.png").is_file() for s in steps)


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_heatmap_is_slide_sized_with_the_translation_in_the_title():
    src, tgt = ["▁저는", "▁AI를", "▁좋아합니다", "</s>"], ["▁I", "▁like", "▁AI", ".", "</s>"]
    fig = draw_heatmap(np.full((5, 4), 0.25), src, tgt, title="저는 AI를 좋아합니다")
    assert _png_size(figure_bytes(fig)) == (1600, 1200)
    assert fig.axes[0].get_title() == "저는 AI를 좋아합니다 → I like AI."
    n = 40  # more tokens: a bigger figure
    big = draw_heatmap(np.full((n, n), 1 / n), [f"s{i}" for i in range(n)], [f"t{i}" for i in range(n)])
    w, h = _png_size(figure_bytes(big))
    assert w > 1600 and h > 1200
    long_title = "Ein Mann mit einer orangefarbenen Mütze, der etwas anstarrt, steht vor dem Haus " * 2
    fig = draw_heatmap(np.full((5, 4), 0.25), src, tgt, title=long_title, translation="$5 a man")
    title = fig.axes[0].get_title()
    assert "\n" in title and title.endswith("→ $5 a man")  # wrapped, plain text
    assert figure_bytes(fig)
    fig = draw_heatmap(np.full((5, 4), 0.25), src, tgt, title="저는", translation="")
    assert fig.axes[0].get_title() == "저는"


def _hangul_explanation() -> Explanation:
    tokens = ["▁저", "는", "▁AI를", "▁좋아합니다", "</s>"]
    rng = np.random.default_rng(0)
    weights = rng.dirichlet(np.ones(len(tokens)), size=2)
    steps = [Step(query=rng.normal(size=6), scores=np.log(w) * 3, weights=w,
                  attention_value=rng.normal(size=4), attentional=rng.normal(size=6), top=[(c, 0.5)],
                  chosen=c, fed=f)
             for w, c, f in zip(weights, ["▁I", "</s>"], ["<s>", "▁I"])]
    return Explanation("저는 AI를 좋아합니다", [5, 6, 7, 8, 3], tokens, (1, 5, 4), (1, 1, 4),
                       rng.normal(size=(5, 4)), rng.normal(size=4), rng.normal(size=(1, 6)), steps,
                       "I", "general")


def test_explain_columns_align_by_display_width_with_hangul():
    text = format_text(_hangul_explanation())
    score_at = [wcswidth(line[:m.end()]) for line in text.splitlines()  # where each score ends
                if (m := re.search(r"[+-]\d+\.\d{3}(?=   \d\.\d{3})", line))]
    assert len(score_at) == 2 * 5 and len(set(score_at)) == 1, score_at  # every score row lines up
    h_at = [wcswidth(line[:line.index("[")]) for line in text.splitlines() if re.match(r"   h\d", line)]
    assert len(h_at) == 5 and len(set(h_at)) == 1
    assert "score(s_t, h_j) = s_t^T W h_j" in text
    assert "step 1: input <s> -> query" in text and "step 2: input ▁I -> query" in text


def _md_tables(md: str) -> list[list[list[str]]]:
    """Each markdown table as rows of cells (pipes escaped with a backslash stay in cells)."""
    tables, block = [], []
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            tables.append([[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in block])
            block = []
    return tables


def test_explain_markdown_has_real_tables(trained_run):
    ex = explain(seqattn.load(str(trained_run)), "alpha beta gamma")
    md = format_markdown(ex)
    tables = _md_tables(md)
    for table in tables:
        assert len(table) >= 3, table  # header, separator, at least one row
        assert all(re.fullmatch(r"-{3,}:?", c) for c in table[1]), table[1]
        assert {len(row) for row in table} == {len(table[0])}, table
    steps = [t for t in tables if t[0] == ["source subword", "score", "alpha"]]
    assert len(steps) == len(ex.steps) and all(len(t) == 2 + len(ex.src_tokens) for t in steps)
    for table, step in zip(steps, ex.steps):
        assert [float(r[2]) for r in table[2:]] == pytest.approx(step.weights, abs=1e-3)
    assert "s\\_t^T W h\\_j" in md and "input \\<s\\>" in md
    assert [s.fed for s in ex.steps] == ["<s>"] + [s.chosen for s in ex.steps[:-1]]
    markdown_it = pytest.importorskip("markdown_it")
    parsed = markdown_it.MarkdownIt("commonmark").enable("table").parse(md)
    assert sum(t.type == "table_open" for t in parsed) == len(tables)
