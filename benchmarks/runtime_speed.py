"""PyTorch against ONNX Runtime on exported models: latency, throughput, agreement, size.

For a G2P run and a Multi30k run (either may be left out), exports each as fp32 and as int8
graphs, then measures, on one CPU, for PyTorch fp32 / bf16 / int8 (`seqattn.load(RUN)` with
that precision) and ONNX Runtime fp32 / int8 (`seqattn.load(EXPORTED)`):

- batch-1 latency: the median time of `translate([one input])` over `--latency-inputs` test
  inputs (one G2P word; one Multi30k sentence), greedy and beam 5, after an untimed pass over
  the same inputs;
- batch-64 throughput: inputs per second translating `--throughput-inputs` test inputs in
  batches of 64 (median of `--repeats` warm passes), greedy and beam 5;
- quality of the whole test set at beam 5: BLEU (Multi30k test_2016_flickr) or WER / PER
  (the G2P run's own test split, pronunciations grouped by word);
- agreement: how many outputs of ONNX Runtime fp32 are token-identical to PyTorch fp32
  (greedy and beam 5, whole test set), and for those that differ, how far apart the two
  outputs' scores are;
- the exported folders' sizes, and (from `--env-sizes`, written by `scripts/check_wheel.py`)
  the installed size of a runtime-only environment against a full one.

    python benchmarks/runtime_speed.py --g2p runs/g2p --m30k runs/m30k --work /tmp/rs \\
        --json benchmarks/results/CPU/runtime_speed.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_dir, print_environment, table, write_json  # noqa: E402

SEARCHES = {"greedy": 1, "beam5": 5}
TORCH = {"PyTorch fp32": {"precision": "fp32"}, "PyTorch bf16": {"precision": "bf16"},
         "PyTorch int8": {"quantize": "int8"}}
ORT = {"ONNX Runtime fp32": None, "ONNX Runtime int8": "int8"}


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def test_set(task: str, run: str, data: str | None) -> tuple[list[str], list[list[str]], list[str]]:
    """(sources, their references, metrics): Multi30k test_2016_flickr, or the G2P run's test
    split with each word's pronunciations grouped."""
    import seqattn
    from seqattn.data.corpus import read_lines
    from seqattn.scoring import group_references

    if task == "m30k":
        d = data_dir(data)
        src = read_lines(str(d / "test_2016_flickr.de.gz"))
        return src, [[r] for r in read_lines(str(d / "test_2016_flickr.en.gz"))], ["bleu"]
    from seqattn.data.pipeline import load_splits

    test = load_splits(seqattn.load(run, device="cpu").cfg.data)[2]
    words, refs = group_references(test.src, test.tgt)
    return words, refs, ["wer", "per"]


def exported(run: str, work: Path, name: str, quantize: str | None) -> Path:
    """The run exported under `work` (reused when a previous call made it)."""
    from seqattn.deploy.manifest import is_export
    from seqattn.export import export_run

    out = work / f"{name}-{quantize or 'fp32'}"
    if not is_export(out):
        export_run(run, out, quantize=quantize)
    return out


def latency_ms(tr, inputs: list[str], beam: int) -> float:
    """Median ms of translating one input at a time, each input seen once before (so that
    one-off work for a new input length, such as oneDNN's kernel compiles, is not timed)."""
    for text in inputs:
        tr.translate([text], beam=beam)
    times = []
    for text in inputs:
        started = time.perf_counter()
        tr.translate([text], beam=beam)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def throughput(tr, inputs: list[str], beam: int, repeats: int) -> float:
    """Inputs per second translating `inputs` in batches of 64 (median of warm passes)."""
    tr.translate(inputs[:128], beam=beam, batch_size=64)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        tr.translate(inputs, beam=beam, batch_size=64)
        times.append(time.perf_counter() - started)
    return len(inputs) / statistics.median(times)


def agreement(a: list, b: list) -> dict:
    """Token-identical outputs of two backends, and the score gap where they differ."""
    differ = [(x, y) for x, y in zip(a, b) if x.tgt_tokens != y.tgt_tokens]
    gaps = [abs(x.score - y.score) for x, y in differ]
    return {"inputs": len(a), "identical": len(a) - len(differ),
            "max_score_gap_where_different": max(gaps) if gaps else None}


def measure_task(task: str, run: str, a: argparse.Namespace, work: Path, bf16_native: bool) -> dict:
    import seqattn
    from seqattn.scoring import score_texts

    sources, refs, metrics = test_set(task, run, a.data)
    folders = {name: exported(run, work, task, q) for name, q in ORT.items()}
    backends = {**{n: (run, kw) for n, kw in TORCH.items() if n != "PyTorch bf16" or bf16_native},
                **{n: (str(f), {}) for n, f in folders.items()}}
    lat_inputs = sources[: a.latency_inputs]
    thr_inputs = sources[: a.throughput_inputs]
    out: dict = {"run": run, "test_inputs": len(sources), "latency_inputs": len(lat_inputs),
                 "throughput_inputs": len(thr_inputs),
                 "export_mb": {n: round(folder_mb(f), 2) for n, f in folders.items()},
                 "backends": {}}
    decoded: dict = {}
    for name, (path, kw) in backends.items():
        tr = seqattn.load(path, device="cpu", **kw)
        row: dict = {}
        for search, beam in SEARCHES.items():
            row[f"latency_ms_{search}"] = round(latency_ms(tr, lat_inputs, beam), 3)
            row[f"per_second_{search}"] = round(throughput(tr, thr_inputs, beam, a.repeats), 1)
            print(f"{task} {name} {search}: {row[f'latency_ms_{search}']:.2f} ms at batch 1, "
                  f"{row[f'per_second_{search}']:,.0f}/s at batch 64", flush=True)
        if a.quality:
            for search, beam in SEARCHES.items():
                if beam == 1 and name not in ("PyTorch fp32", "ONNX Runtime fp32"):
                    continue
                found = tr.translate(sources, beam=beam, batch_size=64)
                decoded[name, search] = found
                if beam == 5:
                    scores = score_texts([t.text for t in found], refs, metrics)
                    row["quality_beam5"] = {m: round(v, 2) for m, v in scores.values.items()}
        out["backends"][name] = row
    if a.quality:
        out["agreement_fp32"] = {s: agreement(decoded["PyTorch fp32", s], decoded["ONNX Runtime fp32", s])
                                 for s in SEARCHES}
    return out


