"""The `seqattn` command: parsing and printing only; the work happens in the library.

The program's entry point is `seqattn.program` (it settles signal handling first); `main`
here can also be called in-process, as the tests do.

One module per kind of verb: `training` (train, prepare, study), `decoding` (translate,
explain, evaluate, score, serve) and `deploy` (export); this one assembles the parser and runs
a verb.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from seqattn import stopping
from seqattn.cli import decoding, deploy, training
from seqattn.cli.training import DEFAULT_CONFIG, _default_config_path  # noqa: F401 (used by tests)
from seqattn.errors import SeqattnError
from seqattn.version import __version__


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="seqattn",
        description="RNN encoder-decoder models with attention: train, translate, evaluate.",
        epilog="Run `seqattn VERB --help` for the flags of each verb.",
    )
    p.add_argument("--version", action="version", version=f"seqattn {__version__}")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    training.add_parsers(verbs)
    decoding.add_parsers(verbs)
    deploy.add_parsers(verbs)
    return p


def needs_torch(verb: str) -> str:
    """The one line for a verb that needs PyTorch where it is not installed."""
    line = f"seqattn {verb} needs PyTorch, which is not installed here: pip install torch"
    if verb in ("translate", "evaluate", "score"):
        line += " (a folder written by seqattn export runs without it)"
    return line


PIP_NAMES = {"yaml": "PyYAML", "koreanize_matplotlib": "koreanize-matplotlib",
             "swagger_ui_bundle": "swagger-ui-bundle-v2"}  # where the module's name is not the package's


def needs_module(verb: str, module: str) -> str:
    """The one line for a verb that needs a package other than torch where it is not installed (the
    seqattn-runtime distribution leaves out what only the full toolkit uses, e.g. matplotlib)."""
    return (f"seqattn {verb} needs {module}, which is not installed here: "
            f"pip install {PIP_NAMES.get(module, module)}")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # overrides may follow flags: `train CONFIG --out DIR key=value`
        if args.verb not in ("train", "prepare") or any(x.startswith("-") for x in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.args += extra
    commands = {**training.COMMANDS, **decoding.COMMANDS, **deploy.COMMANDS}
    stopping.allow_deferral(args.verb == "train")  # (train saves a checkpoint before it stops)
    try:
        return commands[args.verb](args)
    except SeqattnError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"seqattn: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        module = (exc.name or "").split(".")[0]
        if module in ("", "seqattn"):  # (a broken install of seqattn itself)
            raise
        if args.debug:
            traceback.print_exc()
        line = needs_torch(args.verb) if module == "torch" else needs_module(args.verb, module)
        print(f"seqattn: error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # (called in-process, without `seqattn.program`'s signal handling)
        print("seqattn: interrupted", file=sys.stderr)
        return stopping.STATUS
    except BrokenPipeError:
        return 0


