"""Training throughput of the reference configuration (Multi30k de->en) in each mode.

Runs the real training loop (`seqattn.train.train`) for a fixed number of steps per mode,
reads the target-token rate of every logged window from the run's metrics.csv, and reports
the median over the windows after warm-up. In the same process it times a large matrix
product in fp32 and bf16, the hardware's practical ceiling, and converts tokens/s into
model GFLOP/s from an analytic FLOP count of the configuration. Where bf16 is not native
(the precision probe says so: no bf16 LSTM, or no bf16 instructions), the bf16
mode and the bf16 ceiling are skipped, and the output says why.

    python benchmarks/train_speed.py --data ../shared/data/multi30k --json train_speed.json
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    REPO,
    data_dir,
    matmul_gflops,
    peak_rss_mb,
    print_environment,
    table,
    write_json,
)

MODES = {  # name -> config overrides
    "fp32": ["train.precision=fp32"],
    "bf16": ["train.precision=bf16"],
    "input_feeding": ["train.precision=fp32", "model.decoder.input_feeding=true"],
}


def flops_per_target_token(cfg, src_per_tgt: float, mean_src_len: float) -> float:
    """Forward + backward FLOPs per target token (3x the forward multiply-adds x 2).

    Counts the matrix products: encoder RNN (per source token, scaled by source tokens per
    target token), key projection, decoder RNN, attention scores and values, combination,
    and the output layer. Elementwise work is not counted.
    """
    enc, dec, att = cfg.model.encoder, cfg.model.decoder, cfg.model.attention
    gates = 4 if enc.rnn == "lstm" else 3
    dirs = 2 if enc.bidirectional else 1
    enc_out = enc.hidden_size * dirs
    encoder = sum(gates * enc.hidden_size * ((enc.emb_size if layer == 0 else enc_out) + enc.hidden_size)
                  for layer in range(enc.layers)) * dirs
    h = dec.hidden_size
    dec_in = dec.emb_size + (h if dec.input_feeding else 0)
    gates = 4 if dec.rnn == "lstm" else 3
    decoder = sum(gates * h * ((dec_in if layer == 0 else h) + h) for layer in range(dec.layers))
    vocab = cfg.data.subword.vocab_size
    per_tgt = decoder + h * vocab
    per_src = encoder
    if att.type != "none":
        key = {"general": enc_out * h, "additive": enc_out * att.additive_size}.get(att.type, 0)
        per_src += key
        per_tgt += (h + enc_out) * mean_src_len + (h + enc_out) * h  # scores, values, combine
    return 6.0 * (per_tgt + per_src * src_per_tgt)


def train_mode(name: str, overrides: list[str], data: Path, steps: int, warmup: int, root: Path) -> dict:
    from seqattn.config import load_config
    from seqattn.train import train

    cfg = load_config(REPO / "configs" / "multi30k_deen.yaml", [
        f"data.train.src={data / 'train.de.gz'}", f"data.train.tgt={data / 'train.en.gz'}",
        f"data.dev.src={data / 'val.de.gz'}", f"data.dev.tgt={data / 'val.en.gz'}",
        "data.test=null", f"train.max_steps={steps}", "train.max_minutes=null",
        "train.log_every=20", f"train.val_every={steps + 1}", "train.val_max_sentences=32",
        "train.heatmaps=0", "train.samples=[]", *overrides])
    run = root / name
    started = time.perf_counter()
    train(cfg, run)
    wall = time.perf_counter() - started
    with open(run / "metrics.csv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "train" and r.get("tokens_per_s")]
    rates = [float(r["tokens_per_s"]) for r in rows if int(r["step"]) > warmup]
    return {"cfg": cfg, "run": run, "tokens_per_s": statistics.median(rates), "windows": len(rates),
            "min_tokens_per_s": min(rates), "max_tokens_per_s": max(rates), "wall_s": wall}


def corpus_lengths(run: Path, data: Path) -> tuple[float, float]:
    """(source tokens per target token incl. EOS, mean source length incl. EOS) on train."""
    from seqattn.data.corpus import read_lines
    from seqattn.data.subword import Subwords

    sub = Subwords.load(run)
    src = sub.encode_src(read_lines(str(data / "train.de.gz")))
    tgt = sub.encode_tgt(read_lines(str(data / "train.en.gz")))
    n_src, n_tgt = sum(len(s) + 1 for s in src), sum(len(t) + 1 for t in tgt)
    return n_src / n_tgt, n_src / len(src)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="Multi30k folder (default ../shared/data/multi30k)")
    ap.add_argument("--steps", type=int, default=400, help="training steps per mode (default 400)")
    ap.add_argument("--warmup", type=int, default=100, help="steps not timed (default 100)")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of " + ",".join(MODES))
    ap.add_argument("--threads", type=int, help="torch threads (default: PyTorch's choice)")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    data = data_dir(a.data)
    names = a.modes.split(",")
    unknown = [n for n in names if n not in MODES]
    if unknown:
        sys.exit(f"unknown mode(s) {', '.join(unknown)} (choose from {', '.join(MODES)})")
    env = print_environment()
    skipped = {}
    if not env["bf16"]["native"]:
        why = f"bf16 is not native on this CPU ({env['bf16']['detail']})"
        skipped = {n: why for n in names if "train.precision=bf16" in MODES[n]}
        for n in skipped:
            print(f"skipping mode {n}: {why}", flush=True)
        names = [n for n in names if n not in skipped]
    peak = {"fp32": matmul_gflops(torch.float32)}
    if env["bf16"]["native"]:
        peak["bf16"] = matmul_gflops(torch.bfloat16)
    print("matmul 2048^3: " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peak.items())
          + f" ({torch.get_num_threads()} threads)", flush=True)
    modes, lengths = {}, None
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            r = train_mode(name, MODES[name], data, a.steps, a.warmup, Path(tmp))
            if lengths is None:
                lengths = corpus_lengths(r["run"], data)
            flops = flops_per_target_token(r["cfg"], *lengths)
            gflops = r["tokens_per_s"] * flops / 1e9
            dtype = "bf16" if name == "bf16" else "fp32"
            modes[name] = {"tokens_per_s": round(r["tokens_per_s"], 1), "windows": r["windows"],
                           "min_tokens_per_s": round(r["min_tokens_per_s"], 1),
                           "max_tokens_per_s": round(r["max_tokens_per_s"], 1),
                           "mflop_per_token": round(flops / 1e6, 2),
                           "model_gflops_per_s": round(gflops, 1),
                           "percent_of_matmul_peak": round(100 * gflops / peak[dtype], 1),
                           "wall_s": round(r["wall_s"], 1)}
            print(f"{name}: {modes[name]}", flush=True)
    rows = [[n, f"{m['tokens_per_s']:,.0f}", f"{m['min_tokens_per_s']:,.0f}-{m['max_tokens_per_s']:,.0f}",
             f"{m['model_gflops_per_s']:.0f}", f"{m['percent_of_matmul_peak']:.0f}%"]
            for n, m in modes.items()]
    print(table(rows, ["mode", "tokens/s (median)", "range", "model GFLOP/s", "of matmul peak"]))
    result = {"modes": modes, "skipped": skipped,
              "matmul_gflops": {k: round(v, 1) for k, v in peak.items()},
              "peak_rss_mb": round(peak_rss_mb(), 1), "steps": a.steps, "warmup": a.warmup,
              "threads": torch.get_num_threads(),
              "src_tokens_per_tgt_token": round(lengths[0], 3) if lengths else None}
    print(f"peak RSS {result['peak_rss_mb']:.0f} MB")
    write_json(a.json, {**result, "environment": env})


if __name__ == "__main__":
    main()
