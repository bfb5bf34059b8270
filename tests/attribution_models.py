"""Tiny models whose right attributions are known by construction, trained in a few seconds."""

from __future__ import annotations

import random
from collections.abc import Callable

import torch

from seqattn.config import ModelConfig
from seqattn.data.batching import make_batch
from seqattn.data.subword import PAD_ID
from seqattn.model.seq2seq import Seq2Seq
from seqattn.search import GreedySearch

VOCAB = 16  # the 4 special ids, then 12 symbols


def _config(bidirectional: bool) -> ModelConfig:
    return ModelConfig.model_validate({
        "encoder": {"emb_size": 16, "hidden_size": 16, "dropout": 0.0, "bidirectional": bidirectional},
        "decoder": {"emb_size": 16, "hidden_size": 32, "dropout": 0.0}, "attention": {"type": "general"}})


def _train(model: Seq2Seq, draw: Callable[[], list[int]], steps: int, after_step=lambda: None) -> Seq2Seq:
    """Teacher-forced training to copy `draw()`'s sequences (Adam, batches of 32)."""
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(steps):
        seqs = [draw() for _ in range(32)]
        b = make_batch(seqs, seqs, range(len(seqs)))
        attentional, _ = model(b.src, b.src_lengths, b.tgt_in)
        logits = model.decoder.logits(attentional)  # (batch, tgt_len, vocab)
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), b.tgt_out, ignore_index=PAD_ID)
        opt.zero_grad()
        loss.backward()
        opt.step()
        after_step()
    opt.zero_grad(set_to_none=True)
    return model.eval()


def copies(model: Seq2Seq, seqs: list[list[int]]) -> bool:
    """Whether greedy decoding gives back every sequence."""
    b = make_batch(seqs, None, range(len(seqs)))
    with torch.no_grad():
        found = GreedySearch().run(model, b.src, b.src_lengths)
    return all(h.tokens[:-1] == s for h, s in zip(found, seqs))


def positional_copier(seed: int = 0) -> tuple[Seq2Seq, Callable[[], list[int]]]:
    """A bidirectional LSTM model copying random symbol strings (repeats allowed): it must
    count positions, since a symbol's identity does not say where it is."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    draw = lambda: [rng.randrange(4, VOCAB) for _ in range(rng.randint(3, 7))]  # noqa: E731
    return _train(Seq2Seq(_config(True), VOCAB, VOCAB), draw, 300), draw


def content_copier(seed: int = 0) -> tuple[Seq2Seq, Callable[[], list[int]]]:
    """A model copying ascending sets of distinct symbols whose encoder cannot see positions:
    its LSTM's recurrent weights are held at zero and its forget gate shut, so each encoder
    state is a function of its own token alone, and the next output must be found by content
    (the smallest symbol above the one just written). Dropping another token changes nothing
    the model reads for that output; dropping the token itself removes it."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = Seq2Seq(_config(False), VOCAB, VOCAB)
    rnn, hidden = model.encoder.rnn, model.cfg.encoder.hidden_size

    def cut() -> None:
        with torch.no_grad():
            rnn.weight_hh_l0.zero_()
            rnn.bias_ih_l0[hidden : 2 * hidden] = -30.0  # (PyTorch's gate order: input, forget, cell, output)
            rnn.bias_hh_l0[hidden : 2 * hidden] = 0.0

    cut()
    draw = lambda: sorted(rng.sample(range(4, VOCAB), rng.randint(3, 7)))  # noqa: E731
    return _train(model, draw, 500, cut), draw
