"""A tiny Korean → English task that trains in seconds, for the studio's notebook, its browser
tests and its screenshots.

The corpus is **synthetic**: every sentence is built from one pattern, subject + object +
verb (저는 AI를 좋아합니다 → I like AI.), over a small word list, so that a model with 16-unit
states learns it in a few hundred steps and its attention shows the word-order swap (Korean
puts the verb last). It is no substitute for real data (the bundled Tatoeba default,
`seqattn train`).
"""

from __future__ import annotations

import random
from pathlib import Path

from seqattn.config import Config, build_config

SUBJECTS = [("저는", "I", False), ("우리는", "We", False), ("그는", "He", True), ("그녀는", "She", True),
            ("친구는", "My friend", True)]  # (Korean, English, third person singular)
OBJECTS = [("AI", "AI", False), ("커피", "coffee", False), ("음악", "music", True), ("책", "books", True),
           ("고양이", "cats", False), ("개", "dogs", False), ("사과", "apples", False),
           ("영화", "movies", False), ("축구", "soccer", False), ("여름", "summer", True),
           ("김치", "kimchi", False), ("수학", "math", True)]  # (Korean, English, ends in a consonant)
VERBS = [("좋아합니다", "like"), ("싫어합니다", "hate"), ("원합니다", "want")]


def korean_pairs(seed: int = 0) -> list[tuple[str, str]]:
    """All 180 (Korean, English) sentence pairs of the pattern, in a shuffled order."""
    pairs = []
    for ko_s, en_s, third in SUBJECTS:
        for ko_o, en_o, batchim in OBJECTS:
            for ko_v, en_v in VERBS:
                particle = "을" if batchim else "를"  # the object marker follows the last sound
                verb = en_v + "s" if third else en_v
                pairs.append((f"{ko_s} {ko_o}{particle} {ko_v}", f"{en_s} {verb} {en_o}."))
    random.Random(seed).shuffle(pairs)
    return pairs


def _write(folder: Path, name: str, pairs: list[tuple[str, str]]) -> dict[str, str]:
    src, tgt = folder / f"{name}.ko", folder / f"{name}.en"
    src.write_text("".join(s + "\n" for s, _ in pairs), encoding="utf-8")
    tgt.write_text("".join(t + "\n" for _, t in pairs), encoding="utf-8")
    return {"src": str(src), "tgt": str(tgt)}


def korean_demo_config(data_dir: str | Path, steps: int = 300, attention: str = "general",
                       overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """The tiny model's config, with the corpus written under `data_dir` (dev: 12 held-out
    sentences, drawn as heatmaps at every validation, so the run shows training in pictures)."""
    folder = Path(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    pairs = korean_pairs()
    dev = pairs[:12]
    train = pairs[12:] + [("저는 AI를 좋아합니다", "I like AI.")] * 2  # the running example
    tree = {
        "name": "korean-demo",
        "data": {"src_lang": "ko", "tgt_lang": "en", "train": _write(folder, "train", train),
                 "dev": _write(folder, "dev", dev), "test": _write(folder, "test", dev),
                 "subword": {"type": "bpe", "vocab_size": 120, "joint": True}},
        "model": {"encoder": {"emb_size": 24, "hidden_size": 24, "dropout": 0.0},
                  "decoder": {"emb_size": 24, "hidden_size": 32, "dropout": 0.0},
                  "attention": {"type": attention}},
        "train": {"batch_size": 16, "lr": 0.01, "max_steps": steps, "val_every": max(1, steps // 4),
                  "log_every": max(1, steps // 10), "early_stopping_patience": None, "seed": 7,
                  "heatmaps": 2, "precision": "fp32",
                  "samples": ["저는 AI를 좋아합니다", "그녀는 음악을 원합니다", "우리는 커피를 싫어합니다"]},
        "decode": {"beam": 5, "batch_size": 16},
    }
    return build_config(tree, list(overrides))


def train_korean_demo(out: str | Path, steps: int = 300, attention: str = "general",
                      overrides: list[str] | tuple[str, ...] = ()) -> Path:
    """Train the tiny Korean → English model into the run directory `out` (its corpus goes
    to `out`/../`out.name`-data); returns the run directory."""
    from seqattn.train import train

    out = Path(out)
    cfg = korean_demo_config(out.parent / f"{out.name}-data", steps, attention, overrides)
    train(cfg, out)
    return out
