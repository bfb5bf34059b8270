"""`seqattn explain --attribution` prints the table; `translate --attention-out --attribution`
writes one heatmap per method beside the attention's."""

from __future__ import annotations

import pytest

from seqattn.attribution import METHODS, SUMMARIES
from seqattn.cli import main


def _explain(capsys, run, *args: str) -> str:
    assert main(["explain", str(run), *args]) == 0
    return capsys.readouterr().out


def test_explain_prints_a_row_per_output_token_and_a_column_per_source_token(trained_run, capsys):
    out = _explain(capsys, trained_run, "alpha beta gamma", "--attribution", "occlusion",
                   "--output", "GAMMA BETA ALPHA")
    lines = out.splitlines()
    assert "Method: occlusion: " in out and "Output (forced, fp32 weights): GAMMA BETA ALPHA" in out
    table = lines[lines.index("") + 1:]
    head, rows = table[0].split(), table[1:]
    assert head[:3] == ["output", "\\", "source"] and head[-1] == "</s>"
    assert rows[-1].split()[0] == "</s>" and len(rows) >= 4  # GAMMA BETA ALPHA in subwords, then </s>
    for row in rows:
        numbers = row.split()[1:]
        assert len(numbers) == len(head) - 3 and all(n[0] in "+-" and float(n) == float(n) for n in numbers)


def test_explain_contrast_marks_the_rows_it_does_not_compare(trained_run, capsys):
    out = _explain(capsys, trained_run, "alpha beta", "--attribution", "integrated_gradients", "--steps", "8",
                   "--output", "BETA ALPHA", "--contrast", "BETA GAMMA")
    assert "Rather than: " in out and "Steps: 8; baseline: every source token" in out
    rows = out.splitlines()[out.splitlines().index("") + 2:]
    marked = [r for r in rows if "(=)" in r]
    assert marked and all(set(r.split("(=)")[1].split()) == {"+0.000"} for r in marked)
    assert any("(vs " in r for r in rows)


def test_explain_markdown_and_words(trained_run, capsys):
    out = _explain(capsys, trained_run, "alpha beta", "--attribution", "saliency", "--format", "md",
                   "--words")
    assert out.startswith("# Saliency: “alpha beta”") and "Units: words" in out
    assert "| output \\\\ source |" in out and "](data:image/png;base64," in out


def test_explain_help_documents_every_method_and_the_baseline(capsys):
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for method in METHODS:
        assert f"{method} {' '.join(SUMMARIES[method].split())}" in out
    assert "replaced by <pad>, whose embedding is zero" in out


def test_translate_writes_a_heatmap_per_method(trained_run, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("alpha beta\ngamma delta omega\n", encoding="utf-8")
    maps = tmp_path / "maps"
    assert main(["translate", str(trained_run), "--input", str(src), "--beam", "1", "--attention-out",
                 str(maps), "--attribution", "saliency,occlusion"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2
    written = sorted(p.name for p in maps.iterdir())
    lines = [n for n, text in enumerate(out.splitlines(), start=1) if text.strip()]  # (empty: a note instead)
    expected = sorted(f"{n:04d}{kind}.{fmt}" for n in (1, 2) for fmt in ("png", "svg")
                      for kind in ("", *((".saliency", ".occlusion") if n in lines else ())))
    assert written == expected, err
    assert all((maps / name).stat().st_size > 1000 for name in written)
