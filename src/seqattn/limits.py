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
