import torch

from seqattn.config import ModelConfig
from seqattn.model import Seq2Seq

VARIANTS = ["none", "dot", "general", "additive", "scaled_dot"]


def model_config(attention="general", rnn="lstm", input_feeding=False, layers=1, bidirectional=True,
                 reverse=False, dec_layers=None, dec_rnn=None, dropout=0.0) -> ModelConfig:
    enc_hidden = 12
    dec_hidden = enc_hidden * (2 if bidirectional else 1)
    return ModelConfig.model_validate({
        "encoder": {"rnn": rnn, "emb_size": 10, "hidden_size": enc_hidden, "layers": layers,
                    "bidirectional": bidirectional, "reverse_source": reverse, "dropout": dropout},
        "decoder": {"rnn": dec_rnn or rnn, "emb_size": 10, "hidden_size": dec_hidden,
                    "layers": dec_layers or layers, "dropout": dropout,
                    "input_feeding": input_feeding and attention != "none"},
        "attention": {"type": attention, "additive_size": 8},
    })


def tiny_model(seed=0, src_vocab=30, tgt_vocab=40, **kw) -> Seq2Seq:
    torch.manual_seed(seed)
    return Seq2Seq(model_config(**kw), src_vocab, tgt_vocab).eval()


def padded_batch(seed=0, lengths=(7, 4, 1, 6), vocab=30):
    """A source batch with padding (ids >= 4 are ordinary tokens; 0 is PAD)."""
    g = torch.Generator().manual_seed(seed)
    width = max(lengths)
    src = torch.randint(4, vocab, (len(lengths), width), generator=g)
    for row, n in enumerate(lengths):
        src[row, n:] = 0
    return src, torch.tensor(lengths)
