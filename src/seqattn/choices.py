"""The names a user picks from, on the command line and in configs: devices, precisions,
quantizations, how an ensemble combines its members, attribution methods. Spelled here once; the schema
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

# how much each source token matters to each output token (seqattn.attribution computes them)
AttributionMethod = Literal["attention", "saliency", "input_x_gradient", "integrated_gradients", "occlusion"]
ATTRIBUTION_SUMMARIES = {  # one line each, for --help and the docs
    "attention": "the decoder's attention weights in the same forced pass (no gradients)",
    "saliency": "the L2 norm of d objective / d source embedding (unsigned)",
    "input_x_gradient": "embedding x gradient, summed over the embedding (signed)",
    "integrated_gradients": "the gradients along the straight path from the baseline (every source "
                            "token, </s> too, replaced by <pad>, whose embedding is zero) to the input, "
                            "times the difference, summed over the embedding: each row sums to "
                            "objective(input) - objective(baseline) (signed)",
    "occlusion": "objective(source) - objective(source without that token), one token dropped at a "
                 "time, </s> too (signed)",
}

DEVICES: tuple[str, ...] = get_args(Device)
ATTRIBUTION_METHODS: tuple[str, ...] = get_args(AttributionMethod)
PRECISIONS: tuple[str, ...] = get_args(PrecisionChoice)
QUANTIZATIONS: tuple[str, ...] = get_args(Quantization)
ENSEMBLE_RULES: tuple[str, ...] = get_args(EnsembleRule)
DEFAULT_ENSEMBLE_RULE = "mean_logprob"  # (the comparison of the two is left to a benchmark)


def spoken(names: Sequence[str]) -> str:
    """'auto, cpu or cuda': the names as a message lists them."""
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)