def report(task: str, res: dict) -> None:
    rows = []
    for name, r in res["backends"].items():
        quality = ", ".join(f"{m} {v:.2f}" for m, v in r.get("quality_beam5", {}).items())
        rows.append([name, f"{r['latency_ms_greedy']:.2f}", f"{r['latency_ms_beam5']:.2f}",
                     f"{r['per_second_greedy']:,.0f}", f"{r['per_second_beam5']:,.0f}", quality])
    print(f"\n{task}: {res['test_inputs']:,} test inputs; latency over {res['latency_inputs']}, "
          f"throughput over {res['throughput_inputs']:,}")
    print(table(rows, ["backend", "batch-1 ms greedy", "batch-1 ms beam 5", "batch-64 /s greedy",
                       "batch-64 /s beam 5", "quality (beam 5)"]))
    for search, agr in res.get("agreement_fp32", {}).items():
        print(f"{search}: ONNX Runtime fp32 token-identical to PyTorch fp32 on {agr['identical']:,} of "
              f"{agr['inputs']:,}; largest score gap where different: {agr['max_score_gap_where_different']}")
    print("exported folder MB: " + ", ".join(f"{n} {mb:.2f}" for n, mb in res["export_mb"].items()))


def against_targets(tasks: dict, environments: dict | None) -> dict:
    """The issue's targets, as ratios: batch-1 latency (PyTorch / ONNX Runtime, best against best
    and fp32 against fp32), batch-64 throughput (ONNX Runtime's best / PyTorch's best), int8's
    quality change against fp32 (ONNX Runtime), the runtime environment's share of the full one."""
    out: dict = {}
    for task, res in tasks.items():
        rows = res["backends"]
        torch_rows = {n: r for n, r in rows.items() if n.startswith("PyTorch")}
        ort_rows = {n: r for n, r in rows.items() if n.startswith("ONNX")}
        for search in SEARCHES:
            lat, thr = f"latency_ms_{search}", f"per_second_{search}"
            out[f"{task} {search}"] = {
                "latency_best_over_best": round(min(r[lat] for r in torch_rows.values())
                                                / min(r[lat] for r in ort_rows.values()), 2),
                "latency_fp32_over_fp32": round(rows["PyTorch fp32"][lat]
                                                / rows["ONNX Runtime fp32"][lat], 2),
                "throughput_best_over_best": round(max(r[thr] for r in ort_rows.values())
                                                   / max(r[thr] for r in torch_rows.values()), 2)}
        q32 = rows["ONNX Runtime fp32"].get("quality_beam5", {})
        q8 = rows["ONNX Runtime int8"].get("quality_beam5", {})
        if q32 and q8:
            out[f"{task} int8 quality change"] = {m: round(q8[m] - q32[m], 2) for m in q32}
    if environments:
        out["runtime environment / full"] = environments.get("runtime_over_full")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--g2p", help="a trained G2P run (configs/cmudict_g2p.yaml)")
    ap.add_argument("--m30k", help="a trained Multi30k run (configs/multi30k_deen.yaml)")
    ap.add_argument("--data", help="Multi30k folder (default ../shared/data/multi30k)")
    ap.add_argument("--work", required=True, help="folder for the exported models (reused)")
    ap.add_argument("--latency-inputs", type=int, default=50)
    ap.add_argument("--throughput-inputs", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3, help="throughput passes (median)")
    ap.add_argument("--no-quality", dest="quality", action="store_false",
                    help="skip the whole-test-set decodes (quality, agreement)")
    ap.add_argument("--env-sizes", help="JSON with the installed sizes of a runtime and a full environment")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    if not (a.g2p or a.m30k):
        ap.error("give --g2p RUN and/or --m30k RUN")
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    env = print_environment()
    result: dict = {"tasks": {}}
    for task, run in (("g2p", a.g2p), ("m30k", a.m30k)):
        if run:
            result["tasks"][task] = measure_task(task, run, a, work, env["bf16"]["native"])
    for task, res in result["tasks"].items():
        report(task, res)
    if a.env_sizes:
        result["environments"] = json.loads(Path(a.env_sizes).read_text(encoding="utf-8"))
        sizes = result["environments"]
        print(f"installed: runtime {sizes['runtime']['bytes'] / 1e6:,.0f} MB, "
              f"full {sizes['full']['bytes'] / 1e6:,.0f} MB ({sizes['runtime_over_full']:.2f})")
    result["targets"] = against_targets(result["tasks"], result.get("environments"))
    print("\nagainst the targets (latency: PyTorch ms / ONNX Runtime ms, aim >= 2; throughput: ONNX Runtime "
          "/ PyTorch, aim >= 1; int8 quality change: within 0.3)")
    for name, values in result["targets"].items():
        print(f"  {name}: {values}")
    result["date"] = time.strftime("%Y-%m-%d")
    result["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                      cwd=Path(__file__).parent).stdout.strip() or None
    write_json(a.json, {**result, "environment": env})


if __name__ == "__main__":
    main()
