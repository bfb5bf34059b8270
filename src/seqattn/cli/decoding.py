"""The verbs that use trained models: `translate`, `explain`, `evaluate`, `score` and `serve`.

Each takes a run directory or a folder written by `seqattn export` (`seqattn.deploy.is_export`
tells them apart), or several run directories, which decode as one ensemble
(`seqattn.ensemble`); `translate`, `evaluate` and `score` import torch only for a run directory.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from seqattn.cli import attributions
from seqattn.errors import SeqattnError
from seqattn.flags import add_device_argument, add_ensemble_rule_argument, add_precision_arguments
from seqattn.serve.args import add_serve_arguments

RUNS_HELP = ("a run directory (or a folder written by seqattn export); several run directories decode "
             "as one ensemble (--ensemble-rule)")


def add_parsers(verbs) -> None:
    sc = verbs.add_parser("score", help="score given outputs for their sources (forced decoding)",
                          description="Force each line of --tgt through the model for the same line of "
                          "--src and print, per line, the total log-probability, the length-normalised "
                          "score beam search would give it (decode.length_penalty), and the number of "
                          "target subwords (EOS included): LOGPROB<TAB>SCORE<TAB>TOKENS. With --tokens, "
                          "each subword's log-probability follows as PIECE=LOGPROB, tab-separated.")
    sc.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help=RUNS_HELP)
    sc.add_argument("--src", required=True, metavar="FILE", help="sources (plain or .gz)")
    sc.add_argument("--tgt", required=True, metavar="FILE", help="outputs to score, line-aligned")
    sc.add_argument("--tokens", action="store_true", help="also print each subword's log-probability")
    add_device_argument(sc)
    add_precision_arguments(sc)
    add_ensemble_rule_argument(sc)
    tr = verbs.add_parser("translate", help="translate text with a trained run",
                          description="Translate stdin (or --input) line by line. Interactive "
                          "when stdin is a terminal.")
    tr.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help=RUNS_HELP)
    tr.add_argument("--input", metavar="FILE", help="read sentences from FILE instead of stdin")
    tr.add_argument("--beam", type=int, help="beam size (default: the run's decode.beam; 1 = greedy)")
    tr.add_argument("--n-best", type=int, default=1,
                    help="hypotheses per sentence; >1 prints 'LINE<TAB>RANK<TAB>SCORE<TAB>TEXT'")
    tr.add_argument("--batch-size", type=int, help="sentences per batch (default: decode.batch_size)")
    tr.add_argument("--length-penalty", type=float, metavar="ALPHA",
                    help="beam scores are log-prob / ((5 + length) / 6)^ALPHA "
                    "(default: decode.length_penalty)")
    tr.add_argument("--attention-out", metavar="DIR",
                    help="write one attention heatmap per sentence (NNNN.png and NNNN.svg) here")
    attributions.add_translate_argument(tr)
    first = tr.add_mutually_exclusive_group()
    first.add_argument("--prefix", metavar="TEXT",
                       help="every output starts with TEXT; search continues from its tokens")
    first.add_argument("--prefix-file", metavar="FILE",
                       help="one prefix per input line (line-aligned; an empty line: none)")
    tr.add_argument("--sample", type=int, metavar="N",
                    help="draw N outputs per line from the model's distribution instead of searching "
                    "(printed as LINE<TAB>SAMPLE<TAB>LOGPROB<TAB>TEXT when N > 1; default: "
                    "decode.sampling.samples; 0: search)")
    tr.add_argument("--seed", type=int, metavar="S",
                    help="the same seed draws the same samples, one by one or batched (default: "
                    "decode.sampling.seed)")
    tr.add_argument("--temperature", type=float, metavar="T",
                    help="sampling: log-probabilities divided by T (default: decode.sampling.temperature)")
    tr.add_argument("--top-k", type=int, metavar="K",
                    help="sampling: draw among the K most probable tokens (0: all; default: "
                    "decode.sampling.top_k)")
    tr.add_argument("--top-p", type=float, metavar="P",
                    help="sampling: draw among the fewest most probable tokens reaching probability P "
                    "(1: all; default: decode.sampling.top_p)")
    add_device_argument(tr)
    add_precision_arguments(tr)
    add_ensemble_rule_argument(tr)

    x = verbs.add_parser("explain", help="walk through one translation step by step",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         description=textwrap.fill(
                             "Show the model's own numbers for one sentence: subwords, embeddings, "
                             "encoder states, context vector, and per output step the query, scores, "
                             "attention weights, attention value, combined state and top-5 next tokens "
                             "(greedy decoding, with the weights translate decodes with under the same "
                             "--precision / --quantize). With --attribution, a table instead: how much "
                             "each source token matters to each output token, by one method.", 100),
                         epilog=attributions.methods_epilog())
    x.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help=RUNS_HELP)
    x.add_argument("sentence", metavar="SENTENCE")
    x.add_argument("--format", choices=["text", "md"], default="text",
                   help="plain text (default) or a markdown report with the heatmap embedded")
    attributions.add_explain_arguments(x)
    add_device_argument(x)
    add_precision_arguments(x)  # (explain walks the weights translate would decode with)
    add_ensemble_rule_argument(x)

    e = verbs.add_parser("evaluate", help="score a run on a test set (BLEU, chrF, WER, PER, CER, ppl)",
                         description="Translate --src and score it against --ref (line-aligned).")
    e.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help=RUNS_HELP)
    e.add_argument("--src", required=True, metavar="FILE", help="source sentences (plain or .gz)")
    e.add_argument("--ref", required=True, metavar="FILE", help="reference translations")
    e.add_argument("--beam", type=int, help="beam size (default: the run's decode.beam)")
    e.add_argument("--output", metavar="FILE", help="also write the translations here")
    e.add_argument("--metrics", metavar="LIST",
                   help="comma-separated, of bleu, chrf, wer, per, cer (default: the run's eval.metrics)")
    e.add_argument("--group-references", action=argparse.BooleanOptionalAction, default=None,
                   help="score lines with the same source as one source with several references "
                   "(default: the run's eval.group_references)")
    add_device_argument(e)
    add_precision_arguments(e)
    add_ensemble_rule_argument(e)
    sv = verbs.add_parser("serve", help="serve runs over HTTP: a JSON API and a web page",
                          description="Serve trained runs over HTTP: POST /v1/translate, GET /v1/models, "
                          "GET /healthz, API docs at /docs and a web page at /. Listens on 127.0.0.1 "
                          "(this machine only) unless --host says otherwise.")
    add_serve_arguments(sv)



def _open(a: argparse.Namespace, internals: str | None = None):
    """The model at `a.run_dirs`: a run directory's Translator, an exported folder's
    ExportedTranslator (refused with `internals`, what the verb needs that only a run has), or
    several runs' Ensemble."""
    from seqattn.deploy.manifest import is_export

    if len(a.run_dirs) > 1:
        from seqattn.ensemble import Ensemble

        return Ensemble.load(a.run_dirs, device=a.device, precision=a.precision, quantize=a.quantize,
                             rule=a.ensemble_rule)
    run_dir = a.run_dirs[0]
    if is_export(run_dir):
        from seqattn.deploy.translator import NO_INTERNALS, ExportedTranslator

        if internals:
            raise SeqattnError(f"{run_dir}: {NO_INTERNALS.format(what=internals)}")
        return ExportedTranslator.load(run_dir, device=a.device, precision=a.precision, quantize=a.quantize)
    from seqattn.translator import Translator

    return Translator.load(run_dir, device=a.device, precision=a.precision, quantize=a.quantize)


