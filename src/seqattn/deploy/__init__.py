"""Exported models, run without torch: NumPy, ONNX Runtime and SentencePiece only.

`seqattn export RUN --out DIR` (`seqattn.export`) writes a folder of two ONNX graphs (the
encoder, and one decoder step), the run's vocabulary and a manifest (`manifest.py`);
`ExportedTranslator.load(DIR)` (also `seqattn.load(DIR)`) checks it and translates with the
same searches, limits and result types as a run directory (`search.py`, `translator.py`).
Nothing under this package imports torch, directly or through another module.
"""

from seqattn.deploy.manifest import is_export, read_manifest
from seqattn.deploy.translator import ExportedTranslator

__all__ = ["ExportedTranslator", "is_export", "read_manifest"]
