"""The `faithfulness` study's outputs: results.csv, the figures and summary.md, from its numbers."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path

from seqattn.atomic import atomic_write_bytes
from seqattn.attribution import METHODS, attribute_ids
from seqattn.studies.common import markdown_table, write_csv, write_summary
from seqattn.studies.counterfactual import EPSILON, SUCCESS_JSD
from seqattn.studies.faithfulness import ATTRIBUTIONS, REFERENCE_PAIR, Measured
from seqattn.translator import Translator

PAIR = " vs ".join(REFERENCE_PAIR)
SHORT = {"saliency": "saliency", "input_x_gradient": "input × gradient",
         "integrated_gradients": "integrated gradients", "occlusion": "occlusion",
         "attention": "attention", PAIR: "IG vs occlusion"}
PAPERS = {
    "agreement": [
        "Jain & Wallace 2019 (BiLSTM classifiers, QA, NLI): attention weights often correlate only weakly "
        "(Kendall τ) with gradient and leave-one-out importance.",
        "Wiegreffe & Pinter 2019: whether attention explains depends on the definition of explanation "
        "and on the task; the weights must be judged inside the whole model.",
        "Vashishth et al. 2019: where the output depends on attention (pairs of texts, translation) "
        "attention agrees better with importance than in single-text classification.",
    ],
    "alignment": [
        "Jain & Wallace 2019 studied tasks with one output and no alignment to check against.",
        "Vashishth et al. 2019: people judged attention interpretable where the task depends on it.",
    ],
    "counterfactual": [
        "Jain & Wallace 2019: permuted weights often leave a classifier's output almost unchanged, and "
        "very different (high-JSD) adversarial weights with the same prediction exist for many inputs.",
        "Wiegreffe & Pinter 2019: uniform weights match learned attention on several classification "
        "sets (attention is not needed there); a per-input adversary is not a model trained that way.",
        "Vashishth et al. 2019: in translation and pair tasks, permuting the weights changes the "
        "output markedly; in single-text classification attention acts as a gate and matters little.",
    ],
}


def _mean(values: Sequence[float]) -> float:
    kept = [v for v in values if math.isfinite(v)]
    return statistics.fmean(kept) if kept else math.nan


def _name(m: Measured) -> str:
    return f"{m.task}, {m.score}"


def key_numbers(measured: Sequence[Measured]) -> dict:
    """{claim: {"task, score": {name: value}}}: mean tau per method, alignment error rate per
    method, the counterfactual rates (changed, drop, jsd, success), and how well each arm does
    its task (greedy symbol and sequence accuracy, or Multi30k's greedy test BLEU)."""
    out: dict[str, dict] = {"agreement": {}, "alignment": {}, "counterfactual": {}, "accuracy": {}}
    for m in measured:
        right, symbols, exact, sequences = m.accuracy
        out["accuracy"][_name(m)] = {
            "symbol_accuracy": right / symbols if symbols else math.nan,
            "sequence_accuracy": exact / sequences if sequences else math.nan,
            "sequences": sequences, "test_bleu": math.nan if m.test_bleu is None else m.test_bleu[0],
            "test_sentences": 0 if m.test_bleu is None else m.test_bleu[1]}
        out["agreement"][_name(m)] = {k: _mean(v) for k, v in m.tau.items()}
        if m.wrong:
            out["alignment"][_name(m)] = {k: w / n if n else math.nan for k, (w, n) in m.wrong.items()}
        s = m.steps
        rates = {k: _mean(v) for k, v in s.items() if k != "p_original"}
        rates["adversarial_success"] = _mean([float(j >= SUCCESS_JSD) for j in s["adversarial_jsd"]])
        out["counterfactual"][_name(m)] = {**rates, "steps": len(s["p_original"]),
                                           "adversarial_steps": len(s["adversarial_jsd"])}
    return out


def _csv_rows(measured: Sequence[Measured], numbers: dict) -> list[list]:
    rows = []
    for m in measured:
        name = _name(m)
        acc = numbers["accuracy"][name]
        for measure in ("symbol_accuracy", "sequence_accuracy", "test_bleu"):
            if math.isfinite(acc[measure]):
                rows.append(["task", m.task, m.score, "greedy", measure, acc[measure],
                             acc["test_sentences" if measure == "test_bleu" else "sequences"]])
        for method, taus in m.tau.items():
            n = sum(math.isfinite(t) for t in taus)
            rows.append(["agreement", m.task, m.score, method, "kendall_tau_b_abs",
                         numbers["agreement"][name][method], n])
        for method, (_, counted) in m.wrong.items():
            rows.append(["alignment", m.task, m.score, method, "alignment_error_rate",
                         numbers["alignment"][name][method], counted])
        cf = numbers["counterfactual"][name]
        for key, value in cf.items():
            kind, _, measure = key.partition("_")
            if kind in ("permutation", "uniform", "adversarial") and measure != "steps":
                n = cf["adversarial_steps"] if kind == "adversarial" else cf["steps"]
                rows.append(["counterfactual", m.task, m.score, kind, measure, value, n])
    return rows


def _agreement_figure(path: Path, numbers: dict) -> None:
    """Bars: mean tau of each method with attention, one group per (task, score) arm."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from seqattn.viz import figure_bytes

    arms = list(numbers)
    methods = [*ATTRIBUTIONS, PAIR]
    fig = Figure(figsize=(max(7.0, 1.3 * len(arms) + 2), 4.4), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.8 / len(methods)
    for i, method in enumerate(methods):
        xs = [a + (i - (len(methods) - 1) / 2) * width for a in range(len(arms))]
        ax.bar(xs, [numbers[a].get(method, math.nan) for a in arms], width, label=SHORT[method],
               hatch="//" if method == PAIR else None)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(arms)), arms, rotation=20, ha="right")
    ax.set_ylim(-1.0, 1.0)
    ax.set_ylabel("mean Kendall τ-b per output token")
    ax.set_title("agreement of |attribution| with attention (hatched: IG vs occlusion, for scale)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncols=3)
    atomic_write_bytes(path, figure_bytes(fig))


def _example_figures(out: Path, example: tuple[Translator, tuple], ig_steps: int) -> list[str]:
    """One sentence's attention and integrated gradients side by side, drawn by seqattn.viz
    (attention on 0..1, integrated gradients on a scale centred on 0)."""
    from seqattn.viz import detokenize, save_heatmap

    translator, (src_ids, tgt_ids, _) = example
    sub = translator.subwords
    src_tokens, tgt_tokens = [*sub.src_pieces(src_ids), "</s>"], [*sub.tgt_pieces(tgt_ids), "</s>"]
    names = []
    for method, label in (("attention", None), ("integrated_gradients", "integrated gradients of log p")):
        scores = attribute_ids(translator.model, src_ids, tgt_ids, method, steps=ig_steps)
        save_heatmap(out / f"example_{method}", scores, src_tokens, tgt_tokens,
                     title=detokenize(src_tokens[:-1]), formats=("png",), label=label)
        names.append(f"example_{method}.png")
    return names


def _table(rows: dict, columns: Sequence[str], fmt: str, last: dict[str, str]) -> list[list[str]]:
    """One line per arm: its values in `columns` (- when missing), then `last[arm]`."""
    return [[arm] + [format(v[c], fmt) if math.isfinite(v.get(c, math.nan)) else "-" for c in columns]
            + [last[arm]] for arm, v in rows.items()]


def _accuracy_section(rows: dict) -> list[str]:
    sequences = {arm: str(v["sequences"]) if v["sequences"] else "-" for arm, v in rows.items()}
    return ["## How well each arm does its task (greedy)", "",
            markdown_table(["arm (task, score)", "symbol accuracy", "sequence accuracy", "test BLEU",
                            "sequences"],
                           _table(rows, ["symbol_accuracy", "sequence_accuracy", "test_bleu"], ".3g",
                                  sequences)), "",
            "Symbol accuracy: output symbols equal to the reference's at the same position, over the "
            "reference's symbols, on the sentences the study measures; sequence accuracy: whole outputs "
            "equal to the reference. Multi30k arms: the greedy BLEU on test_2016_flickr that training "
            "printed. An explanation of a model that fails its task explains little.", ""]


def _agreement_section(measured: Sequence[Measured], rows: dict) -> list[str]:
    tokens = {_name(m): str(sum(math.isfinite(t) for t in m.tau[ATTRIBUTIONS[0]])) for m in measured}
    columns = [*ATTRIBUTIONS, PAIR]
    return ["## 1. Agreement: Kendall τ-b of |attention| and |attribution| per output token", "",
            *[f"- {line}" for line in PAPERS["agreement"]], "",
            markdown_table(["arm (task, score)", *[SHORT[c] for c in columns], "tokens"],
                           _table(rows, columns, ".2f", tokens)), "",
            "Mean over output tokens (</s> included) of τ-b between the two rows' absolute values; "
            "a row with all-equal scores has no τ and is left out.", "",
            _here_agreement(rows), "", "![agreement](agreement.png)", ""]


def _alignment_section(measured: Sequence[Measured], rows: dict) -> list[str]:
    counted = {_name(m): str(m.wrong[METHODS[0]][1]) for m in measured if m.wrong}
    return ["## 2. Alignment error rate of the arg max (known alignment; </s> rows skipped)", "",
            *[f"- {line}" for line in PAPERS["alignment"]], "",
            markdown_table(["arm (task, score)", *[SHORT[m] for m in METHODS], "tokens"],
                           _table(rows, METHODS, ".3f", counted)), "",
            "A token counts as wrong when the source token of largest |score| is not the one it comes "
            "from by construction.", "", _here_alignment(rows), ""]


def _counterfactual_section(rows: dict) -> list[str]:
    columns = ["permutation_changed", "permutation_drop", "permutation_jsd", "uniform_changed",
               "uniform_drop", "uniform_jsd", "adversarial_jsd", "adversarial_success"]
    steps = {arm: "{steps} ({adversarial_steps})".format(**v) for arm, v in rows.items()}
    return ["## 3. Counterfactual attention, every decoding step (teacher-forced)", "",
            *[f"- {line}" for line in PAPERS["counterfactual"]], "",
            markdown_table(["arm (task, score)", "perm. changed", "perm. p drop", "perm. JSD",
                            "uniform changed", "uniform p drop", "uniform JSD", "adv. JSD",
                            f"adv. JSD ≥ {SUCCESS_JSD}", "steps (adv.)"],
                           _table(rows, columns, ".3f", steps)), "",
            "Changed: share of steps whose output token (the arg max) changes. p drop: mean fall of its "
            "probability. JSD: Jensen–Shannon divergence (nats, at most ln 2 ≈ 0.693) of the replacement "
            "weights from the model's own. Adversarial (on the first sentences of each arm: steps in "
            "brackets): the largest JSD found that keeps the token, with its probability within "
            f"{EPSILON}.", "", _here_counterfactual(rows), ""]


def write(out: Path, measured: Sequence[Measured], example: tuple[Translator, tuple], settings: dict) -> None:
    """results.csv, agreement.png, the example heatmaps and summary.md into `out`."""
    numbers = key_numbers(measured)
    write_csv(out / "results.csv", ["claim", "task", "score", "method", "measure", "value", "n"],
              _csv_rows(measured, numbers))
    _agreement_figure(out / "agreement.png", numbers["agreement"])
    pictures = _example_figures(out, example, settings["plan"]["ig_steps"])
    sections = [*_accuracy_section(numbers["accuracy"]), *_agreement_section(measured, numbers["agreement"]),
                *_alignment_section(measured, numbers["alignment"]),
                *_counterfactual_section(numbers["counterfactual"]),
                "## Example", "", *[f"![{p}]({p})" for p in pictures], ""]
    write_summary(out, "Study: faithfulness", sections, settings)


def _spread(values: Sequence[float], fmt: str) -> str:
    kept = [v for v in values if math.isfinite(v)]
    return f"{format(min(kept), fmt)} to {format(max(kept), fmt)}" if kept else "-"


def _here_agreement(rows: dict) -> str:
    att = [v[m] for v in rows.values() for m in ATTRIBUTIONS]
    pair = [v[PAIR] for v in rows.values()]
    return (f"Here: mean τ of attention with an attribution method ranges {_spread(att, '.2f')} over the "
            f"arms and methods; two attribution methods (IG vs occlusion) range {_spread(pair, '.2f')}.")


def _here_alignment(rows: dict) -> str:
    if not rows:
        return "Here: no arm with a known alignment."
    att = [v["attention"] for v in rows.values()]
    best = [min(v[m] for m in ATTRIBUTIONS) for v in rows.values()]
    return (f"Here: attention's arg max is wrong for {_spread(att, '.1%')} of output tokens over the arms; "
            f"the best attribution method per arm for {_spread(best, '.1%')}.")


def _here_counterfactual(rows: dict) -> str:
    perm = [v["permutation_changed"] for v in rows.values()]
    uni = [v["uniform_changed"] for v in rows.values()]
    adv = [v["adversarial_success"] for v in rows.values()]
    return (f"Here: permuting a step's weights changes its output token in {_spread(perm, '.0%')} of steps, "
            f"uniform weights in {_spread(uni, '.0%')}; the adversary reaches JSD ≥ {SUCCESS_JSD} while "
            f"keeping the token in {_spread(adv, '.0%')} of steps.")
