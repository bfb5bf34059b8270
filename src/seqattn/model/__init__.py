"""The network: encoder, attention (one class per score), decoder, and their glue."""

from seqattn.model.attention import Attention, make_attention
from seqattn.model.decoder import Decoder, DecoderState, Memory
from seqattn.model.encoder import Encoder, EncoderOutput
from seqattn.model.seq2seq import Bridge, Seq2Seq

__all__ = ["Attention", "make_attention", "Decoder", "DecoderState", "Memory", "Encoder",
           "EncoderOutput", "Bridge", "Seq2Seq"]
