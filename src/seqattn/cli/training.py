"""The verbs that make models: `train`, `prepare` and `study`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from seqattn.errors import SeqattnError
from seqattn.flags import add_device_argument
from seqattn.recipe import DEFAULT_RECIPE, config_path, recipe_names, recipe_path

DEFAULT_CONFIG = "builtin default (Tatoeba Korean->English, bundled)"


def _default_config_path() -> Path:
    return recipe_path(DEFAULT_RECIPE)


def add_parsers(verbs) -> None:
    t = verbs.add_parser(
        "train", help="train a model (with no CONFIG: the bundled Korean->English default)",
        description="Train a model. Arguments are an optional CONFIG followed by dotted overrides "
        "such as train.max_steps=2000 model.attention.type=additive. CONFIG is a YAML file or the "
        f"name of a recipe shipped with seqattn ({', '.join(recipe_names())}).",
    )
    t.add_argument("args", nargs="*", metavar="[CONFIG] [key=value ...]",
                   help="config file or recipe name, then overrides (dotted keys, YAML values)")
    t.add_argument("--out", metavar="RUN_DIR", help="new run directory (default: runs/NAME-TIME)")
    t.add_argument("--resume", metavar="RUN_DIR",
                   help="continue this run from its last checkpoint; overrides may extend it "
                   "(e.g. train.max_steps=20000)")
    add_device_argument(t, default=None, help="where to train (default: the config's train.device, 'auto')")
    t.add_argument("--nproc", type=int, metavar="N",
                   help="train data-parallel in N processes on this machine (launched through "
                   "torchrun; for several machines run torchrun yourself, see README)")

    pr = verbs.add_parser("prepare", help="encode a large training corpus once, for streaming",
                          description="Train SentencePiece on a bounded sample of the config's "
                          "training corpus and encode all of it, in parallel processes, into "
                          "memory-mapped shards that `train` streams (data.prepared=DATA_DIR). "
                          "Reuses DATA_DIR when the input and settings are unchanged.")
    pr.add_argument("args", nargs="+", metavar="CONFIG [key=value ...]",
                    help="config file or recipe name, then overrides (dotted keys, YAML values)")
    pr.add_argument("--out", metavar="DATA_DIR", help="where to write (default: the config's data.prepared)")
    pr.add_argument("--workers", type=int, metavar="N", help="encoding processes (default: CPU cores)")

    s = verbs.add_parser("study", help="run a reproducible study (bottleneck, reverse, scores, gradient, "
                         "faithfulness)",
                         description="Train the arms of one study and write results.csv, figures "
                         "(PNG) and summary.md into --out.")
    s.add_argument("name", choices=["bottleneck", "reverse", "scores", "gradient", "faithfulness"])
    s.add_argument("--quick", action="store_true", help="a small version that runs in a minute or two")
    s.add_argument("--out", metavar="DIR", help="output folder (default: studies/NAME)")
    s.add_argument("--data", metavar="DIR", help="Multi30k folder: also compare on German->English "
                   "(bottleneck, reverse, scores, faithfulness)")
    s.add_argument("--seeds", type=int, help="seeds per synthetic arm (default 2; 1 with --quick)")
    s.add_argument("--minutes", type=float,
                   help="training minutes for all Multi30k arms together, shared equally (default 22, "
                   "faithfulness 12: with the synthetic part and evaluation, a study stays within 30 "
                   "minutes)")



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
        from seqattn.deploy.manifest import is_export

        if is_export(a.resume):
            raise SeqattnError(f"{a.resume} is an exported model, not a run directory: training resumes "
                               "from the run it was exported from")
        run = RunDir.open(a.resume)
        run_dir, cfg = run.path, run.read_config(overrides)
    else:
        cfg = load_config(config_path(config) if config else _default_config_path(), overrides)
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
    cfg = load_config(config_path(positional[0]), [x for x in a.args if "=" in x])
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


COMMANDS = {"train": _cmd_train, "prepare": _cmd_prepare, "study": _cmd_study}
