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

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor, embedded: torch.Tensor | None = None
               ) -> tuple[Memory, DecoderState, EncoderOutput]:
        """Run the encoder once: attention memory, the decoder's initial state, raw outputs
        (`embedded`: the source's embeddings to read instead of `src`'s, see `Encoder.forward`)."""
        enc = self.encoder(src, src_lengths, embedded)
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
        """The parameters a model of `cfg` would have, computed from the sizes in Python integers:
        nothing is built, so sizes far beyond any memory are counted exactly and at once."""
        return _count(cfg, src_vocab_size, tgt_vocab_size)

    @staticmethod
    def largest_size(cfg: ModelConfig, src_vocab_size: int, tgt_vocab_size: int) -> str:
        """The size setting that adds the most parameters, as 'model.KEY = VALUE': the one whose
        reset to 1 would shrink the model the most."""
        def without(key: str) -> int:
            part, name = key.split(".")
            smaller = cfg.model_copy(update={part: getattr(cfg, part).model_copy(update={name: 1})})
            return _count(smaller, src_vocab_size, tgt_vocab_size)

        key = min(SIZE_SETTINGS, key=without)  # (an unused size, such as additive_size, saves nothing)
        part, name = key.split(".")
        return f"model.{key} = {getattr(getattr(cfg, part), name):,}"


SIZE_SETTINGS = ("encoder.emb_size", "encoder.hidden_size", "encoder.layers", "decoder.emb_size",
                 "decoder.hidden_size", "decoder.layers", "attention.additive_size")


def _count(cfg: ModelConfig, src_vocab_size: int, tgt_vocab_size: int) -> int:
    """`Seq2Seq.count_parameters`: the modules' shapes, summed (tied weights once)."""
    enc, dec, attn = cfg.encoder, cfg.decoder, cfg.attention
    enc_out, hidden = enc.output_size, dec.hidden_size
    n = src_vocab_size * enc.emb_size + _rnn_parameters(enc.rnn, enc.emb_size, enc.hidden_size, enc.layers,
                                                         2 if enc.bidirectional else 1)
    if enc.bidirectional or enc_out != hidden:  # the bridge's projections (see Bridge)
        n += (enc_out * hidden + hidden) * (2 if enc.rnn == dec.rnn == "lstm" else 1)
    n += tgt_vocab_size * dec.emb_size + _rnn_parameters(
        dec.rnn, dec.emb_size + (hidden if dec.input_feeding else 0), hidden, dec.layers, 1)
    if attn.type == "general":
        n += enc_out * hidden
    elif attn.type == "additive":
        n += enc_out * attn.additive_size + hidden * attn.additive_size + 2 * attn.additive_size
    if attn.type != "none":
        n += (hidden + enc_out) * hidden  # combine
    return n + tgt_vocab_size * (1 if dec.tie_embeddings else hidden + 1)  # output


def _rnn_parameters(kind: str, input_size: int, hidden: int, layers: int, directions: int) -> int:
    """Weights and both biases of a stacked (bi)directional `nn.LSTM` or `nn.GRU`."""
    gates = 4 if kind == "lstm" else 3
    first = gates * hidden * (input_size + hidden + 2)
    upper = gates * hidden * (directions * hidden + hidden + 2)
    return directions * (first + (layers - 1) * upper)