def _metric_list(text: str | None) -> list[str] | None:
    """`--metrics bleu,chrf`: checked names, in order, each once (None: the run's own)."""
    from seqattn.scoring import METRICS

    if text is None:
        return None
    names = [m.strip().lower() for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        raise SeqattnError(f"--metrics: unknown metric '{bad[0] if bad else text}' "
                           f"(choose from {', '.join(METRICS)})")
    return list(dict.fromkeys(names))


def _has_attention(translator) -> bool:
    """Whether the model (any member of an ensemble) has attention."""
    return any(m.cfg.model.attention.type != "none" for m in getattr(translator, "members", [translator]))


def _print_translations(results, n_best: int, first_line: int, out) -> None:
    for offset, r in enumerate(results):
        if n_best == 1 and len(r.hypotheses) == 1:
            print(r.text, file=out)
        else:
            for rank, h in enumerate(r.hypotheses, start=1):
                print(f"{first_line + offset}\t{rank}\t{h.score:.4f}\t{h.text}", file=out)
    out.flush()


def _cmd_translate(a: argparse.Namespace) -> int:
    from seqattn.data.corpus import decode_lines, read_lines
    from seqattn.limits import MAX_SOURCE_TOKENS

    methods = attributions.translate_methods(a)
    if a.attention_out:
        import seqattn.viz  # noqa: F401  (needs matplotlib: refused before any line is translated)
    translator = _open(a)
    if methods:
        from seqattn.attribution import torch_model

        torch_model(translator)  # (refuses an ensemble or an exported model before translating)
    if a.attention_out and not _has_attention(translator) and (not methods or "attention" in methods):
        raise SeqattnError(f"{a.run_dirs[0]}: this model has no attention (model.attention.type: none)")
    kwargs = {"beam": a.beam, "n_best": a.n_best, "batch_size": a.batch_size,
              "length_penalty": a.length_penalty}
    extra = _extra_decoding(a, translator)
    sampling = "sample" in extra or (translator.cfg.decode.sampling.samples > 0 and not _exported(translator))
    base_seed = extra.get("seed", translator.cfg.decode.sampling.seed)
    if sampling:
        from seqattn.limits import check_seed

        check_seed(base_seed)  # (typed lines pass each line's own seed, derived from it)
    if a.prefix is not None:
        kwargs["prefix"] = a.prefix
    prefixes = read_lines(a.prefix_file) if a.prefix_file else None
    counter = iter(range(1, 1 << 62))

    def emit(results, first_line):
        _print_translations(results, a.n_best, first_line, sys.stdout)
        for offset, r in enumerate(results):
            if r.truncated:
                print(f"seqattn: warning: line {first_line + offset} is longer than {MAX_SOURCE_TOKENS} "
                      f"subwords; only its first {MAX_SOURCE_TOKENS} were translated", file=sys.stderr)
        unknown = [(first_line + k, r.unknown) for k, r in enumerate(results) if r.unknown]
        if unknown:
            where = ", ".join(f"line {n}" for n, _ in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
            print(f"seqattn: note: {sum(u for _, u in unknown):,} source token(s) outside the model's "
                  f"vocabulary were read as <unk> ({where})", file=sys.stderr)
        if a.attention_out:
            from seqattn.viz import save_heatmap

            for offset, r in enumerate(results):
                stem = Path(a.attention_out) / f"{next(counter):04d}"
                if r.attention is not None:
                    save_heatmap(stem, r.attention, r.src_tokens, r.tgt_tokens, title=r.source)
                if methods:
                    attributions.save_maps(translator, r, methods, stem, first_line + offset)

    if a.input:
        lines = read_lines(a.input)
    elif sys.stdin.isatty():
        print("Type a sentence and press Enter (Ctrl-D to quit).", file=sys.stderr)
        number = 1
        while True:
            try:
                line = input("> ")
            except EOFError:
                print(file=sys.stderr)
                return 0
            if prefixes is not None:
                raise SeqattnError("--prefix-file needs --input or piped lines (it is line-aligned with "
                                   "them); type-ahead takes --prefix")
            if sampling:  # each line draws as it would in a file: seeded from the seed and its number
                from seqattn.search import sentence_seed

                line_seed = [sentence_seed(base_seed, number - 1)]
                emit(translator.translate([line], **kwargs, **{**extra, "seed": line_seed}), number)
            else:
                emit(translator.translate([line], **kwargs, **extra), number)
            number += 1
    else:
        binary = getattr(sys.stdin, "buffer", None)
        lines = decode_lines(binary.read(), "stdin") if binary is not None else sys.stdin.read().splitlines()
    if prefixes is not None:
        if len(prefixes) != len(lines):
            raise SeqattnError(f"{a.prefix_file} has {len(prefixes)} lines but the input has {len(lines)}: "
                               "they must be line-aligned")
        kwargs["prefix"] = prefixes
    emit(translator.translate(lines, **kwargs, **extra), 1)
    return 0


def _exported(translator) -> bool:
    from seqattn.deploy.translator import ExportedTranslator

    return isinstance(translator, ExportedTranslator)


def _extra_decoding(a: argparse.Namespace, translator) -> dict:
    """What the run's own translator does beyond search (a forced prefix): refused, in one line,
    for an exported model; the keywords to pass otherwise."""
    flags = {"--prefix": a.prefix, "--prefix-file": a.prefix_file, "--sample": a.sample, "--seed": a.seed,
             "--temperature": a.temperature, "--top-k": a.top_k, "--top-p": a.top_p}
    asked = [flag for flag, value in flags.items() if value is not None]
    if asked and _exported(translator):
        raise SeqattnError(f"{a.run_dirs[0]}: an exported model decodes by greedy and beam search only "
                           f"({asked[0]} needs the run directory it was exported from)")
    given = {"sample": a.sample, "seed": a.seed, "temperature": a.temperature, "top_k": a.top_k,
             "top_p": a.top_p}
    return {key: value for key, value in given.items() if value is not None}


def _cmd_explain(a: argparse.Namespace) -> int:
    if a.attribution is not None:
        return attributions.explain(a, _open)
    attributions.refuse_alone(a)
    translator = _open(a, internals="explain")
    from seqattn.explain import explain, format_markdown, format_text

    ex = explain(translator, a.sentence)
    print(format_markdown(ex) if a.format == "md" else format_text(ex))
    return 0


def _cmd_serve(a: argparse.Namespace) -> int:
    from seqattn.serve.args import run_from_args

    return run_from_args(a)


def _same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (through links too; False when either is missing)."""
    try:
        return Path(a).resolve() == Path(b).resolve() or Path(a).samefile(b)
    except OSError:
        return False


def _cmd_evaluate(a: argparse.Namespace) -> int:
    from seqattn.atomic import atomic_write_text
    from seqattn.evaluate import evaluate_files
    from seqattn.scoring import LABELS

    if a.output:
        for flag, given in (("--src", a.src), ("--ref", a.ref)):
            if _same_file(a.output, given):
                raise SeqattnError(f"--output {a.output} is the {flag} file; give another path "
                                   "(seqattn never writes over its input)")
    metrics = _metric_list(a.metrics)
    translator = _open(a)
    scores, outputs = evaluate_files(translator, a.src, a.ref, a.beam, metrics, a.group_references)
    beam = a.beam or translator.cfg.decode.beam
    for metric, value in scores.values.items():
        print(f"{LABELS[metric]:<5} {value:.2f}  {scores.signatures.get(metric, '(percent)')}")
    if scores.ppl is not None:
        print(f"ppl   {scores.ppl:.3f}  (teacher-forced, per target token incl. EOS)")
    print(f"({scores.sentences} {scores.unit}, beam {beam})")
    if a.output:
        atomic_write_text(a.output, "".join(o + "\n" for o in outputs))
    return 0


def _cmd_score(a: argparse.Namespace) -> int:
    from seqattn.data.corpus import read_lines

    sources, targets = read_lines(a.src), read_lines(a.tgt)
    if len(sources) != len(targets):
        raise SeqattnError(f"{a.src} has {len(sources)} lines but {a.tgt} has {len(targets)}: they "
                           "must be line-aligned")
    for number, (src, tgt) in enumerate(zip(sources, targets), start=1):
        if not tgt.split():
            raise SeqattnError(f"{a.tgt}:{number}: empty target (nothing to score)")
        if not src.split():
            raise SeqattnError(f"{a.src}:{number}: empty source")
    translator = _open(a)
    step = 1024  # lines per call: memory stays bounded on long files
    for start in range(0, len(sources), step):
        for r in translator.score(sources[start : start + step], targets[start : start + step]):
            line = f"{r.logprob:.4f}\t{r.score:.4f}\t{len(r.tgt_tokens)}"
            if a.tokens:
                line += "".join(f"\t{p}={lp:.4f}" for p, lp in zip(r.tgt_tokens, r.logprobs))
            print(line)
    sys.stdout.flush()
    return 0


COMMANDS = {"translate": _cmd_translate, "explain": _cmd_explain, "evaluate": _cmd_evaluate,
            "score": _cmd_score, "serve": _cmd_serve}
