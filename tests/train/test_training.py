import csv
import json

import pytest
import torch

import seqattn
from seqattn.train import Trainer, train
from seqattn.train.checkpoint import latest_checkpoint
from seqattn.weights import read_tensors
from tests.conftest import synthetic_pairs, tiny_config, write_pairs


def test_small_model_overfits_50_pairs(tmp_path):
    pairs = synthetic_pairs(50, seed=11, max_len=5)
    cfg = tiny_config(tmp_path, [
        "model.encoder.hidden_size=64", "model.decoder.hidden_size=128", "model.encoder.emb_size=32",
        "model.decoder.emb_size=32", "train.label_smoothing=0", "train.max_steps=500",
        "train.val_every=100", "train.batch_size=10", "train.schedule.type=constant",
        "train.lr=0.01"])
    files = write_pairs(tmp_path / "fifty", "pairs", pairs)
    cfg.data.train.src, cfg.data.train.tgt = files["src"], files["tgt"]
    cfg.data.dev.src, cfg.data.dev.tgt = files["src"], files["tgt"]
    train(cfg, tmp_path / "run")
    outputs = seqattn.load(tmp_path / "run").translate([s for s, _ in pairs], beam=1)
    exact = sum(o.text == t for o, (_, t) in zip(outputs, pairs))
    assert exact == 50, [(o.text, t) for o, (_, t) in zip(outputs, pairs) if o.text != t][:5]


def test_run_directory_is_self_contained(trained_run):
    for name in ["config.yaml", "spm.model", "model.safetensors", "metrics.csv", "train.log",
                 "results.json", "best.json", "checkpoints/latest.json"]:
        assert (trained_run / name).is_file(), name
    assert list((trained_run / "tensorboard").iterdir())
    ckpt = latest_checkpoint(trained_run / "checkpoints")
    assert {p.name for p in ckpt.iterdir()} == {"model.safetensors", "optimizer.safetensors",
                                                "trainer_state.json"}
    results = json.loads((trained_run / "results.json").read_text())
    test = results["test"]
    assert results["progress"]["step"] == 40 and test["sentences"] == 20
    assert test["ppl"] < 60  # better than a uniform guess over the 60 subwords after 40 steps
    rows = list(csv.DictReader((trained_run / "metrics.csv").read_text().splitlines()))
    (test_row,) = [r for r in rows if r["split"] == "test"]
    assert float(test_row["ppl"]) == pytest.approx(test["ppl"], rel=1e-5)
    assert float(test_row["bleu"]) == pytest.approx(test["bleu"], abs=1e-4)
    sources = (trained_run.parent / "data" / "test.src").read_text().splitlines()
    references = (trained_run.parent / "data" / "test.tgt").read_text().splitlines()
    examples = results["test_examples"]
    assert [(e["source"], e["reference"]) for e in examples] == [
        (sources[i], references[i]) for i in (0, 4, 8, 12, 16)]  # 5, evenly spread over 20
    assert "alpha beta gamma" in results["samples"]
    header = (trained_run / "metrics.csv").read_text().splitlines()[0]
    assert header.startswith("step,split,loss,ppl,bleu,chrf")


def test_saved_run_reloads_to_identical_outputs(tmp_path):
    cfg = tiny_config(tmp_path / "data", ["train.max_steps=20", "train.val_every=10"])
    trainer = Trainer(cfg, tmp_path / "run")
    trainer.run()
    sentences = ["alpha beta", "gamma delta omega", "zeta"]
    before = trainer.translator.translate(sentences, beam=3, n_best=2)
    after = seqattn.load(tmp_path / "run").translate(sentences, beam=3, n_best=2)
    for b, a in zip(before, after):
        assert [h.tgt_tokens for h in b.hypotheses] == [h.tgt_tokens for h in a.hypotheses]
        assert [h.score for h in b.hypotheses] == [h.score for h in a.hypotheses]
        assert (b.attention == a.attention).all()


def _final_weights(run_dir):
    return read_tensors(latest_checkpoint(run_dir / "checkpoints") / "model.safetensors")


def test_loss_scaling_leaves_fp32_training_unchanged_and_is_checkpointed(tmp_path):
    """fp16's loss scaling, switched on for fp32: every gradient is scaled by 2^16 and back,
    exactly, so the weights match an unscaled run bit for bit."""
    common = ["train.max_steps=15", "train.val_every=15", "model.encoder.dropout=0.2"]
    train(tiny_config(tmp_path / "data", common), tmp_path / "plain")
    train(tiny_config(tmp_path / "data", [*common, "train.loss_scaling=true"]), tmp_path / "scaled")
    plain, scaled = _final_weights(tmp_path / "plain"), _final_weights(tmp_path / "scaled")
    assert all(torch.equal(plain[k], scaled[k]) for k in plain)
    state = lambda run: json.loads(  # noqa: E731
        (latest_checkpoint(run / "checkpoints") / "trainer_state.json").read_text())["loss_scaler"]
    assert state(tmp_path / "plain") == {}
    assert state(tmp_path / "scaled")["scale"] == 2.0**16
    assert state(tmp_path / "scaled")["_growth_tracker"] == 15


@pytest.mark.parametrize("extra", [[], ["model.decoder.input_feeding=true", "train.scheduled_sampling=0.3",
                                        "train.loss_scaling=true"]])
def test_resume_continues_with_the_same_data_order(tmp_path, extra):
    common = ["train.val_every=10", "model.encoder.dropout=0.2", "model.decoder.dropout=0.2",
              "train.schedule.patience=0", "train.batch_size=8", *extra]
    cfg_full = tiny_config(tmp_path / "data", [*common, "train.max_steps=40"])
    train(cfg_full, tmp_path / "full")
    cfg_half = tiny_config(tmp_path / "data", [*common, "train.max_steps=20"])
    train(cfg_half, tmp_path / "half")
    half_ckpt = latest_checkpoint(tmp_path / "half" / "checkpoints")
    state = json.loads((half_ckpt / "trainer_state.json").read_text())
    assert state["progress"]["step"] == 20
    resumed = Trainer(cfg_full, tmp_path / "half", resume=True).run()
    assert resumed.progress.step == 40
    full, half = _final_weights(tmp_path / "full"), _final_weights(tmp_path / "half")
    scaler = lambda run: json.loads(  # noqa: E731 (the fp16 loss scale and its growth count)
        (latest_checkpoint(run / "checkpoints") / "trainer_state.json").read_text())["loss_scaler"]
    assert scaler(tmp_path / "full") == scaler(tmp_path / "half")
    assert full.keys() == half.keys()
    for key in full:
        assert torch.equal(full[key], half[key]), key
    dev_rows = lambda run: [r.rsplit(",", 1)[0]  # noqa: E731 (the last column is wall time)
                            for r in (run / "metrics.csv").read_text().splitlines()
                            if ",dev," in r or ",test," in r]
    assert dev_rows(tmp_path / "full") == dev_rows(tmp_path / "half")
