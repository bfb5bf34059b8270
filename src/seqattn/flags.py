"""Command-line flags that several verbs share (--device: every verb that runs a model;
--precision and --quantize: translate, evaluate, score and serve; --quantize also export;
--ensemble-rule: the verbs that take several runs as one model); imports nothing heavy."""

from __future__ import annotations

import argparse

from seqattn.choices import DEFAULT_ENSEMBLE_RULE, DEVICES, ENSEMBLE_RULES, PRECISIONS, QUANTIZATIONS


def add_device_argument(p: argparse.ArgumentParser, default: str | None = "auto",
                        help: str = "where to run (default auto: CUDA when present, else the CPU)") -> None:
    """--device, for every verb that runs a model (`default` None: the config decides)."""
    p.add_argument("--device", choices=DEVICES, default=default, help=help)


def add_precision_arguments(p: argparse.ArgumentParser) -> None:
    """--precision and --quantize, shared by translate, explain, evaluate, score and serve."""
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="decoding numerics: auto (the default) decodes in bf16 where a start-up "
                   "probe finds it native, else fp32; or fp32, bf16, fp16 (CUDA only)")
    add_quantize_argument(p, "int8 dynamic quantization of Linear/LSTM weights (CPU; overrides --precision)")


def add_quantize_argument(p: argparse.ArgumentParser, help: str) -> None:
    """--quantize (the decoding verbs through `add_precision_arguments`, and export)."""
    p.add_argument("--quantize", choices=QUANTIZATIONS, help=help)


def add_ensemble_rule_argument(p: argparse.ArgumentParser) -> None:
    """--ensemble-rule: how the members of an ensemble combine (translate, explain, evaluate,
    score, serve)."""
    p.add_argument("--ensemble-rule", choices=ENSEMBLE_RULES, default=DEFAULT_ENSEMBLE_RULE,
                   help="with several runs, how their next-token distributions combine: mean_logprob "
                   "(the mean log-probability, renormalised) or mean_prob (the log of the mean "
                   f"probability); default {DEFAULT_ENSEMBLE_RULE}")
