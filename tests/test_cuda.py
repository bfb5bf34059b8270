"""The CUDA path (bf16 and fp16 autocast training, fp16 with loss scaling; bf16 and fp16
decoding); skipped on machines without a GPU."""

import json

import pytest
import torch

from seqattn.train import train
from seqattn.train.checkpoint import latest_checkpoint
from seqattn.translator import Translator

from .conftest import tiny_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_trains_and_decodes_on_cuda(tmp_path, precision):
    cfg = tiny_config(tmp_path / "data", ["train.max_steps=20", f"train.precision={precision}",
                                          "train.device=cuda"])
    result = train(cfg, tmp_path / "run")
    assert result.progress.step == 20
    state = json.loads((latest_checkpoint(tmp_path / "run" / "checkpoints") / "trainer_state.json")
                       .read_text())
    assert (state["loss_scaler"] != {}) == (precision == "fp16")
    cuda = Translator.load(tmp_path / "run", device="cuda", precision=precision)
    cpu = Translator.load(tmp_path / "run", device="cpu", precision="fp32")
    sentences = ["a b c", "d e f g", "h"]
    on_gpu = cuda.translate(sentences, beam=3)
    on_cpu = cpu.translate(sentences, beam=3)
    assert len(on_gpu) == 3
    if precision == "fp32":
        assert [t.text for t in on_gpu] == [t.text for t in on_cpu]
    for t in on_gpu:
        assert t.attention is not None and all(abs(row.sum() - 1) < 1e-2 for row in t.attention)
