"""Text in, token ids out: corpus readers, SentencePiece subwords, length-bucketed batches."""

from seqattn.data.corpus import ParallelText, read_corpus
from seqattn.data.subword import EOS_ID, PAD_ID, SOS_ID, UNK_ID, Subwords

__all__ = [
    "Batch", "BucketBatcher", "make_batch", "ParallelText", "read_corpus", "Subwords",
    "PAD_ID", "UNK_ID", "SOS_ID", "EOS_ID",
]


def __getattr__(name: str):
    """The batching names, imported on first use: they need torch, which the processes of
    `seqattn prepare` do without."""
    if name in ("Batch", "BucketBatcher", "make_batch"):
        from seqattn.data import batching

        return getattr(batching, name)
    raise AttributeError(f"module 'seqattn.data' has no attribute '{name}'")
