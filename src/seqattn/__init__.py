"""seqattn: RNN encoder-decoder models with attention, end to end."""

from __future__ import annotations

from seqattn.version import __version__


def load(run_dir: str, device: str = "auto"):
    """Load a trained run directory; returns a `Translator` (see `seqattn.translator`)."""
    from seqattn.translator import Translator

    return Translator.load(run_dir, device=device)


__all__ = ["load", "__version__"]
