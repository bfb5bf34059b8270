"""bf16 and int8 decoding on a tiny trained run: well-formed output, close to fp32."""

import numpy as np
import pytest
import torch

from seqattn.errors import SeqattnError
from seqattn.runtime import resolve_precision
from seqattn.translator import Translator

SENTENCES = ["a b c d", "e f", "g h i j k l", "", "b"]


def _agreement(a, b) -> float:
    return float(np.mean([x.text == y.text for x, y in zip(a, b)]))


@pytest.mark.parametrize("beam", [1, 3])
@pytest.mark.parametrize("kind", [{"precision": "bf16"}, {"quantize": "int8"}])
def test_low_precision_decoding_is_well_formed_and_close_to_fp32(trained_run, kind, beam):
    fp32 = Translator.load(trained_run, device="cpu").translate(SENTENCES, beam=beam)
    low = Translator.load(trained_run, device="cpu", **kind).translate(SENTENCES, beam=beam)
    assert len(low) == len(SENTENCES)
    for t in low:
        assert isinstance(t.text, str)
        assert np.isfinite(t.score)
        att = t.attention
        assert att.shape == (len(t.tgt_tokens), len(t.src_tokens))
        assert np.allclose(att.sum(-1), 1.0, atol=1e-2)
    assert _agreement(fp32, low) >= 0.6
    assert np.mean([abs(a.score - b.score) for a, b in zip(fp32, low)]) < 0.5


def test_frozen_decoding_copy_leaves_the_model_alone(trained_run):
    tr = Translator.load(trained_run, device="cpu", precision="bf16")
    assert all(p.dtype == torch.float32 for p in tr.model.parameters())
    q = Translator.load(trained_run, device="cpu", quantize="int8")
    assert all(p.dtype == torch.float32 for p in q.model.parameters())


def test_precision_names():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32"
    assert resolve_precision("auto", cpu) in ("fp32", "bf16")
    with pytest.raises(SeqattnError, match="CUDA only"):
        resolve_precision("fp16", cpu)
    with pytest.raises(SeqattnError, match="unknown precision"):
        resolve_precision("fp8", cpu)


def test_unknown_quantization_is_a_clear_error(trained_run):
    with pytest.raises(SeqattnError, match="int8"):
        Translator.load(trained_run, device="cpu", quantize="int4")


@pytest.mark.parametrize("beam", [1, 3])
def test_batches_decoded_side_by_side_match_one_thread(trained_run, beam):
    tr = Translator.load(trained_run, device="cpu")
    sentences = [" ".join("abcdefghijkl"[j % 12] for j in range(i % 7 + 1)) for i in range(23)]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        alone = tr.translate(sentences, beam=beam, batch_size=4)
        torch.set_num_threads(2)
        side_by_side = tr.translate(sentences, beam=beam, batch_size=4)
        assert torch.get_num_threads() == 2  # restored after the worker threads
    finally:
        torch.set_num_threads(before)
    assert [t.text for t in side_by_side] == [t.text for t in alone]
    for a, b in zip(alone, side_by_side):
        assert a.score == pytest.approx(b.score, abs=1e-4)
