"""An attribution as text: a terminal table or a markdown report (with its heatmap), the way
`seqattn explain` prints its walk-through."""

from __future__ import annotations

import base64

from seqattn.attribution.checks import SUMMARIES
from seqattn.attribution.result import Attribution
from seqattn.explain import _md, _table, display_width, pad


def _number(x: float, signed: bool) -> str:
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def _row_label(a: Attribution, t: int) -> str:
    """An output token, with the contrast's token it was compared with ('=' where none was)."""
    token = a.tgt_tokens[t]
    if a.contrasted is None:
        return token
    if not a.contrasted[t]:
        return f"{token} (=)"
    return f"{token} (vs {a.contrast_tokens[t]})" if a.units == "subwords" else f"{token} (vs)"


def _about(a: Attribution) -> list[str]:
    """What was attributed, and how: the lines above the table."""
    s = a.settings
    lines = [f"Input: {a.source}",
             f"Output ({s.get('output', 'forced')}, {s.get('weights', 'fp32')} weights): {a.output}",
             f"Method: {a.label}: {SUMMARIES[a.method]}", f"Objective per row: {s['objective']}"]
    if a.contrast_tokens is not None:
        lines.append(f"Rather than: {' '.join(a.contrast_tokens)} (rows marked (=) compare a token with "
                     "itself, or lie past the contrast's </s>: they score 0)")
    if s.get("steps"):
        lines.append(f"Steps: {s['steps']}; baseline: {s['baseline']}")
    return [*lines, f"Units: {a.units}"]


def format_text(a: Attribution) -> str:
    """The scores as a terminal table: a row per output token, a column per source token;
    columns align by display width (Hangul counts 2)."""
    signed = bool((a.scores < 0).any()) or a.method not in ("attention", "saliency")
    labels = [_row_label(a, t) for t in range(len(a.tgt_tokens))]
    first = max(display_width(x) for x in [*labels, "output \\ source"])
    widths = [max(7, display_width(tok)) for tok in a.src_tokens]
    head = pad("output \\ source", first) + "".join("  " + " " * (w - display_width(t)) + t
                                                    for t, w in zip(a.src_tokens, widths))
    rows = [pad(label, first) + "".join(f"  {_number(x, signed):>{w}}" for x, w in zip(row, widths))
            for label, row in zip(labels, a.scores)]
    return "\n".join([*_about(a), "", head, *rows])


def format_markdown(a: Attribution) -> str:
    """The scores as a markdown report: what was attributed, the table, the heatmap as a PNG."""
    from seqattn.viz import draw_heatmap, figure_bytes

    signed = bool((a.scores < 0).any()) or a.method not in ("attention", "saliency")
    md = [f"# {_md(a.label.capitalize())}: “{_md(a.source)}”", ""]
    md += [_md(line) + "  " for line in _about(a)] + [""]
    header = [_md("output \\ source"), *[_md(t) for t in a.src_tokens]]
    rows = [[_md(_row_label(a, t)), *[_number(x, signed) for x in row]] for t, row in enumerate(a.scores)]
    md += _table(header, rows, "l" + "r" * len(a.src_tokens)) + [""]
    png = figure_bytes(draw_heatmap(a.scores, a.src_tokens, a.tgt_tokens, a.source, translation=a.output,
                                    label=a.label))
    md += [f"![{_md(a.label)} heatmap](data:image/png;base64,{base64.b64encode(png).decode()})", ""]
    return "\n".join(md)
