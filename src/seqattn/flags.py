"""Command-line flags that several verbs share (translate, evaluate, serve); imports nothing heavy."""

from __future__ import annotations

import argparse


def add_precision_arguments(p: argparse.ArgumentParser) -> None:
    """--precision and --quantize, shared by translate, evaluate and serve."""
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
                   help="decoding numerics: auto (the default) decodes in bf16 where a start-up "
                   "probe finds it native, else fp32; or fp32, bf16, fp16 (CUDA only)")
    p.add_argument("--quantize", choices=["int8"],
                   help="int8 dynamic quantization of Linear/LSTM weights (CPU; overrides --precision)")
