"""Text in, token ids out: corpus readers, SentencePiece subwords, length-bucketed batches."""

from seqattn.data.batching import Batch, BucketBatcher, make_batch
from seqattn.data.corpus import ParallelText, read_corpus
from seqattn.data.subword import EOS_ID, PAD_ID, SOS_ID, UNK_ID, Subwords

__all__ = [
    "Batch", "BucketBatcher", "make_batch", "ParallelText", "read_corpus", "Subwords",
    "PAD_ID", "UNK_ID", "SOS_ID", "EOS_ID",
]
