"""OpenNMT-py's training speed on seqattn's reference configuration, on this machine.

The peer figure beside `train_speed.py`: the same data (Multi30k de->en, the same joint BPE
of 8,000 pieces, trained here by seqattn's own SentencePiece code and applied to both
toolkits), the same model (embeddings 256, biLSTM encoder of 2 x 256, LSTM decoder 512,
`general` attention, dropout 0.3), batches of 64 sentences, Adam 1e-3, label smoothing 0.1,
fp32, PyTorch's default threads. OpenNMT-py always feeds the attentional state back into
the decoder (input feeding), so compare it with both seqattn's fp32 and its input-feeding
mode. The rate is target tokens (EOS included, padding excluded) per second, the median of
OpenNMT-py's own `Step N; ... src/tgt tok/s` lines after `--warmup` steps.

OpenNMT-py is not a dependency of seqattn. Install it in an environment of its own that
shares this torch (its package pins an older one), then point `--python` at it:

    python -m venv --system-site-packages /tmp/onmt
    /tmp/onmt/bin/pip install --no-deps OpenNMT-py==3.5.1 && /tmp/onmt/bin/pip install configargparse
    python benchmarks/opennmt_speed.py --python /tmp/onmt/bin/python --json opennmt_speed.json
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, data_dir, print_environment, write_json  # noqa: E402

STEP_LINE = re.compile(r"Step\s+(\d+)/\s*\d+;.*?([\d.]+)/\s*([\d.]+) tok/s")


def encode_corpus(data: Path, work: Path) -> dict[str, Path]:
    """Train the reference config's joint BPE on train and write space-separated pieces."""
    from seqattn.config import load_config
    from seqattn.data.corpus import read_lines
    from seqattn.data.subword import Subwords

    cfg = load_config(REPO / "configs" / "multi30k_deen.yaml", [
        f"data.train.src={data / 'train.de.gz'}", f"data.train.tgt={data / 'train.en.gz'}",
        f"data.dev.src={data / 'val.de.gz'}", f"data.dev.tgt={data / 'val.en.gz'}", "data.test=null"])
    src, tgt = read_lines(str(data / "train.de.gz")), read_lines(str(data / "train.en.gz"))
    sub = Subwords.train(src, tgt, cfg.data.subword, cfg.train.seed)
    files = {}
    for split, name in (("train", "train"), ("valid", "val")):
        for side, lang, encode, pieces in (("src", "de", sub.encode_src, sub.src_pieces),
                                           ("tgt", "en", sub.encode_tgt, sub.tgt_pieces)):
            lines = read_lines(str(data / f"{name}.{lang}.gz"))
            out = work / f"{split}.{side}"
            out.write_text("".join(" ".join(pieces(ids)) + "\n" for ids in encode(lines)), encoding="utf-8")
            files[f"{split}_{side}"] = out
    vocab = work / "vocab.txt"  # the joint pieces, specials left to OpenNMT-py
    pieces = sorted({p for key in ("train_src", "train_tgt") for line in
                     files[key].read_text(encoding="utf-8").split("\n") for p in line.split()})
    vocab.write_text("".join(f"{p}\t1\n" for p in pieces), encoding="utf-8")
    files["vocab"] = vocab
    return files


def opennmt_config(files: dict[str, Path], steps: int, work: Path) -> dict:
    return {
        "data": {"corpus_1": {"path_src": str(files["train_src"]), "path_tgt": str(files["train_tgt"])},
                 "valid": {"path_src": str(files["valid_src"]), "path_tgt": str(files["valid_tgt"])}},
        "src_vocab": str(files["vocab"]), "tgt_vocab": str(files["vocab"]), "share_vocab": True,
        "src_vocab_size": 8100, "tgt_vocab_size": 8100, "save_data": str(work / "onmt"),
        "save_model": str(work / "onmt" / "model"), "save_checkpoint_steps": steps + 1,
        "valid_steps": steps + 1, "train_steps": steps, "report_every": 20, "seed": 1,
        "src_seq_length": 80, "tgt_seq_length": 80,
        "encoder_type": "brnn", "decoder_type": "rnn", "rnn_type": "LSTM", "layers": 1,
        "word_vec_size": 256, "enc_hid_size": 512, "dec_hid_size": 512,  # brnn: 2 x 256
        "global_attention": "general", "input_feed": 1, "dropout": [0.3], "bridge": False,
        "batch_type": "sents", "batch_size": 64, "valid_batch_size": 64, "optim": "adam",
        "learning_rate": 0.001, "label_smoothing": 0.1, "max_grad_norm": 5.0,
        "param_init": 0.0, "param_init_glorot": True, "num_workers": 0, "world_size": 1,
        "gpu_ranks": [],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="Multi30k folder (default ../shared/data/multi30k)")
    ap.add_argument("--python", default=sys.executable, help="a Python with OpenNMT-py installed")
    ap.add_argument("--steps", type=int, default=400, help="training steps (default 400)")
    ap.add_argument("--warmup", type=int, default=100, help="steps not timed (default 100)")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    check = subprocess.run([a.python, "-c", "import onmt; print(onmt.__version__)"], capture_output=True,
                           text=True)
    if check.returncode != 0:
        sys.exit(f"OpenNMT-py is not importable with {a.python}; see this script's docstring")
    version = check.stdout.strip()
    env = print_environment()
    data = data_dir(a.data)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = encode_corpus(data, work)
        config = work / "onmt.yaml"
        config.write_text(yaml.safe_dump(opennmt_config(files, a.steps, work)), encoding="utf-8")
        started = time.perf_counter()
        proc = subprocess.run([a.python, "-m", "onmt.bin.train", "-config", str(config)],
                              capture_output=True, text=True)
        wall = time.perf_counter() - started
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        sys.exit(f"OpenNMT-py failed (exit {proc.returncode}):\n{log[-3000:]}")
    windows = [(int(m[1]), float(m[3])) for m in STEP_LINE.finditer(log)]
    rates = [rate for step, rate in windows if step > a.warmup]
    if not rates:
        sys.exit(f"no 'Step N ... tok/s' lines after step {a.warmup} in OpenNMT-py's log:\n{log[-3000:]}")
    result = {"toolkit": f"OpenNMT-py {version}", "steps": a.steps, "warmup": a.warmup,
              "tokens_per_s": round(statistics.median(rates), 1), "windows": len(rates),
              "min_tokens_per_s": min(rates), "max_tokens_per_s": max(rates), "wall_s": round(wall, 1)}
    print(f"OpenNMT-py {version}: {result['tokens_per_s']:,.0f} target tokens/s (median of "
          f"{len(rates)} windows, {min(rates):,.0f}-{max(rates):,.0f}); wall {wall:.0f} s")
    write_json(a.json, {**result, "environment": env})


if __name__ == "__main__":
    main()
