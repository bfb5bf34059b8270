"""Counterfactual attention: Jain & Wallace's (2019) test, adapted to decoding.

One sentence is decoded teacher-forced along a given output. At every step the decoder's
query s_t is kept, and the step is run again from the softmax on (`Decoder.attend_with`)
with other weights in place of its own, every other step unchanged:

  permutation  the step's weights shuffled over the source tokens (PERMUTATIONS draws)
  uniform      1 / src_len on every source token (</s> included: the decoder attends to it too)
  adversarial  the weights furthest from the original (Jensen-Shannon divergence, natural log,
               at most ln 2 = 0.693) that keep the step's output token: still the arg max, with
               its probability within EPSILON of the original. Found for all steps at once by
               Adam on the weights' logits (SEARCH_STEPS steps, SEARCH_LR), started from the
               original's log-weights plus Gaussian noise (INIT_NOISE), with a penalty once the
               probability moves by more than EPSILON / 2 or the margin over the runner-up
               falls under MARGIN; the best weights that satisfy both are kept. The original
               always qualifies, so a step's JSD is 0 when nothing better is found.

"The output token" of a step is the arg max of its logits with the original weights: the
model's own choice given the forced prefix (the forced token itself when the output is the
model's own greedy one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from seqattn.data.batching import make_batch
from seqattn.model.seq2seq import Seq2Seq

PERMUTATIONS = 8
EPSILON = 0.01  # largest change of the output token's probability the adversary may make
SEARCH_STEPS = 100
SEARCH_LR = 0.2
INIT_NOISE = 0.3
MARGIN = 0.5  # logits: the output token must stay this far ahead of the runner-up while searching
SUCCESS_JSD = 0.5  # an adversarial step "succeeds" with JSD >= this (of at most ln 2)


class StepReplay:
    """One sentence's teacher-forced pass, kept so that every step can be run again with other
    attention weights. `weights` (steps, src_len) are the model's own, one row per output token
    y_1..y_T then </s>."""

    def __init__(self, model: Seq2Seq, src_ids: Sequence[int], tgt_ids: Sequence[int]):
        if model.decoder.attention is None:
            raise ValueError("StepReplay: the model has no attention to replace")
        self.model = model
        batch = make_batch([list(src_ids)], [list(tgt_ids)], [0])
        queries, weights = [], []
        with torch.no_grad():
            self.memory, state, _ = model.encode(batch.src, batch.src_lengths)
            for tokens in batch.tgt_in.unbind(1):  # (1,) each: <s>, y_1, ..., y_T
                _, state, step_weights, trace = model.decoder.traced_step(tokens, state, self.memory)
                queries.append(trace.query)  # (1, 1, hidden)
                weights.append(step_weights)  # (1, src_len)
        self.query = torch.cat(queries, dim=1)  # (1, steps, hidden)
        self.weights = torch.cat(weights, dim=0).float()  # (steps, src_len)
        self.forced = batch.tgt_out[0]  # (steps,) y_1..y_T, </s>

    def logits(self, weights: torch.Tensor) -> torch.Tensor:
        """Weights (k, steps, src_len): k alternatives for every step -> logits (k, steps, vocab),
        each step run from its own query with its row of the weights given."""
        k = weights.size(0)
        decoder = self.model.decoder
        _, attentional = decoder.attend_with(self.query.expand(k, -1, -1), weights, self.memory.grouped(k))
        return decoder.logits(attentional)


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Jensen-Shannon divergence (natural log) of distributions over the last dimension."""
    m = (p + q) / 2
    kl = lambda a: (torch.xlogy(a, a) - torch.xlogy(a, m)).sum(-1)  # noqa: E731 (0 log 0 = 0)
    return (kl(p) + kl(q)) / 2


@dataclass
class StepOutcome:
    """Per step of one sentence (lists of length steps)."""

    p_original: list[float]  # the output token's probability with the model's own weights
    permutation_changed: list[float]  # share of the permutations that change the output token
    permutation_drop: list[float]  # mean fall of its probability under them
    permutation_jsd: list[float]  # mean JSD of the permutations from the original
    uniform_changed: list[float]  # 1.0 when uniform weights change the output token
    uniform_drop: list[float]
    uniform_jsd: list[float]
    adversarial_jsd: list[float]  # the largest JSD found that keeps the output token (when searched)


