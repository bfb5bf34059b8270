"""Export -> the torch-free runtime decodes as the PyTorch model does, on every architecture."""

from __future__ import annotations

import numpy as np
import pytest

from seqattn.deploy import ExportedTranslator
from seqattn.export import export_run
from seqattn.translator import Translator
from tests.deploy.runs import SENTENCES, make_run

VARIANTS = {  # id: (vocabulary, model_config arguments)
    "lstm-general-bpe": ("bpe", dict(rnn="lstm", attention="general")),
    "gru-general": ("char", dict(rnn="gru", attention="general")),
    "lstm-dot": ("char", dict(rnn="lstm", attention="dot")),
    "gru-scaled_dot": ("char", dict(rnn="gru", attention="scaled_dot")),
    "lstm-additive": ("char", dict(rnn="lstm", attention="additive")),
    "gru-additive-feeding": ("char", dict(rnn="gru", attention="additive", input_feeding=True)),
    "lstm-none": ("char", dict(rnn="lstm", attention="none")),
    "gru-none-unidirectional": ("char", dict(rnn="gru", attention="none", bidirectional=False)),
    "lstm-general-feeding": ("char", dict(rnn="lstm", attention="general", input_feeding=True)),
    "lstm-reversed": ("char", dict(rnn="lstm", attention="general", reverse=True)),
    "lstm-2-layers-feeding": ("char", dict(rnn="lstm", attention="dot", layers=2, input_feeding=True)),
    "gru-2-layers-reversed": ("char", dict(rnn="gru", attention="general", layers=2, reverse=True,
                                           bidirectional=False)),
    "gru-encoder-lstm-decoder": ("char", dict(rnn="gru", dec_rnn="lstm", attention="additive")),
    "lstm-2-to-1-layers": ("char", dict(rnn="lstm", attention="scaled_dot", layers=2, dec_layers=1)),
    # dropout is off when decoding: the export must leave the model it checks against in eval mode
    "lstm-2-layers-dropout": ("char", dict(rnn="lstm", attention="general", layers=2, dec_layers=1,
                                           dropout=0.3)),
}
TOLERANCE = 1e-4


def compare(mine, theirs) -> tuple[int, int]:
    """(hypotheses compared, hypotheses whose tokens differ); asserts scores and attention."""
    compared = differ = 0
    for a, b in zip(mine, theirs):
        assert a.src_tokens == b.src_tokens and len(a.hypotheses) == len(b.hypotheses)
        for h, g in zip(a.hypotheses, b.hypotheses):
            compared += 1
            assert abs(h.score - g.score) < TOLERANCE, (h.score, g.score)
            if h.tgt_tokens != g.tgt_tokens:  # (a near-tie broken the other way by float summation order)
                differ += 1
                continue
            assert h.text == g.text
            if h.attention is None:
                assert g.attention is None
            else:
                assert h.attention.shape == g.attention.shape
                assert float(np.abs(h.attention - g.attention).max()) < TOLERANCE
    return compared, differ


@pytest.mark.parametrize("variant", list(VARIANTS), ids=list(VARIANTS))
def test_runtime_decodes_as_pytorch(variant, tmp_path):
    vocab, arch = VARIANTS[variant]
    run = make_run(tmp_path, vocab, **arch)
    manifest = export_run(run, tmp_path / "exported")
    assert set(manifest["files"]) >= {"encoder.onnx", "decoder_step.onnx"}
    exported = ExportedTranslator.load(tmp_path / "exported", threads=1)
    torch_path = Translator.load(run, device="cpu")
    texts = SENTENCES
    compared = differ = 0
    for beam, n_best, batch in ((1, 1, None), (5, 3, None), (5, 3, 1), (1, 1, 1)):
        mine = torch_path.translate(texts, beam=beam, n_best=n_best, batch_size=batch)
        theirs = exported.translate(texts, beam=beam, n_best=n_best, batch_size=batch)
        c, d = compare(mine, theirs)
        compared, differ = compared + c, differ + d
    assert differ <= compared // 20, f"{differ} of {compared} hypotheses differ in their tokens"
    print(f"{variant}: {differ} of {compared} hypotheses differ in their tokens")


def test_trained_run_exports_and_decodes_alike(trained_run, tmp_path):
    """A real (SentencePiece, trained) run: the CLI verb, then equal outputs."""
    from seqattn.cli import main

    assert main(["export", str(trained_run), "--out", str(tmp_path / "out")]) == 0
    exported = ExportedTranslator.load(tmp_path / "out", threads=1)
    torch_path = Translator.load(trained_run, device="cpu")
    for beam, n_best in ((1, 1), (5, 3)):
        c, d = compare(torch_path.translate(SENTENCES, beam=beam, n_best=n_best),
                       exported.translate(SENTENCES, beam=beam, n_best=n_best))
        assert d == 0, f"{d} of {c} differ"
    default = exported.translate(["alpha beta"])  # the run's decoding defaults (decode.beam 3)
    assert default[0].text == torch_path.translate(["alpha beta"])[0].text
    # the step graph's own log-softmax + top-k (format 2) finds what NumPy's finds (format 1)
    assert exported.stepper.top_k_in_graph
    in_graph = [exported.translate(SENTENCES, beam=b, n_best=min(b, 3)) for b in (1, 5)]
    exported.stepper.top_k_in_graph = False
    in_numpy = [exported.translate(SENTENCES, beam=b, n_best=min(b, 3)) for b in (1, 5)]
    for a, b in zip(in_graph, in_numpy):
        assert compare(a, b)[1] == 0


@pytest.mark.parametrize("quantize", [None, "int8"])
def test_graphs_of_another_model_are_refused(quantize, tmp_path):
    """The check refuses graphs that do not compute the model (here: another seed's weights),
    under the fp32 bounds and under int8's looser ones."""
    from seqattn.config import DecodeConfig
    from seqattn.data.subword import Subwords
    from seqattn.export import check_sources
    from seqattn.export.verify import disagreement
    from seqattn.rundir import RunDir

    ours = make_run(tmp_path / "a", "char", seed=0)
    other = make_run(tmp_path / "b", "char", seed=1)
    export_run(other, tmp_path / "exported")
    translator = Translator.load(ours, device="cpu")
    cfg = RunDir.open(ours).read_config()
    sources = check_sources(cfg, Subwords.load(ours))
    stepper = ExportedTranslator.load(tmp_path / "exported", threads=1).stepper
    problem = disagreement(translator.model, stepper, sources, DecodeConfig(), quantize)
    assert problem and "differ by" in problem
