"""The decoder: embedding -> LSTM/GRU -> attention -> attentional hidden -> vocabulary.

Two paths over the same modules:
  * `forward` runs teacher-forced training. Without input feeding the RNN runs over the
    whole target in one call and attention for all steps is a batched matrix product.
  * `step` advances one token for every row of a batch (decoding, input feeding,
    scheduled sampling); `traced_step` does the same and also returns every intermediate
    value of the step (`StepTrace`, for `seqattn explain`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqattn.config import AttentionConfig, DecoderConfig
from seqattn.model.attention import make_attention
from seqattn.model.kernels.dropout import Dropout
from seqattn.model.kernels.products import decoding_memory
from seqattn.model.kernels.rnn import RNNStack, RNNState, make_rnn


def select_rows(state: RNNState, index: torch.Tensor) -> RNNState:
    """Pick batch rows (dim 1) of an RNN state (h or (h, c))."""
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)
    return state.index_select(1, index)


@dataclass
class Memory:
    """What the decoder attends to; fixed for a whole decode.

    With `group` g > 1, each memory row serves g consecutive decoder rows (the g beam
    hypotheses of one sentence), so the encoder states are neither copied nor re-read per
    hypothesis: decoder rows b*g .. b*g+g-1 attend to memory row b.
    """

    values: torch.Tensor  # (batch, src_len, enc_hidden) encoder states
    keys: torch.Tensor | None  # (batch, src_len, key_size) projected once per sentence
    mask: torch.Tensor  # (batch, src_len) True on real tokens
    group: int = 1

    def index_select(self, index: torch.Tensor) -> Memory:
        """Keep memory rows `index` (sentences, when grouped)."""
        keys = None if self.keys is None else self.keys.index_select(0, index)
        return Memory(self.values.index_select(0, index), keys, self.mask.index_select(0, index),
                      self.group)

    def grouped(self, group: int) -> Memory:
        return Memory(self.values, self.keys, self.mask, group)


@dataclass
class DecoderState:
    hidden: RNNState  # (layers, batch, hidden) [and the LSTM cell]
    feed: torch.Tensor | None = None  # (batch, hidden) last attentional hidden (input feeding)

    def index_select(self, index: torch.Tensor) -> DecoderState:
        feed = None if self.feed is None else self.feed.index_select(0, index)
        return DecoderState(select_rows(self.hidden, index), feed)


@dataclass
class StepTrace:
    """Intermediate values of one decoder step (`Decoder.traced_step`)."""

    query: torch.Tensor  # (batch, steps, hidden) s_t
    scores: torch.Tensor | None  # (batch, steps, src_len) raw scores, -inf on padding
    weights: torch.Tensor | None  # (batch, steps, src_len) alpha
    attention_value: torch.Tensor | None  # (batch, steps, enc_hidden)
    attentional: torch.Tensor  # (batch, steps, hidden)


class Decoder(nn.Module):
    def __init__(self, cfg: DecoderConfig, attn_cfg: AttentionConfig, vocab_size: int,
                 enc_size: int, pad_id: int = 0):
        super().__init__()
        self.cfg = cfg
        self.input_feeding = cfg.input_feeding
        self.embedding = nn.Embedding(vocab_size, cfg.emb_size, padding_idx=pad_id)
        self.dropout = Dropout(cfg.dropout)
        input_size = cfg.emb_size + (cfg.hidden_size if cfg.input_feeding else 0)
        self.rnn: RNNStack = make_rnn(cfg.rnn, input_size, cfg.hidden_size, cfg.layers, dropout=cfg.dropout)
        self.attention = make_attention(attn_cfg, enc_size, cfg.hidden_size)
        self.combine = (nn.Linear(cfg.hidden_size + enc_size, cfg.hidden_size, bias=False)
                        if self.attention is not None else None)
        self.output = nn.Linear(cfg.hidden_size, vocab_size)
        if cfg.tie_embeddings:
            self.output.weight = self.embedding.weight

    def memory(self, states: torch.Tensor, mask: torch.Tensor) -> Memory:
        """Encoder states h_j (batch, src_len, enc_hidden) and their mask -> the decoder's
        memory: the values, and the keys projected once per sentence."""
        keys = self.attention.project_keys(states) if self.attention is not None else None
        keys, values = decoding_memory(keys, states, self.training)
        return Memory(values, keys, mask)

    def attend_with(self, query: torch.Tensor, weights: torch.Tensor, memory: Memory
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The step after the softmax, with the weights given: attention_value = weights . values,
        attentional = tanh(combine([query; attention_value])). query s (batch, steps, hidden),
        weights (batch, steps, src_len) -> attention_value (batch, steps, enc_hidden), attentional
        (batch, steps, hidden). The model's own path (`_attend`) goes through here with its own
        weights; other weights ask "what if it had attended there?"."""
        if self.attention is None:
            raise ValueError("attend_with: this model has no attention")
        rows, steps, g = query.size(0), query.size(1), memory.group
        grouped = weights.reshape(rows // g, g * steps, -1)  # a sentence's hypotheses share its memory row
        attention_value = self.attention.value(grouped, memory.values, query.dtype).reshape(rows, steps, -1)
        attentional = torch.tanh(self.combine(torch.cat([query, attention_value], dim=-1)))
        return attention_value, attentional

    def _attend(self, query: torch.Tensor, memory: Memory, trace: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None, StepTrace | None]:
        """query s: (batch, steps, hidden) -> attentional hidden (batch, steps, hidden), weights,
        and with `trace` the step's intermediate values."""
        if self.attention is None:
            return query, None, (StepTrace(query, None, None, None, query) if trace else None)
        rows, steps, g = query.size(0), query.size(1), memory.group
        q = query.reshape(rows // g, g * steps, -1)  # a sentence's hypotheses share its memory row
        scores = self.attention.masked_scores(q, memory.keys, memory.mask)  # -inf on padding
        weights = torch.softmax(scores, dim=-1).reshape(rows, steps, -1)  # (batch, steps, src_len)
        attention_value, attentional = self.attend_with(query, weights, memory)
        if not trace:
            return attentional, weights, None
        return attentional, weights, StepTrace(query, scores.reshape(rows, steps, -1), weights,
                                               attention_value, attentional)

    def _step(self, embedded: torch.Tensor, state: DecoderState, memory: Memory, trace: bool = False):
        """embedded (batch, 1, emb) -> attentional (batch, 1, hidden), new state, weights, trace."""
        x = embedded[:, 0]
        if self.input_feeding:
            x = torch.cat([x, state.feed], dim=-1)  # (batch, emb + hidden)
        output, hidden = self.rnn.step(x, state.hidden)
        query = output.unsqueeze(1)  # (batch, 1, hidden)
        attentional, weights, traced = self._attend(query, memory, trace)
        feed = attentional[:, 0] if self.input_feeding else None
        return attentional, DecoderState(hidden, feed), weights, traced

    def logits(self, attentional: torch.Tensor) -> torch.Tensor:
        """(..., hidden) -> (..., vocab) unnormalised scores."""
        return self.output(attentional)

    def forward(self, tgt_in: torch.Tensor, state: DecoderState, memory: Memory,
                sample_prob: float = 0.0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher-forced pass. tgt_in (batch, tgt_len) -> attentional (batch, tgt_len, hidden)
        (dropout applied; feed it to `logits`), weights (batch, tgt_len, src_len) or None."""
        embedded = self.dropout(self.embedding(tgt_in))  # (batch, tgt_len, emb)
        if not self.input_feeding and sample_prob == 0.0:
            query, _ = self.rnn.run(embedded, None, state.hidden)  # all steps in one call
            attentional, weights, _ = self._attend(query, memory)
            return self.dropout(attentional), weights
        outputs, all_weights = [], []
        for t in range(tgt_in.size(1)):
            emb_t = embedded[:, t : t + 1]
            if sample_prob > 0.0 and t > 0:
                use_model = torch.rand(tgt_in.size(0), device=tgt_in.device) < sample_prob
                with torch.no_grad():
                    predicted = self.logits(outputs[-1][:, 0]).argmax(-1)
                sampled = self.dropout(self.embedding(predicted)).unsqueeze(1)
                emb_t = torch.where(use_model[:, None, None], sampled, emb_t)
            attentional, state, weights, _ = self._step(emb_t, state, memory)
            outputs.append(attentional)
            all_weights.append(weights)
        weights = torch.cat(all_weights, dim=1) if self.attention is not None else None
        return self.dropout(torch.cat(outputs, dim=1)), weights

    def step(self, tokens: torch.Tensor, state: DecoderState, memory: Memory):
        """One decoding step. tokens (batch,) -> logits (batch, vocab), new state,
        weights (batch, src_len) or None."""
        logits, state, weights, _ = self._one_token(tokens, state, memory, trace=False)
        return logits, state, weights

    def traced_step(self, tokens: torch.Tensor, state: DecoderState, memory: Memory):
        """`step`, returning also the step's intermediate values: logits, state, weights, StepTrace."""
        return self._one_token(tokens, state, memory, trace=True)

    def _one_token(self, tokens: torch.Tensor, state: DecoderState, memory: Memory, trace: bool):
        embedded = self.dropout(self.embedding(tokens.unsqueeze(1)))
        attentional, state, weights, traced = self._step(embedded, state, memory, trace)
        logits = self.logits(self.dropout(attentional[:, 0]))
        return logits, state, (weights[:, 0] if weights is not None else None), traced
