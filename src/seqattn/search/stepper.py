"""What a search needs of a model: encode a batch once, then advance every row one token.

A search never touches a model's modules; it talks to a `Stepper`. `TorchStepper` is the
seq2seq model's own; another backend (a traced model, an ensemble) is one more class with
the same three members.
"""

from __future__ import annotations

from typing import Protocol

import torch

from seqattn.model.seq2seq import Seq2Seq


class Rows(Protocol):
    """Per-row decoding state (the decoder's, or the memory it attends to)."""

    def index_select(self, index: torch.Tensor) -> Rows: ...


class Memory(Rows, Protocol):
    def grouped(self, group: int) -> Memory:
        """The same memory serving `group` consecutive decoder rows per memory row (a beam)."""
        ...


class Stepper(Protocol):
    has_attention: bool

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[Memory, Rows]:
        """src (batch, src_len), src_lengths (batch,) -> the memory and the initial state."""
        ...

    def step(self, tokens: torch.Tensor, state: Rows, memory: Memory
             ) -> tuple[torch.Tensor, Rows, torch.Tensor | None]:
        """tokens (rows,) -> logits (rows, vocab), the new state, weights (rows, src_len) or None."""
        ...


class TorchStepper:
    """A `Seq2Seq` (or a decoding copy of one) as a Stepper."""

    def __init__(self, model: Seq2Seq):
        self.model = model
        self.has_attention = model.decoder.attention is not None

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor):
        memory, state, _ = self.model.encode(src, src_lengths)
        return memory, state

    def step(self, tokens: torch.Tensor, state, memory):
        return self.model.decoder.step(tokens, state, memory)


def as_stepper(model: Seq2Seq | Stepper) -> Stepper:
    """A model as a Stepper (a Stepper is returned as it is)."""
    return TorchStepper(model) if isinstance(model, torch.nn.Module) else model
