"""The flags of `seqattn serve` (also `python -m seqattn.serve`); imports nothing heavy.

The server's knobs come from `ServeOptions` (serve/options.py), where each is written once;
--device, --precision and --quantize are the flags every decoding verb shares (flags.py).
"""

from __future__ import annotations

import argparse

from seqattn.errors import SeqattnError
from seqattn.flags import add_device_argument, add_ensemble_rule_argument, add_precision_arguments
from seqattn.serve.options import ServeOptions


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    """Add the serve flags to `p` (a subparser of the `seqattn` command, or its own parser)."""
    p.add_argument("run_dirs", nargs="*", metavar="RUN_DIR",
                   help="trained run directories; each is served under its basename, "
                   "the first is the default (--ensemble serves several as one)")
    add_device_argument(p)
    add_precision_arguments(p)
    add_ensemble_rule_argument(p)
    ServeOptions.add_arguments(p)


def check_serve_args(a: argparse.Namespace) -> ServeOptions:
    """The server's options from parsed flags; SeqattnError for values that can't work."""
    return ServeOptions.from_args(a)


def run_from_args(a: argparse.Namespace) -> int:
    """Check the flags, load the runs and serve until interrupted; errors are SeqattnError."""
    options = check_serve_args(a)
    try:
        from seqattn.serve.app import run_server
    except ImportError as exc:
        if (exc.name or "").split(".")[0] == "torch":
            raise  # (the command line says in one line that serve needs PyTorch)
        import torch  # noqa: F401  (where torch is missing too, as under seqattn-runtime, say that first)
        raise SeqattnError(f"serving needs FastAPI and uvicorn ({exc}); install them with "
                           "pip install fastapi uvicorn") from None
    return run_server(a.run_dirs, options, device=a.device, precision=a.precision, quantize=a.quantize,
                      ensemble_rule=a.ensemble_rule)
