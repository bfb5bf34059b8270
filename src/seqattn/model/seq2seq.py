"""Encoder + bridge + decoder: the whole sequence-to-sequence model."""

from __future__ import annotations

import torch
from torch import nn

from seqattn.config import DecoderConfig, EncoderConfig, ModelConfig
from seqattn.model.decoder import Decoder, DecoderState, Memory, RNNState
from seqattn.model.encoder import Encoder, EncoderOutput


class Bridge(nn.Module):
    """Turns the encoder's final state (the context vector) into the decoder's initial state.

    A learned projection (linear + tanh) is used when sizes or directions differ; otherwise
    the state passes through unchanged. A decoder with more or fewer layers than the encoder
    starts every layer from the encoder's top layer.
    """

    def __init__(self, enc: EncoderConfig, dec: DecoderConfig):
        super().__init__()
        project = enc.bidirectional or enc.output_size != dec.hidden_size
        both_lstm = enc.rnn == "lstm" and dec.rnn == "lstm"
        self.hidden_proj = nn.Linear(enc.output_size, dec.hidden_size) if project else None
        self.cell_proj = nn.Linear(enc.output_size, dec.hidden_size) if project and both_lstm else None
        self.same_layers = enc.layers == dec.layers
        self.dec_layers, self.dec_lstm, self.both_lstm = dec.layers, dec.rnn == "lstm", both_lstm

    def _per_layer(self, final: torch.Tensor) -> torch.Tensor:
        # (enc_layers, batch, enc_out) -> (dec_layers, batch, enc_out)
        return final if self.same_layers else final[-1:].expand(self.dec_layers, -1, -1)

    def forward(self, enc: EncoderOutput) -> RNNState:
        h = self._per_layer(enc.final_hidden)
        if self.hidden_proj is not None:
            h = torch.tanh(self.hidden_proj(h))
        h = h.contiguous()  # (dec_layers, batch, dec_hidden)
        if not self.dec_lstm:
            return h
        if not self.both_lstm:
            return h, torch.zeros_like(h)
        c = self._per_layer(enc.final_cell)
        if self.cell_proj is not None:
            c = self.cell_proj(c)
        return h, c.contiguous()


class Seq2Seq(nn.Module):
    def __init__(self, cfg: ModelConfig, src_vocab_size: int, tgt_vocab_size: int, pad_id: int = 0):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg.encoder, src_vocab_size, pad_id)
        self.bridge = Bridge(cfg.encoder, cfg.decoder)
        self.decoder = Decoder(cfg.decoder, cfg.attention, tgt_vocab_size,
                               cfg.encoder.output_size, pad_id)
        if cfg.param_init > 0:
            for p in self.parameters():
                nn.init.uniform_(p, -cfg.param_init, cfg.param_init)
            for emb in (self.encoder.embedding, self.decoder.embedding):
                with torch.no_grad():
                    emb.weight[pad_id].zero_()

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor
               ) -> tuple[Memory, DecoderState, EncoderOutput]:
        """Run the encoder once: attention memory, the decoder's initial state, raw outputs."""
        enc = self.encoder(src, src_lengths)
        hidden = self.bridge(enc)
        feed = None
        if self.decoder.input_feeding:
            feed = enc.states.new_zeros(src.size(0), self.cfg.decoder.hidden_size)
        return self.decoder.memory(enc.states, enc.mask), DecoderState(hidden, feed), enc

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor,
                sample_prob: float = 0.0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher-forced pass -> attentional hidden (batch, tgt_len, hidden), attention weights
        (batch, tgt_len, src_len) or None. Apply `decoder.logits` for vocabulary scores."""
        memory, state, _ = self.encode(src, src_lengths)
        return self.decoder(tgt_in, state, memory, sample_prob)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @staticmethod
    def count_parameters(cfg: ModelConfig, src_vocab_size: int, tgt_vocab_size: int) -> int:
        """The parameters a model of `cfg` would have, counted without allocating them."""
        with torch.device("meta"):
            return Seq2Seq(cfg, src_vocab_size, tgt_vocab_size).num_parameters()