def _outcome(replay: StepReplay, alternatives: torch.Tensor, token: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Alternatives (k, steps, src_len) -> per step: share that change the output token, mean
    fall of its probability, mean JSD from the original weights. Each alternative is compared
    with the original weights run in the same batch layout, so an alternative equal to the
    original changes nothing, to the last bit."""
    k = alternatives.size(0)
    index = token.expand(k, -1)[..., None]  # (k, steps, 1)
    same = torch.softmax(replay.logits(replay.weights.expand(k, -1, -1)).float(), -1).gather(2, index)[..., 0]
    logits = replay.logits(alternatives).float()  # (k, steps, vocab)
    p = torch.softmax(logits, -1).gather(2, index)[..., 0]
    changed = (logits.argmax(-1) != token).float().mean(0)
    return changed, (same - p).mean(0), js_divergence(alternatives, replay.weights).mean(0)


def adversarial_weights(replay: StepReplay, token: torch.Tensor, p0: torch.Tensor,
                        generator: torch.Generator, steps: int = SEARCH_STEPS
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """The bounded search (module docstring) for all steps at once -> the best JSD per step
    (steps,) and those weights (steps, src_len). Gradients go to the weights' logits only
    (`torch.autograd.grad`): the model's parameters are not touched."""
    original = replay.weights
    noise = torch.randn(original.shape, generator=generator)
    logits_w = (original.clamp_min(1e-12).log() + INIT_NOISE * noise).requires_grad_()
    optimiser = torch.optim.Adam([logits_w], lr=SEARCH_LR)
    best_jsd, best = torch.zeros(original.size(0)), original.clone()
    for _ in range(steps):
        weights = torch.softmax(logits_w, -1)
        logits = replay.logits(weights[None])[0].float()  # (steps, vocab)
        chosen = logits.gather(1, token[:, None])[:, 0]
        p = torch.softmax(logits, -1).gather(1, token[:, None])[:, 0]
        margin = chosen - logits.scatter(1, token[:, None], float("-inf")).amax(1)
        jsd = js_divergence(weights, original)
        with torch.no_grad():
            better = (margin > 0) & ((p - p0).abs() <= EPSILON) & (jsd > best_jsd)
            best_jsd = torch.where(better, jsd, best_jsd)
            best = torch.where(better[:, None], weights, best)
        penalty = torch.relu((p - p0).abs() / EPSILON - 0.5) + torch.relu(MARGIN - margin)
        (grad,) = torch.autograd.grad((penalty - jsd).sum(), [logits_w])
        logits_w.grad = grad
        optimiser.step()
    return best_jsd.detach(), best.detach()


def counterfactuals(replay: StepReplay, generator: torch.Generator, adversarial: bool = True) -> StepOutcome:
    """Run every step of `replay` with permuted and uniform weights, and (`adversarial`) search
    for adversarial ones (`adversarial_jsd` is empty without)."""
    original = replay.weights  # (steps, src_len)
    with torch.no_grad():
        base = replay.logits(original[None])[0].float()
        token = base.argmax(-1)  # (steps,)
        p0 = torch.softmax(base, -1).gather(1, token[:, None])[:, 0]
        order = torch.rand((PERMUTATIONS, *original.shape), generator=generator).argsort(-1)
        permuted = original.expand(PERMUTATIONS, -1, -1).gather(2, order)
        perm = _outcome(replay, permuted, token)
        uniform = _outcome(replay, torch.full_like(original, 1.0 / original.size(1))[None], token)
    jsd_adv = adversarial_weights(replay, token, p0, generator)[0] if adversarial else torch.zeros(0)
    as_list = lambda t: [float(v) for v in t]  # noqa: E731
    return StepOutcome(as_list(p0), *map(as_list, perm), *map(as_list, uniform), as_list(jsd_adv))
