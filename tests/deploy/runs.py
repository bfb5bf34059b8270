"""Tiny run directories made without training (random weights, seeded), and their exports."""

from __future__ import annotations

from pathlib import Path

import torch

from seqattn.config import build_config
from seqattn.data.corpus import read_corpus
from seqattn.data.subword import Subwords
from seqattn.model import Seq2Seq
from seqattn.rundir import RunDir
from seqattn.weights import save_weights
from tests.conftest import tiny_tree
from tests.model.helpers import model_config

SENTENCES = ["alpha beta gamma", "delta", "omega sigma kappa theta zeta lambda alpha",
             "beta beta", "zeta unknown_word lambda", "gamma delta omega sigma"]


def make_run(folder: Path, vocab: str = "char", seed: int = 0, **variant) -> Path:
    """A run directory of a tiny model (`tests.model.helpers.model_config(**variant)`) with random
    weights: `vocab` 'char' (characters -> symbols, per side) or 'bpe' (joint SentencePiece)."""
    tree = tiny_tree(folder / "data", n_train=60)
    tree["model"] = model_config(**variant).model_dump(mode="json")
    tree["model"]["param_init"] = 0.5  # (larger than trained weights start: a random model with small
    # weights settles into one state and repeats one token, where outputs tie exactly)
    tree["decode"].update(max_len_a=1.0, max_len_b=5)
    tree["data"]["subword"] = ({"src_type": "char", "tgt_type": "symbols", "joint": False, "vocab_size": 100}
                               if vocab == "char" else {"type": "bpe", "vocab_size": 60, "joint": True})
    cfg = build_config(tree)
    train = read_corpus(cfg.data.train)
    subwords = Subwords.train(train.src, train.tgt, cfg.data.subword)
    run = RunDir(folder / "run")
    run.path.mkdir(parents=True)
    run.write_config(cfg)
    subwords.save(run.path)
    torch.manual_seed(seed)
    save_weights(Seq2Seq(cfg.model, subwords.src_vocab_size, subwords.tgt_vocab_size).eval(), run.weights)
    return run.path
