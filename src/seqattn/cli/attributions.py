"""The attribution flags of `explain` and `translate`: parsing and printing only (the work is
`seqattn.attribution`'s)."""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from seqattn.choices import ATTRIBUTION_METHODS, ATTRIBUTION_SUMMARIES
from seqattn.errors import SeqattnError


def methods_epilog() -> str:
    """explain --help's list of attribution methods, one line each."""
    lines = ["attribution methods (--attribution); each row's objective is log p(y_t | y_<t, x):"]
    for name in ATTRIBUTION_METHODS:
        lines.append(textwrap.fill(ATTRIBUTION_SUMMARIES[name], 100, initial_indent=f"  {name:<21}",
                                   subsequent_indent=" " * 23))
    return "\n".join(lines)


def add_explain_arguments(x: argparse.ArgumentParser) -> None:
    x.add_argument("--attribution", metavar="METHOD",
                   help="print the attributions of METHOD (below), computed with the fp32 weights: rows "
                   "are output tokens, columns source tokens")
    x.add_argument("--output", metavar="TEXT",
                   help="with --attribution: attribute this output (forced) instead of the greedy one")
    x.add_argument("--contrast", metavar="TEXT",
                   help="with --attribution: why each output token rather than TEXT's token at the same "
                   "position, after the same prefix (log p(y_t) - log p(y'_t)); rows where the two agree, "
                   "or past TEXT's </s>, score 0")
    x.add_argument("--steps", type=int, metavar="N",
                   help="with --attribution integrated_gradients: interpolation steps (1-1000; default 50)")
    x.add_argument("--words", action="store_true",
                   help="with --attribution: whole words (a word's pieces summed) instead of subwords")


def add_translate_argument(tr: argparse.ArgumentParser) -> None:
    tr.add_argument("--attribution", metavar="METHOD[,METHOD...]",
                    help="with --attention-out: also one heatmap per method and sentence "
                    "(NNNN.METHOD.png and .svg) of the best output's attributions "
                    f"({', '.join(ATTRIBUTION_METHODS)}; see seqattn explain --help)")


def refuse_alone(a: argparse.Namespace) -> None:
    """explain's attribution flags without --attribution: refused in one line."""
    flags = (("--output", a.output), ("--contrast", a.contrast), ("--steps", a.steps),
             ("--words", a.words or None))
    given = [flag for flag, value in flags if value is not None]
    if given:
        raise SeqattnError(f"{given[0]} goes with --attribution METHOD")


def explain(a: argparse.Namespace, open_model: Callable) -> int:
    """`explain RUN TEXT --attribution METHOD`: the attributions as a table (text or markdown)."""
    from seqattn.attribution import attribute, check_method, check_steps

    check_method(a.attribution)  # (before loading anything)
    steps = 50 if a.steps is None else a.steps
    check_steps(steps)
    translator = open_model(a)  # (an ensemble or an exported model is refused by attribute, in one line)
    from seqattn.attribution.tables import format_markdown, format_text

    found = attribute(translator, a.sentence, a.attribution, output=a.output, contrast=a.contrast,
                      steps=steps)
    found = found.words() if a.words else found
    print(format_markdown(found) if a.format == "md" else format_text(found))
    return 0


def translate_methods(a: argparse.Namespace) -> list[str]:
    """`translate --attribution M1,M2`: the checked method names, in order, each once."""
    if a.attribution is None:
        return []
    if not a.attention_out:
        raise SeqattnError("--attribution draws heatmaps: give --attention-out DIR too")
    from seqattn.attribution import check_method

    names = list(dict.fromkeys(m.strip() for m in a.attribution.split(",")))
    for name in names:
        check_method(name)
    return names


def save_maps(translator, r, methods: list[str], stem: Path, line: int) -> None:
    """One heatmap per method (STEM.METHOD.png and .svg) of the best output's attributions; a
    line whose output cannot be attributed (empty, too long) gets a note on stderr instead."""
    from seqattn.attribution import AttributionError, attribute
    from seqattn.viz import save_heatmap

    for method in methods:
        try:
            found = attribute(translator, r.source, method, output=r.text)
        except AttributionError as exc:
            print(f"seqattn: note: line {line}: no {method} heatmap ({exc})", file=sys.stderr)
            continue
        save_heatmap(f"{stem}.{method}", found.scores, found.src_tokens, found.tgt_tokens, title=r.source,
                     label=found.label)
