"""How translations, forced scores, explanations and attributions show themselves in Jupyter
(`_repr_html_`): the text and scores as tables, the attention (or attribution) as a heatmap, an
explanation as its steps."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

import numpy as np

STYLE = ("<style>.seqattn table{border-collapse:collapse;margin:4px 0}.seqattn td,.seqattn th"
         "{border:1px solid #bbb;padding:2px 6px;text-align:left}.seqattn .w{display:inline-block;"
         "height:10px;background:#1f4e99}</style>")


def _heatmap(attention: np.ndarray | None, src_tokens: Sequence[str], tgt_tokens: Sequence[str],
             title: str, label: str | None = None) -> str:
    if attention is None:
        return "<p><i>This model has no attention (the context vector is the only bridge).</i></p>"
    from seqattn.viz import draw_heatmap, figure_bytes

    png = figure_bytes(draw_heatmap(attention, src_tokens, tgt_tokens, title, label=label))
    what = label or "attention"
    return (f'<img alt="{escape(what)} heatmap: {escape(title)}" style="max-width:640px" '
            f'src="data:image/png;base64,{base64.b64encode(png).decode()}">')


def translation_html(t) -> str:
    """A Translation: source, best output, the n-best list with scores, the heatmap."""
    rows = "".join(f"<tr><td>{i}</td><td>{escape(h.text)}</td><td>{h.score:.4f}</td></tr>"
                   for i, h in enumerate(t.hypotheses, start=1))
    return (f'{STYLE}<div class="seqattn"><p>{escape(t.source)} → <b>{escape(t.text)}</b></p>'
            f"<table><tr><th>rank</th><th>output</th><th>score</th></tr>{rows}</table>"
            f"{_heatmap(t.attention, t.src_tokens, t.tgt_tokens, t.source)}</div>")


def forced_html(r) -> str:
    """A ForcedScore: each target subword with its log-probability, the totals, the heatmap."""
    cells = "".join(f"<tr><td>{escape(p)}</td><td>{lp:.4f}</td><td>{np.exp(lp):.3f}</td></tr>"
                    for p, lp in zip(r.tgt_tokens, r.logprobs))
    return (f'{STYLE}<div class="seqattn"><p>{escape(r.source)} → <b>{escape(r.target)}</b>: '
            f"log-probability {r.logprob:.4f}, score {r.score:.4f}</p>"
            f"<table><tr><th>subword</th><th>log p</th><th>p</th></tr>{cells}</table>"
            f"{_heatmap(r.attention, r.src_tokens, r.tgt_tokens, r.source)}</div>")


def explanation_html(ex) -> str:
    """An Explanation: the score formula, then per step the token fed in, the weights over the
    source as bars, the five most probable next tokens and the one chosen."""
    head = "".join(f"<th>{escape(tok)}</th>" for tok in ex.src_tokens)
    rows = []
    for n, s in enumerate(ex.steps, start=1):
        if s.weights is not None:
            bars = "".join(f'<td title="{w:.3f}"><span class="w" style="width:{int(60 * w)}px"></span> '
                           f"{w:.2f}</td>" for w in s.weights)
        else:
            bars = f'<td colspan="{len(ex.src_tokens)}">(no attention)</td>'
        top = ", ".join(f"{escape(tok)} {p:.2f}" for tok, p in s.top)
        rows.append(f"<tr><td>{n}</td><td>{escape(s.fed)}</td>{bars}<td>{top}</td>"
                    f"<td><b>{escape(s.chosen)}</b></td></tr>")
    return (f'{STYLE}<div class="seqattn"><p>{escape(ex.sentence)} → <b>{escape(ex.output_text)}</b> '
            f"(greedy; attention <code>{escape(ex.attention_type)}</code>: {escape(ex.formula)})</p>"
            f"<table><tr><th>step</th><th>fed</th>{head}<th>top 5 next</th><th>chosen</th></tr>"
            f"{''.join(rows)}</table>"
            f"{_heatmap(ex.attention, ex.src_tokens, [s.chosen for s in ex.steps], ex.sentence)}</div>")


def attribution_html(a) -> str:
    """An Attribution: what it scores, a table of scores (rows: output tokens, columns: source
    tokens; contrasted rows name the token they were compared with), and its heatmap."""
    head = "".join(f"<th>{escape(tok)}</th>" for tok in a.src_tokens)
    rows = []
    for t, (tok, scores) in enumerate(zip(a.tgt_tokens, a.scores)):
        rather = ""
        if a.contrasted is not None:
            rather = " (compared)" if a.contrasted[t] else " (not compared: 0)"
        cells = "".join(f"<td>{x:+.3f}</td>" for x in scores)
        rows.append(f"<tr><th>{escape(tok)}{rather}</th>{cells}</tr>")
    contrast = ""
    if a.contrast_tokens is not None:
        contrast = f" rather than <b>{escape(' '.join(a.contrast_tokens))}</b>"
    settings = ", ".join(f"{k}: {escape(str(v))}" for k, v in a.settings.items() if v is not None)
    return (f'{STYLE}<div class="seqattn"><p>{escape(a.source)} → <b>{escape(a.output)}</b>{contrast}: '
            f"{escape(a.label)} ({escape(a.units)}; {settings})</p>"
            f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"
            f"{_heatmap(a.scores, a.src_tokens, a.tgt_tokens, a.source, a.label)}</div>")
