"""Attention: score a query against every key, softmax into weights, weigh the values.

One class per score function (Luong et al. 2015; Bahdanau et al. 2015):
  dot         score(s, h) = s . h
  scaled_dot  score(s, h) = s . h / sqrt(d)
  general     score(s, h) = s . (W h)            (bilinear)
  additive    score(s, h) = v . tanh(W_q s + W_k h)   (MLP, Bahdanau)
Keys are projected once per sentence (`project_keys`), then scored for any number of
decoder steps at once: queries (batch, tgt_len, dec_hidden) -> scores (batch, tgt_len, src_len).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seqattn.config import AttentionConfig
from seqattn.model.kernels.products import bmm


class Score(nn.Module):
    """Base: identity key projection; subclasses define `forward(query, keys) -> scores`."""

    def project_keys(self, states: torch.Tensor) -> torch.Tensor:
        return states  # (batch, src_len, enc_hidden)


class DotScore(Score):
    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return bmm(query, keys.transpose(1, 2))  # (batch, tgt_len, src_len)


class ScaledDotScore(Score):
    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return bmm(query, keys.transpose(1, 2)) / math.sqrt(query.size(-1))


class GeneralScore(Score):
    def __init__(self, enc_size: int, dec_size: int):
        super().__init__()
        self.key_proj = nn.Linear(enc_size, dec_size, bias=False)  # W

    def project_keys(self, states: torch.Tensor) -> torch.Tensor:
        return self.key_proj(states)  # (batch, src_len, dec_hidden)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return bmm(query, keys.transpose(1, 2))


class AdditiveScore(Score):
    def __init__(self, enc_size: int, dec_size: int, attn_size: int):
        super().__init__()
        self.key_proj = nn.Linear(enc_size, attn_size, bias=False)  # W_k
        self.query_proj = nn.Linear(dec_size, attn_size)  # W_q
        self.v = nn.Linear(attn_size, 1, bias=False)

    def project_keys(self, states: torch.Tensor) -> torch.Tensor:
        return self.key_proj(states)  # (batch, src_len, attn)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        q = self.query_proj(query)  # (batch, tgt_len, attn)
        keys = keys.to(q.dtype)  # (fp32 when decoding on the CPU: see Decoder.memory)
        hidden = torch.tanh(q.unsqueeze(2) + keys.unsqueeze(1))  # (batch, tgt_len, src_len, attn)
        return self.v(hidden).squeeze(-1)  # (batch, tgt_len, src_len)


class Attention(nn.Module):
    """Masked softmax attention around one score function."""

    def __init__(self, score: Score):
        super().__init__()
        self.score = score

    def project_keys(self, states: torch.Tensor) -> torch.Tensor:
        return self.score.project_keys(states)

    def masked_scores(self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Raw scores (batch, tgt_len, src_len), -inf on padding."""
        return self.score(query, keys).masked_fill(~mask.unsqueeze(1), float("-inf"))

    def forward(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """query (batch, tgt_len, dec), keys (batch, src_len, k), values (batch, src_len, enc),
        mask (batch, src_len) -> attention_value (batch, tgt_len, enc) in the query's dtype,
        weights (batch, tgt_len, src_len). Weights on padding are exactly 0 and each row sums
        to 1."""
        weights = torch.softmax(self.masked_scores(query, keys, mask), dim=-1)
        return self.value(weights, values, query.dtype), weights

    @staticmethod
    def value(weights: torch.Tensor, values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """The attention value: weights (batch, tgt_len, src_len) . values (batch, src_len, enc)
        -> (batch, tgt_len, enc) in `dtype` (the query's)."""
        return bmm(weights, values).to(dtype)


def make_attention(cfg: AttentionConfig, enc_size: int, dec_size: int) -> Attention | None:
    """The configured attention, or None for the pure context-vector model."""
    scores = {
        "none": lambda: None,
        "dot": DotScore,
        "scaled_dot": ScaledDotScore,
        "general": lambda: GeneralScore(enc_size, dec_size),
        "additive": lambda: AdditiveScore(enc_size, dec_size, cfg.additive_size),
    }
    score = scores[cfg.type]()
    return None if score is None else Attention(score)
