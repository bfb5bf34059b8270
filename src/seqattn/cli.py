"""The `seqattn` command: parsing and printing only; the work happens in the library."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from importlib import resources
from pathlib import Path

from seqattn.errors import SeqattnError
from seqattn.flags import add_precision_arguments
from seqattn.serve.args import add_serve_arguments
from seqattn.version import __version__

DEFAULT_CONFIG = "builtin default (Tatoeba Korean->English, bundled)"


def _default_config_path() -> Path:
    return Path(str(resources.files("seqattn") / "resources" / "default.yaml"))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="seqattn",
        description="RNN encoder-decoder models with attention: train, translate, evaluate.",
        epilog="Run `seqattn VERB --help` for the flags of each verb.",
    )
    p.add_argument("--version", action="version", version=f"seqattn {__version__}")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    t = verbs.add_parser(
        "train", help="train a model (with no CONFIG: the bundled Korean->English default)",
        description="Train a model. Arguments are an optional CONFIG (YAML) followed by "
        "dotted overrides such as train.max_steps=2000 model.attention.type=additive.",
    )
    t.add_argument("args", nargs="*", metavar="[CONFIG] [key=value ...]",
                   help="config file, then overrides (dotted keys, YAML values)")
    t.add_argument("--out", metavar="RUN_DIR", help="new run directory (default: runs/NAME-TIME)")
    t.add_argument("--resume", metavar="RUN_DIR",
                   help="continue this run from its last checkpoint; overrides may extend it "
                   "(e.g. train.max_steps=20000)")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"],
                   help="where to train (default: the config's train.device, 'auto')")
    t.add_argument("--nproc", type=int, metavar="N",
                   help="train data-parallel in N processes on this machine (launched through "
                   "torchrun; for several machines run torchrun yourself, see README)")

    pr = verbs.add_parser("prepare", help="encode a large training corpus once, for streaming",
                          description="Train SentencePiece on a bounded sample of the config's "
                          "training corpus and encode all of it, in parallel processes, into "
                          "memory-mapped shards that `train` streams (data.prepared=DATA_DIR). "
                          "Reuses DATA_DIR when the input and settings are unchanged.")
    pr.add_argument("args", nargs="+", metavar="CONFIG [key=value ...]",
                    help="config file, then overrides (dotted keys, YAML values)")
    pr.add_argument("--out", metavar="DATA_DIR", help="where to write (default: the config's data.prepared)")
    pr.add_argument("--workers", type=int, metavar="N", help="encoding processes (default: CPU cores)")

    tr = verbs.add_parser("translate", help="translate text with a trained run",
                          description="Translate stdin (or --input) line by line. Interactive "
                          "when stdin is a terminal.")
    tr.add_argument("run_dir", metavar="RUN_DIR")
    tr.add_argument("--input", metavar="FILE", help="read sentences from FILE instead of stdin")
    tr.add_argument("--beam", type=int, help="beam size (default: the run's decode.beam; 1 = greedy)")
    tr.add_argument("--n-best", type=int, default=1,
                    help="hypotheses per sentence; >1 prints 'LINE<TAB>RANK<TAB>SCORE<TAB>TEXT'")
    tr.add_argument("--batch-size", type=int, help="sentences per batch (default: decode.batch_size)")
    tr.add_argument("--attention-out", metavar="DIR",
                    help="write one attention heatmap per sentence (NNNN.png and NNNN.svg) here")
    tr.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    add_precision_arguments(tr)

    x = verbs.add_parser("explain", help="walk through one translation step by step",
                         description="Show the model's own numbers for one sentence: subwords, "
                         "embeddings, encoder states, context vector, and per output step the "
                         "query, scores, attention weights, attention value, combined state and "
                         "top-5 next tokens (greedy decoding).")
    x.add_argument("run_dir", metavar="RUN_DIR")
    x.add_argument("sentence", metavar="SENTENCE")
    x.add_argument("--format", choices=["text", "md"], default="text",
                   help="plain text (default) or a markdown report with the heatmap embedded")
    x.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")

    s = verbs.add_parser("study", help="run a reproducible study (bottleneck, reverse, scores, gradient)",
                         description="Train the arms of one study and write results.csv, figures "
                         "(PNG) and summary.md into --out.")
    s.add_argument("name", choices=["bottleneck", "reverse", "scores", "gradient"])
    s.add_argument("--quick", action="store_true", help="a small version that runs in about a minute")
    s.add_argument("--out", metavar="DIR", help="output folder (default: studies/NAME)")
    s.add_argument("--data", metavar="DIR", help="Multi30k folder: also compare on German->English "
                   "(bottleneck, reverse, scores)")
    s.add_argument("--seeds", type=int, help="seeds per synthetic arm (default 2; 1 with --quick)")
    s.add_argument("--minutes", type=float, default=22.0,
                   help="training minutes for all Multi30k arms together, shared equally "
                   "(default 22: with the synthetic part and evaluation, a study stays within 30 minutes)")

    sv = verbs.add_parser("serve", help="serve runs over HTTP: a JSON API and a web page",
                          description="Serve trained runs over HTTP: POST /v1/translate, GET /v1/models, "
                          "GET /healthz, API docs at /docs and a web page at /. Listens on 127.0.0.1 "
                          "(this machine only) unless --host says otherwise.")
    add_serve_arguments(sv)

    e = verbs.add_parser("evaluate", help="score a run on a test set (BLEU, chrF, WER, PER, CER, ppl)",
                         description="Translate --src and score it against --ref (line-aligned).")
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--src", required=True, metavar="FILE", help="source sentences (plain or .gz)")
    e.add_argument("--ref", required=True, metavar="FILE", help="reference translations")
    e.add_argument("--beam", type=int, help="beam size (default: the run's decode.beam)")
    e.add_argument("--output", metavar="FILE", help="also write the translations here")
    e.add_argument("--metrics", metavar="LIST",
                   help="comma-separated, of bleu, chrf, wer, per, cer (default: the run's eval.metrics)")
    e.add_argument("--group-references", action=argparse.BooleanOptionalAction, default=None,
                   help="score lines with the same source as one source with several references "
                   "(default: the run's eval.group_references)")
    e.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    add_precision_arguments(e)
    return p


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


def _cmd_train(a: argparse.Namespace) -> int:
    from seqattn.config import load_config
    from seqattn.rundir import RunDir
    from seqattn.train import train
    from seqattn.train.distributed import env_rank, launch, launched_by_torchrun

    positional = [x for x in a.args if "=" not in x]
    overrides = [x for x in a.args if "=" in x]
    if len(positional) > 1:
        raise SeqattnError(f"train takes one CONFIG; unexpected '{positional[1]}'")
    config = positional[0] if positional else None
    if a.nproc is not None and (a.nproc < 1 or launched_by_torchrun()):
        raise SeqattnError("--nproc needs N >= 1, outside torchrun" if a.nproc < 1 else
                           "--nproc is for launching; under torchrun use --nproc-per-node")
    if launched_by_torchrun() and not (a.out or a.resume):
        raise SeqattnError("under torchrun give --out RUN_DIR (or --resume RUN_DIR): every process "
                           "must use the same run directory")
    main_rank = env_rank() == 0  # under torchrun only rank 0 checks and prints
    if a.resume:
        if config or a.out:
            raise SeqattnError("--resume continues a run with its own config; drop CONFIG/--out")
        run = RunDir.open(a.resume)
        run_dir, cfg = run.path, run.read_config(overrides)
    else:
        cfg = load_config(config or _default_config_path(), overrides)
        run_dir = Path(a.out) if a.out else Path("runs") / f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        if main_rank:
            RunDir(run_dir).check_new()
    if a.nproc is not None and a.nproc > 1:  # rank 0 of the launched processes prints
        where = ["--resume", str(run_dir)] if a.resume else [*positional, "--out", str(run_dir)]
        device = ["--device", a.device] if a.device else []
        launch(a.nproc, [*(["--debug"] if a.debug else []), "train", *where, *device, *overrides])
        return 0
    if main_rank:
        print(f"run directory: {run_dir}  (config: {config or DEFAULT_CONFIG})", file=sys.stderr)
    result = train(cfg, run_dir, resume=bool(a.resume), device=a.device)
    if not main_rank:
        return 0
    print(f"run directory: {run_dir}")
    print(f"stopped after step {result.progress.step}: {result.stop_reason}")
    if result.test is not None:
        print(f"test (beam {cfg.decode.beam}): {result.test.line()}")
        for signature in result.test.signatures.values():
            print(f"  {signature}")
    if result.examples:
        print(f"test sentences ({len(result.examples)} of {result.test.sentences}, evenly spread):")
        for e in result.examples:
            print(f"  {e.source}\n    reference: {e.reference}\n    seqattn:   {e.output}")
    if result.samples:
        print("samples:")
        for s in result.samples:
            print(f"  {s.source}  ->  {s.text}")
    return 0


def _cmd_prepare(a: argparse.Namespace) -> int:
    import logging

    from seqattn.config import load_config
    from seqattn.data.prepare import prepare_corpus

    positional = [x for x in a.args if "=" not in x]
    if len(positional) != 1:
        extra = f"; unexpected '{positional[1]}'" if positional else ""
        raise SeqattnError(f"prepare takes one CONFIG{extra}")
    cfg = load_config(positional[0], [x for x in a.args if "=" in x])
    out = a.out or cfg.data.prepared
    if not out:
        raise SeqattnError("give --out DATA_DIR (or set data.prepared in the config)")
    if a.workers is not None and a.workers < 1:
        raise SeqattnError("--workers needs N >= 1")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log = logging.getLogger("seqattn")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        result = prepare_corpus(cfg, out, a.workers)
    finally:
        log.removeHandler(handler)
    m = result.manifest
    state = "up to date (reused)" if result.reused else f"prepared in {result.seconds:.1f} s"
    print(f"{out}: {state}: {m['pairs']:,} training pairs of {m['lines']:,} lines, "
          f"{len(m['shards'])} shards, {m['tokens']:,} subwords")
    if not result.reused:
        print(f"  {m['lines'] / max(result.seconds, 1e-9):,.0f} lines/s")
    if m["skipped"]:
        reasons = ", ".join(f"{n:,} {why}" for why, n in sorted(m["skipped"].items()))
        print(f"  skipped {sum(m['skipped'].values()):,} lines ({reasons}); listed in {out}/skipped.tsv")
    if any(m["held_out"].values()):
        print(f"  held out {m['held_out']['dev']:,} dev and {m['held_out']['test']:,} test pairs")
    print(f"train with: seqattn train {positional[0]} data.prepared={out}")
    return 0


def _print_translations(results, n_best: int, first_line: int, out) -> None:
    for offset, r in enumerate(results):
        if n_best == 1:
            print(r.text, file=out)
        else:
            for rank, h in enumerate(r.hypotheses, start=1):
                print(f"{first_line + offset}\t{rank}\t{h.score:.4f}\t{h.text}", file=out)
    out.flush()


def _cmd_translate(a: argparse.Namespace) -> int:
    from seqattn.data.corpus import decode_lines, read_lines
    from seqattn.translator import MAX_SOURCE_TOKENS, Translator

    translator = Translator.load(a.run_dir, device=a.device, precision=a.precision, quantize=a.quantize)
    if a.attention_out and translator.cfg.model.attention.type == "none":
        raise SeqattnError(f"{a.run_dir}: this model has no attention (model.attention.type: none)")
    kwargs = {"beam": a.beam, "n_best": a.n_best, "batch_size": a.batch_size}
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

            for r in results:
                save_heatmap(Path(a.attention_out) / f"{next(counter):04d}", r.attention,
                             r.src_tokens, r.tgt_tokens, title=r.source)

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
            emit(translator.translate([line], **kwargs), number)
            number += 1
    else:
        binary = getattr(sys.stdin, "buffer", None)
        lines = decode_lines(binary.read(), "stdin") if binary is not None else sys.stdin.read().splitlines()
    emit(translator.translate(lines, **kwargs), 1)
    return 0


def _cmd_explain(a: argparse.Namespace) -> int:
    from seqattn.explain import explain, format_markdown, format_text
    from seqattn.translator import Translator

    ex = explain(Translator.load(a.run_dir, device=a.device), a.sentence)
    print(format_markdown(ex) if a.format == "md" else format_text(ex))
    return 0


def _cmd_study(a: argparse.Namespace) -> int:
    from seqattn.studies import run_study

    if a.data and a.name == "gradient":
        raise SeqattnError("the gradient study is synthetic only; drop --data")
    if a.data and not Path(a.data, "train.de.gz").is_file():
        raise SeqattnError(f"{a.data}: no Multi30k train.de.gz here")
    out = Path(a.out or Path("studies") / a.name)
    run_study(a.name, out, quick=a.quick, data=a.data, seeds=a.seeds, minutes=a.minutes)
    print((out / "summary.md").read_text())
    print(f"written: {out}/summary.md, results.csv and figures")
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
    from seqattn.translator import Translator

    if a.output:
        for flag, given in (("--src", a.src), ("--ref", a.ref)):
            if _same_file(a.output, given):
                raise SeqattnError(f"--output {a.output} is the {flag} file; give another path "
                                   "(seqattn never writes over its input)")
    metrics = _metric_list(a.metrics)
    translator = Translator.load(a.run_dir, device=a.device, precision=a.precision, quantize=a.quantize)
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


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # overrides may follow flags: `train CONFIG --out DIR key=value`
        if args.verb not in ("train", "prepare") or any(x.startswith("-") for x in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.args += extra
    commands = {"train": _cmd_train, "prepare": _cmd_prepare, "translate": _cmd_translate,
                "evaluate": _cmd_evaluate, "explain": _cmd_explain, "study": _cmd_study,
                "serve": _cmd_serve}
    try:
        return commands[args.verb](args)
    except SeqattnError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"seqattn: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        name = getattr(exc, "name", None)  # (train's setup names the signal)
        what = f" by {name} during setup (a new run is removed, a resumed one left as it was)" if name else ""
        print(f"seqattn: interrupted{what}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
