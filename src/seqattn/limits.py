"""What one decoding request may ask for: every limit, and the output-length formula, once.

The CLI, the Python API and the server all check their arguments here, so a beam of 65 gets
the same words from `seqattn translate --beam 65`, `translator.translate(..., beam=65)` and
`POST /v1/translate`.
"""

from __future__ import annotations

import math

from seqattn.errors import SeqattnError

MAX_BEAM = 64  # hypotheses kept per sentence
MAX_BATCH_SENTENCES = 4096  # sentences decoded side by side
MAX_LENGTH_PENALTY = 10.0  # the GNMT alpha
MAX_SOURCE_TOKENS = 1000  # longer inputs are cut (with a flag on the result)
MAX_OUTPUT_TOKENS = 1024  # whatever the settings, no output grows past this
MAX_SAMPLES = 100  # outputs sampled per input
MAX_SEED = 2**32 - 1  # seeds are 32-bit


def max_output_length(source_length: int, a: float, b: int) -> int:
    """The longest output for a source of `source_length` subwords (EOS counted):
    ceil(a * source_length + b), at most MAX_OUTPUT_TOKENS (decode.max_len_a, max_len_b)."""
    return min(MAX_OUTPUT_TOKENS, math.ceil(source_length * a + b))


def check_decoding(beam: int, n_best: int, batch_size: int | None = None,
                   length_penalty: float | None = None) -> None:
    """Refuse, in one line, a beam, n-best, batch size or length penalty out of range."""
    if not 1 <= beam <= MAX_BEAM:
        raise SeqattnError(f"beam must be between 1 and {MAX_BEAM} (got {beam})")
    if not 1 <= n_best <= beam:
        raise SeqattnError(f"n_best must be between 1 and the beam size {beam} (got {n_best})")
    if batch_size is not None and not 1 <= batch_size <= MAX_BATCH_SENTENCES:
        raise SeqattnError(f"batch size must be between 1 and {MAX_BATCH_SENTENCES} sentences "
                           f"(got {batch_size})")
    if length_penalty is not None and not 0.0 <= length_penalty <= MAX_LENGTH_PENALTY:
        raise SeqattnError(f"length penalty must be between 0 and {MAX_LENGTH_PENALTY:g} "
                           f"(got {length_penalty})")


def check_sampling(samples: int, temperature: float, top_k: int, top_p: float, seed: int = 0) -> None:
    """Refuse, in one line, a sample count, temperature, top-k, top-p or seed out of range."""
    if not 1 <= samples <= MAX_SAMPLES:
        raise SeqattnError(f"samples must be between 0 (search) and {MAX_SAMPLES} per input (got {samples})")
    if not (math.isfinite(temperature) and temperature > 0):
        raise SeqattnError(f"temperature must be more than 0 (got {temperature}); near 0 sampling "
                           "approaches greedy search")
    if top_k < 0:
        raise SeqattnError(f"top_k must be 0 (no cut) or more (got {top_k})")
    if not 0 < top_p <= 1:
        raise SeqattnError(f"top_p must be more than 0 and at most 1 (got {top_p}); 1 keeps every token")
    check_seed(seed)


def check_seed(seed: int) -> None:
    """Refuse, in one line, a seed that is not 32-bit."""
    if not 0 <= seed <= MAX_SEED:
        raise SeqattnError(f"seed must be between 0 and {MAX_SEED} (got {seed})")
