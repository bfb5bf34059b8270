"""bf16 decoding products with plain and prepacked weights (seqattn.model.kernels.packed), one core.

Times the reference configuration's decoder products at the row counts decoding sees
(64 = greedy on a full batch, 320 = beam 5): the output layer (512 -> 8,000), the LSTM gates
(plain: two products, [emb | hidden] -> 4 x 512 each; packed: one product of the
concatenation) and the attention combination (1,024 -> 512). Prints medians and checks the
outputs are identical.

    python benchmarks/packed_products.py --json packed_products.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_ms, table, write_json  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=300)
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    import torch
    from torch import nn

    from seqattn.model.kernels.packed import PackedLinear, PackedRNN, packing_works

    if not packing_works():
        sys.exit("bf16 weight packing is not available on this machine")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    output = nn.Linear(512, 8000).bfloat16()
    combine = nn.Linear(1024, 512, bias=False).bfloat16()
    lstm = nn.LSTM(256, 512, batch_first=True).bfloat16()
    packed_rnn = PackedRNN(lstm)
    w = [getattr(lstm, f"{n}_l0") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    cases = {
        "output layer 512->8000": (output, PackedLinear(output), 512),
        "combination 1024->512": (combine, PackedLinear(combine), 1024),
    }
    rows_out, result = [], {}
    for rows in (64, 320):
        for name, (plain, packed, width) in cases.items():
            x = torch.randn(rows, width).bfloat16()
            assert torch.equal(plain(x), packed(x))
            result[f"{name}, {rows} rows"] = {"plain_ms": round(median_ms(a.repeats, plain, x), 3),
                                              "packed_ms": round(median_ms(a.repeats, packed, x), 3)}
        x, h, c = (torch.randn(rows, n).bfloat16() for n in (256, 512, 512))
        result[f"LSTM step 256+512->512, {rows} rows"] = {
            "plain_ms": round(median_ms(a.repeats, torch.lstm_cell, x, (h, c), *w), 3),
            "packed_ms": round(median_ms(a.repeats, packed_rnn.step, x, (h[None], c[None])), 3)}
    for name, r in result.items():
        rows_out.append([name, f"{r['plain_ms']:.3f}", f"{r['packed_ms']:.3f}",
                         f"{r['plain_ms'] / r['packed_ms']:.2f}x"])
    print(table(rows_out, ["product (1 thread, bf16)", "plain ms", "packed ms", "speed-up"]))
    write_json(a.json, result)


if __name__ == "__main__":
    main()
