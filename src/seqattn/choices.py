"""The names a user picks from, on the command line and in configs: devices, precisions,
quantizations, how an ensemble combines its members. Spelled here once; the schema
(`config.py`), the shared flags (`flags.py`), the precision policy (`precision.py`), the device
resolver (`runtime.py`) and the ensemble (`search/ensemble.py`) read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

Device = Literal["auto", "cpu", "cuda"]  # auto: CUDA when present, else the CPU
ComputePrecision = Literal["fp32", "bf16", "fp16"]  # what a process computes in once decided
PrecisionChoice = Literal["auto", ComputePrecision]  # auto: decided by a probe (precision.py)
Quantization = Literal["int8"]
# how an ensemble combines its members' next-token distributions (search/ensemble.py computes them):
# mean_logprob: the mean of the log-probabilities, renormalised (a normalised geometric mean);
# mean_prob: the log of the mean probability (an arithmetic mean, a mixture)
EnsembleRule = Literal["mean_logprob", "mean_prob"]

DEVICES: tuple[str, ...] = get_args(Device)
PRECISIONS: tuple[str, ...] = get_args(PrecisionChoice)
QUANTIZATIONS: tuple[str, ...] = get_args(Quantization)
ENSEMBLE_RULES: tuple[str, ...] = get_args(EnsembleRule)
DEFAULT_ENSEMBLE_RULE = "mean_logprob"  # (the comparison of the two is left to a benchmark)


def spoken(names: Sequence[str]) -> str:
    """'auto, cpu or cuda': the names as a message lists them."""
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)
