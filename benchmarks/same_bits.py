"""Does a change keep the arithmetic? Short seeded runs, fingerprinted for comparison.

Trains five short runs of a tiny model on synthetic data (general attention; GRU with input
feeding, two layers and additive attention; dropout with a reversed source and scheduled
sampling; bf16 where the CPU trains it; no attention), then decodes four sentences greedy
and with beam 3 (n-best 3) in fp32, bf16 and int8. Writes a JSON of the weights' SHA-256
and every output, score and attention hash. Run it at two commits and compare the files:
a refactoring that keeps the arithmetic gives identical files.

    python benchmarks/same_bits.py --json before.json   # at the old commit
    python benchmarks/same_bits.py --json after.json    # at the new one; then: cmp before.json after.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
from pathlib import Path

WORDS = "alpha beta gamma delta omega sigma kappa theta zeta lambda".split()
VARIANTS = {
    "general": [],
    "gru_feeding_2layers_additive": [
        "model.encoder.rnn=gru", "model.decoder.rnn=gru", "model.decoder.input_feeding=true",
        "model.encoder.layers=2", "model.decoder.layers=2", "model.encoder.dropout=0.2",
        "model.decoder.dropout=0.2", "model.attention.type=additive"],
    "dropout_reversed_sampling": [
        "model.encoder.dropout=0.3", "model.decoder.dropout=0.3", "model.encoder.reverse_source=true",
        "model.attention.type=dot", "model.decoder.hidden_size=32", "train.scheduled_sampling=0.2"],
    "bf16": ["train.precision=bf16", "model.encoder.dropout=0.3"],
    "no_attention": ["model.attention.type=none"],
}
SENTENCES = ["alpha beta gamma", "delta omega sigma kappa theta", "zeta",
             "lambda lambda beta alpha gamma delta"]


def _write(folder: Path, name: str, n: int, seed: int) -> dict[str, str]:
    """Source: random words; target: the same words upper-cased, reversed."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 6))]
        pairs.append((" ".join(words), " ".join(w.upper() for w in reversed(words))))
    folder.mkdir(parents=True, exist_ok=True)
    for side, i in (("src", 0), ("tgt", 1)):
        (folder / f"{name}.{side}").write_text("".join(p[i] + "\n" for p in pairs), encoding="utf-8")
    return {"src": str(folder / f"{name}.src"), "tgt": str(folder / f"{name}.tgt")}


def tiny_tree(folder: Path) -> dict:
    return {
        "name": "tiny",
        "data": {"train": _write(folder, "train", 200, 1), "dev": _write(folder, "dev", 20, 2),
                 "test": _write(folder, "test", 20, 3),
                 "subword": {"type": "bpe", "vocab_size": 60, "joint": True}},
        "model": {"encoder": {"emb_size": 16, "hidden_size": 16, "dropout": 0.0},
                  "decoder": {"emb_size": 16, "hidden_size": 32, "dropout": 0.0},
                  "attention": {"type": "general"}},
        "train": {"batch_size": 16, "lr": 0.01, "max_steps": 30, "val_every": 15, "log_every": 5,
                  "early_stopping_patience": None, "seed": 3, "samples": [], "precision": "fp32",
                  "heatmaps": 0},
        "decode": {"beam": 3, "batch_size": 8},
    }


def _bf16(decoding: bool) -> bool:
    """Whether this CPU runs bf16 (for older commits without the probe: the CPU flags)."""
    import torch

    try:
        from seqattn.precision import probe_bf16
    except ImportError:
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    support = probe_bf16(torch.device("cpu"))
    return support.decodes if decoding else support.trains


def fingerprint(run: Path) -> dict:
    from safetensors.torch import load_file

    from seqattn.translator import Translator

    weights = load_file(str(run / "model.safetensors"))
    digest = hashlib.sha256()
    for key in sorted(weights):
        digest.update(key.encode())
        digest.update(weights[key].float().numpy().tobytes())
    out = {"weights": digest.hexdigest()}
    modes = {"fp32": {"precision": "fp32"}, "int8": {"quantize": "int8"}}
    if _bf16(decoding=True):
        modes["bf16"] = {"precision": "bf16"}
    for mode, kwargs in modes.items():
        translator = Translator.load(run, device="cpu", **kwargs)
        for beam in (1, 3):
            results = translator.translate(SENTENCES, beam=beam, n_best=beam)
            out[f"{mode}_beam{beam}"] = [
                [(c.text, round(c.score, 6), None if c.attention is None
                  else hashlib.sha256(c.attention.tobytes()).hexdigest()[:16]) for c in r.hypotheses]
                for r in results]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", required=True, help="write the fingerprints here")
    a = ap.parse_args()
    import torch

    from seqattn.config import build_config
    from seqattn.train import train

    torch.set_num_threads(2)
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, overrides in VARIANTS.items():
            if name == "bf16" and not _bf16(decoding=False):
                print(f"{name}: skipped (this CPU does not train bf16)", file=sys.stderr)
                continue
            root = Path(tmp) / name
            train(build_config(tiny_tree(root / "data"), overrides), root / "run")
            result[name] = fingerprint(root / "run")
            print(f"{name}: weights {result[name]['weights'][:16]}", flush=True)
    Path(a.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
