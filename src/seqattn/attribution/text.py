"""Attributions for a sentence: the translator's subwords in, an `Attribution` with tokens out."""

from __future__ import annotations

import torch

from seqattn.attribution.checks import AttributionError, check_method, check_steps
from seqattn.attribution.methods import attribute_ids, gradients_on
from seqattn.attribution.result import Attribution
from seqattn.data.batching import make_batch
from seqattn.data.subword import EOS_ID
from seqattn.explain import MAX_EXPLAIN_SUBWORDS
from seqattn.model.seq2seq import Seq2Seq
from seqattn.search import GreedySearch
from seqattn.translator import Translator

BASELINE = "every source token (</s> too) replaced by <pad>, whose embedding is zero; same length"


def torch_model(translator: Translator) -> Seq2Seq:
    """The fp32 weights `translator` was loaded with (not its bf16 or int8 decoding copy);
    refused, in one line, for an ensemble or an exported model."""
    if getattr(translator, "members", None):
        raise AttributionError(f"an ensemble of {len(translator.members)} models has no single set of "
                               "gradients: attributions need one PyTorch model (give one run directory)")
    model = getattr(translator, "model", None)
    if not isinstance(model, Seq2Seq):
        raise AttributionError("an exported model runs without PyTorch: attributions need the run "
                               "directory it was exported from")
    return model


def _text_ids(encode, text: str, what: str) -> list[int]:
    ids = encode([" ".join(text.split())])[0]
    if not ids:
        raise AttributionError(f"the {what} is empty: give the {what} text to attribute")
    if len(ids) > MAX_EXPLAIN_SUBWORDS:
        raise AttributionError(f"attributions cover one short sentence: the {what} is {len(ids):,} subwords "
                               f"(at most {MAX_EXPLAIN_SUBWORDS})")
    return ids


def greedy_ids(translator: Translator, src_ids: list[int]) -> list[int]:
    """The fp32 model's greedy output for `src_ids` (without </s>)."""
    model, d = translator.model, translator.cfg.decode
    batch = make_batch([src_ids], None, [0]).to(translator.device)
    with gradients_on(model), torch.no_grad():
        hyp = GreedySearch(max_len_a=d.max_len_a, max_len_b=d.max_len_b).run(
            model, batch.src, batch.src_lengths)[0]
    return [t for t in hyp.tokens if t != EOS_ID]


def attribute(translator: Translator, sentence: str, method: str, *, output: str | None = None,
              contrast: str | None = None, steps: int = 50) -> Attribution:
    """Attribute each output token of `sentence`'s translation to its source tokens by `method`
    (`METHODS`): the model's own greedy output (decoded with the fp32 weights), or `output`
    forced; with `contrast`, why each output token rather than the contrast's token at the same
    position, given the same prefix (`methods` says which rows score 0)."""
    check_method(method)
    check_steps(steps)
    model = torch_model(translator)
    sub = translator.subwords
    if not isinstance(sentence, str) or not sentence.split():
        raise AttributionError("the sentence is empty: give a sentence to attribute")
    src_ids = _text_ids(sub.encode_src, sentence, "sentence")
    if output is None:
        tgt_ids = greedy_ids(translator, src_ids)
    else:
        tgt_ids = _text_ids(sub.encode_tgt, output, "output")
    contrast_ids = None if contrast is None else _text_ids(sub.encode_tgt, contrast, "contrast")
    scores = attribute_ids(model, src_ids, tgt_ids, method, contrast_ids=contrast_ids, steps=steps)
    tgt_tokens = sub.tgt_pieces(tgt_ids) + ["</s>"]
    contrast_tokens = contrasted = None
    objective = "log p(y_t | y_<t, x)"
    if contrast_ids is not None:
        contrast_tokens = sub.tgt_pieces(contrast_ids) + ["</s>"]
        full = contrast_ids + [EOS_ID]
        contrasted = [t < len(full) and full[t] != y for t, y in enumerate(tgt_ids + [EOS_ID])]
        objective = "log p(y_t | y_<t, x) - log p(y'_t | y_<t, x)"
    ig = method == "integrated_gradients"
    settings = {"steps": steps if ig else None, "baseline": BASELINE if ig else None,
                "objective": objective, "output": "greedy" if output is None else "forced", "weights": "fp32"}
    return Attribution(method, sub.src_pieces(src_ids) + ["</s>"], tgt_tokens, scores, contrast_tokens,
                       settings, contrasted, sentence, sub.decode_tgt(tgt_ids))
