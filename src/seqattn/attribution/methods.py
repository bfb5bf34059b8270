"""Attribution methods over one model: how much each source token matters to each output token.

Every method scores the same teacher-forced pass: the output y_1..y_T and its </s> are fed
after <s> as forced decoding feeds them, and row t's objective is log p(y_t | y_<t, x) (the
log-softmax of that step's logits); with a contrast y', log p(y_t) - log p(y'_t) given the
same prefix y_<t. Rows where y'_t equals y_t, and rows past the contrast's </s>, compare a
token with itself: their objective is 0 for every input, so every method scores them 0.

The gradient methods differentiate with respect to the source's embeddings (Captum's
`Saliency`, `InputXGradient`, `IntegratedGradients` on an embedding-input forward), read by the
encoder instead of its own lookup (`Encoder.forward(embedded=...)`): no hook is put on the
model's modules, so translations decoding with the same weights at the same time are not
disturbed. Each output row is one example of a batch (the source repeated once per row), so
one Captum call covers every row. Occlusion drops one source column at a time (</s> too) and
runs all the shortened sources as one batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from captum.attr import InputXGradient, IntegratedGradients, Saliency

from seqattn.attribution.checks import AttributionError, check_ids, check_method, check_steps
from seqattn.data.batching import make_batch
from seqattn.data.subword import EOS_ID, PAD_ID
from seqattn.model.seq2seq import Seq2Seq
from seqattn.search import forced_scores

ROWS_PER_PASS = 512  # sequences per forward pass (integrated gradients' steps and occlusion are batched)


@contextmanager
def gradients_on(model: Seq2Seq) -> Iterator[None]:
    """Eval mode with autograd on (even inside `torch.inference_mode`); every module's mode is
    restored afterwards. Parameters gather no `.grad`: only inputs are differentiated."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.inference_mode(False), torch.enable_grad():
            yield
    finally:
        for m, training in modes:
            m.training = training


