"""Decoding speed and quality of a trained run on Multi30k test_2016_flickr (1,000 sentences).

For each numeric mode (fp32, bf16, int8) and search (greedy, beam 5), loads the run, then
times translating the whole test set in batches of 64 sentences: `seconds` is the first
pass after loading (what a one-shot `seqattn translate` pays, including oneDNN's kernel
compiles for new shapes), `warm_seconds` the median of the following passes (a server).
BLEU is scored on every mode so that speed never hides a quality loss.

    python benchmarks/decode_speed.py --run runs/m30k --json decode_speed.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_dir, peak_rss_mb, print_environment, table, write_json  # noqa: E402

MODES = {"fp32": {"precision": "fp32"}, "bf16": {"precision": "bf16"}, "int8": {"quantize": "int8"}}
SEARCHES = {"greedy": 1, "beam5": 5}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="trained run directory (reference configuration)")
    ap.add_argument("--data", help="Multi30k folder (default ../shared/data/multi30k)")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--repeats", type=int, default=3, help="passes per mode and search (default 3)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, help="torch threads (default: PyTorch's choice)")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    import torch

    from seqattn.data.corpus import read_lines
    from seqattn.scoring import score_texts as text_scores
    from seqattn.translator import Translator

    if a.threads:
        torch.set_num_threads(a.threads)
    data = data_dir(a.data)
    src = read_lines(str(data / "test_2016_flickr.de.gz"))
    ref = read_lines(str(data / "test_2016_flickr.en.gz"))
    env = print_environment()
    result: dict = {search: {} for search in SEARCHES}
    modes = a.modes.split(",")
    if "bf16" in modes and not env["bf16"]["native"]:
        print(f"skipping mode bf16: not native on this CPU ({env['bf16']['detail']})", flush=True)
        modes.remove("bf16")
        result["skipped"] = {"bf16": env["bf16"]["detail"]}
    for mode in modes:
        for search, beam in SEARCHES.items():
            translator = Translator.load(a.run, device="cpu", **MODES[mode])
            times, outputs = [], None
            for _ in range(a.repeats):
                started = time.perf_counter()
                out = translator.translate(src, beam=beam, batch_size=a.batch_size)
                times.append(time.perf_counter() - started)
                outputs = outputs or [t.text for t in out]
            tokens = sum(len(t.tgt_tokens) for t in out)
            scores = text_scores(outputs, ref)
            warm = statistics.median(times[1:]) if len(times) > 1 else times[0]
            result[search][mode] = {"seconds": round(times[0], 3), "warm_seconds": round(warm, 3),
                                    "sentences_per_s": round(len(src) / times[0], 1),
                                    "warm_sentences_per_s": round(len(src) / warm, 1),
                                    "tokens_per_s": round(tokens / times[0], 1),
                                    "bleu": round(scores.bleu, 2), "chrf": round(scores.chrf, 2)}
            print(f"{search} {mode}: {result[search][mode]}", flush=True)
    rows = [[s, m, f"{r['seconds']:.2f}", f"{r['warm_seconds']:.2f}", f"{r['sentences_per_s']:.0f}",
             f"{r['tokens_per_s']:.0f}", f"{r['bleu']:.2f}"]
            for s in SEARCHES for m, r in result[s].items()]
    print(table(rows, ["search", "mode", "seconds", "warm s", "sent/s", "tok/s", "BLEU"]))
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["threads"] = torch.get_num_threads()
    result["sentences"] = len(src)
    print(f"peak RSS {result['peak_rss_mb']:.0f} MB; {result['threads']} threads")
    write_json(a.json, {**result, "environment": env})


if __name__ == "__main__":
    main()
