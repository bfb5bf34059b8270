"""seqattn: RNN encoder-decoder models with attention, end to end."""

from __future__ import annotations

from seqattn.version import __version__


def load(run_dir: str, device: str = "auto", precision: str = "fp32", quantize: str | None = None):
    """Load a trained run directory; returns a `Translator` (see `seqattn.translator`) that
    decodes in `precision` ('fp32', 'bf16', 'fp16', 'auto') or with `quantize='int8'` weights."""
    from seqattn.translator import Translator

    return Translator.load(run_dir, device=device, precision=precision, quantize=quantize)


__all__ = ["load", "__version__"]