class ForcedPass:
    """One source and output as teacher-forced tensors, and the objective of every row."""

    def __init__(self, model: Seq2Seq, src_ids: Sequence[int], tgt_ids: Sequence[int],
                 contrast_ids: Sequence[int] | None):
        self.model = model
        device = next(model.parameters()).device
        batch = make_batch([list(src_ids)], [list(tgt_ids)], [0]).to(device)
        self.src, self.src_lengths = batch.src, batch.src_lengths  # (1, src_len), (1,)
        self.tgt_in, self.tgt_out = batch.tgt_in, batch.tgt_out  # (1, rows): <s> + y, y + </s>
        self.rows = self.tgt_out.size(1)
        self.contrast = None
        if contrast_ids is not None:  # (1, rows); rows past the contrast's </s> compare y_t with itself
            other = (list(contrast_ids) + [EOS_ID])[: self.rows]
            self.contrast = self.tgt_out.clone()
            self.contrast[0, : len(other)] = torch.tensor(other, device=device)

    def objective(self, embedded: torch.Tensor | None, src: torch.Tensor, src_lengths: torch.Tensor,
                  rows: torch.Tensor | None = None) -> torch.Tensor:
        """Each source row's objective: at its output row `rows` (batch,) -> (batch,), or at every
        output row (rows None) -> (batch, rows). `embedded` (batch, src_len, emb) replaces the
        lookup of `src` (batch, src_len) when given."""
        model, n = self.model, src.size(0)
        memory, state, _ = model.encode(src, src_lengths, embedded)
        steps = self.rows if rows is None else int(rows.max()) + 1  # later steps cannot change these rows
        tgt_in = self.tgt_in[:, :steps].expand(n, -1)
        attentional, _ = model.decoder(tgt_in, state, memory)  # (batch, steps, hidden)
        targets, contrast = self.tgt_out.expand(n, -1), self.contrast
        if rows is not None:
            pick = torch.arange(n, device=src.device)
            attentional, targets = attentional[pick, rows], targets[pick, rows]  # (batch, hidden), (batch,)
            contrast = None if contrast is None else contrast.expand(n, -1)[pick, rows]
        elif contrast is not None:
            contrast = contrast.expand(n, -1)
        logp = torch.log_softmax(model.decoder.logits(attentional).float(), dim=-1)
        score = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        if contrast is not None:
            score = score - logp.gather(-1, contrast.unsqueeze(-1)).squeeze(-1)
        return score

    def per_row(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The source repeated once per output row: embeddings (rows, src_len, emb), ids
        (rows, src_len), lengths (rows,) and each copy's output row (rows,)."""
        src = self.src.expand(self.rows, -1)
        embedded = self.model.encoder.embedding(src).detach().requires_grad_()
        return embedded, src, self.src_lengths.expand(self.rows), torch.arange(self.rows, device=src.device)

    def baseline(self, embedded: torch.Tensor) -> torch.Tensor:
        """Integrated gradients' baseline: every source token (</s> too) replaced by <pad>."""
        return self.model.encoder.embedding.weight[PAD_ID].detach().expand_as(embedded).clone()


def _reduce(method: str, grads: torch.Tensor) -> torch.Tensor:
    """(rows, src_len, emb) -> (rows, src_len): saliency's L2 norm, or the others' sum."""
    return grads.norm(dim=-1) if method == "saliency" else grads.sum(dim=-1)


def _gradient_method(forced: ForcedPass, method: str, steps: int) -> torch.Tensor:
    embedded, src, lengths, rows = forced.per_row()
    args = (src, lengths, rows)
    if method == "saliency":
        grads = Saliency(forced.objective).attribute(embedded, abs=False, additional_forward_args=args)
    elif method == "input_x_gradient":
        grads = InputXGradient(forced.objective).attribute(embedded, additional_forward_args=args)
    else:  # rows in groups of consecutive rows, each group's steps in passes of about ROWS_PER_PASS
        ig, group = IntegratedGradients(forced.objective), max(1, ROWS_PER_PASS // steps)
        parts = []
        for start in range(0, forced.rows, group):
            part = slice(start, start + group)
            n = len(rows[part])
            parts.append(ig.attribute(
                embedded[part], baselines=forced.baseline(embedded[part]), n_steps=steps,
                additional_forward_args=(src[part], lengths[part], rows[part]),
                internal_batch_size=n * max(1, min(steps, ROWS_PER_PASS // n))))
        grads = torch.cat(parts)
    return _reduce(method, grads.detach())


def _occlusion(forced: ForcedPass) -> torch.Tensor:
    """objective(full) - objective(without column j), every row at once: (rows, src_len)."""
    full = forced.src[0, : int(forced.src_lengths[0])].tolist()  # the source and its </s>
    sources = [full] + [full[:j] + full[j + 1:] for j in range(len(full))]
    width = len(full)
    src = torch.full((len(sources), width), PAD_ID, dtype=torch.long)
    for i, ids in enumerate(sources):
        src[i, : len(ids)] = torch.tensor(ids)
    lengths = torch.tensor([len(s) for s in sources])
    src = src.to(forced.src.device)
    chunk = max(1, ROWS_PER_PASS // max(1, forced.rows))
    with torch.no_grad():
        scores = torch.cat([forced.objective(None, src[i : i + chunk], lengths[i : i + chunk])
                            for i in range(0, len(sources), chunk)])  # (1 + src_len, rows)
    return (scores[0][None, :] - scores[1:]).T


def row_objectives(model: Seq2Seq, src_ids: Sequence[int], tgt_ids: Sequence[int], *,
                   contrast_ids: Sequence[int] | None = None, baseline: bool = False) -> np.ndarray:
    """The objective of every output row (rows,), for the source as given, or (`baseline`) for
    integrated gradients' baseline: their difference is what each row's integrated gradients sum to."""
    forced = ForcedPass(model, src_ids, tgt_ids, contrast_ids)
    with gradients_on(model), torch.no_grad():
        embedded, src, lengths, rows = forced.per_row()
        if baseline:
            embedded = forced.baseline(embedded)
        return forced.objective(embedded, src, lengths, rows).double().cpu().numpy()


def attribute_ids(model: Seq2Seq, src_ids: Sequence[int], tgt_ids: Sequence[int], method: str, *,
                  contrast_ids: Sequence[int] | None = None, steps: int = 50) -> np.ndarray:
    """Scores (rows, src_len) float64: rows are the output tokens y_1..y_T then </s>, columns
    the source tokens and </s>, exactly as the attention matrix of the same forced pass (which
    is what method 'attention' returns). `src_ids`, `tgt_ids`, `contrast_ids`: subword ids
    without <s> or </s>. `steps`: integrated gradients' interpolation steps (Gauss-Legendre)."""
    check_method(method)
    check_steps(steps)
    if not isinstance(model, Seq2Seq):
        raise AttributionError("attributions need one PyTorch model (a run directory): not an ensemble "
                               "or an exported model")
    check_ids(src_ids, tgt_ids, contrast_ids, model.encoder.embedding.num_embeddings,
              model.decoder.output.out_features)
    if method == "attention" and model.decoder.attention is None:
        raise AttributionError("this model has no attention (model.attention.type: none): choose "
                               "another attribution method")
    forced = ForcedPass(model, src_ids, tgt_ids, contrast_ids)
    with gradients_on(model):
        if method == "attention":
            with torch.no_grad():
                found = forced_scores(model, forced.src, forced.src_lengths, [list(tgt_ids)])[0]
            return np.asarray(found.attention, dtype=np.float64)
        scores = _occlusion(forced) if method == "occlusion" else _gradient_method(forced, method, steps)
    return scores.double().cpu().numpy() + 0.0  # (no -0.0)
