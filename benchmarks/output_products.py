"""The bf16 output layer's backward products, through autograd and laid out by hand.

Times, at the row counts training sees (a batch of 64 sentences has about 1,000 target
tokens), the products behind the reference output layer (512 -> 8,000):
  * input gradient: autograd's `grad @ W` against two products over halves of the columns
    (`seqattn.model.kernels.projection`), each with 1 and 2 threads, to show whether a product
    uses the second thread;
  * weight gradient, converted to fp32: autograd's `grad^T @ hidden` then the cast, against
    `hidden^T @ grad` transposed during the cast;
  * the whole layer, forward + backward, through `nn.Linear` under autocast and through
    `OutputProjection`.
Prints medians (ms) and checks the hand-laid gradients against autograd's.

    python benchmarks/output_products.py --json output_products.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_ms, table, write_json  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", default="640,1024,1280,1664", help="comma-separated row counts")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    import torch
    from torch import nn

    from seqattn.model.kernels.projection import OutputProjection

    torch.manual_seed(0)
    layer = nn.Linear(512, 8000)
    w = layer.weight.detach().bfloat16()
    threads = torch.get_num_threads()

    def halves(grad):
        out = torch.empty(grad.size(0), 512, dtype=grad.dtype)
        torch.mm(grad, w[:, :256], out=out[:, :256])
        torch.mm(grad, w[:, 256:], out=out[:, 256:])
        return out

    def weight_grad(grad, hidden):
        return torch.mm(grad.t(), hidden).float()

    def weight_grad_transposed(grad, hidden):
        product = torch.mm(hidden.t().contiguous(), grad)  # (512, 8000)
        return product.t().to(torch.float32, memory_format=torch.contiguous_format)

    def whole_layer(fn, hidden, grad):
        def run():
            h = hidden.detach().requires_grad_()
            layer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = fn(h)
            out.backward(grad)
            return h.grad, layer.weight.grad, layer.bias.grad
        return run

    result, rows_out = {"threads": threads}, []
    for rows in (int(r) for r in a.rows.split(",")):
        hidden = torch.randn(rows, 512).bfloat16()
        grad = (torch.randn(rows, 8000) * 1e-3).bfloat16()
        r = {}
        for n in sorted({1, threads}):
            torch.set_num_threads(n)
            r[f"input_grad_autograd_{n}t_ms"] = median_ms(a.repeats, torch.mm, grad, w, warmup=3)
            r[f"input_grad_halves_{n}t_ms"] = median_ms(a.repeats, halves, grad, warmup=3)
        torch.set_num_threads(threads)
        r["weight_grad_autograd_ms"] = median_ms(a.repeats, weight_grad, grad, hidden, warmup=3)
        r["weight_grad_transposed_ms"] = median_ms(a.repeats, weight_grad_transposed, grad, hidden, warmup=3)
        plain = whole_layer(layer, hidden, grad)
        ours = whole_layer(lambda h: OutputProjection.apply(h, layer.weight, layer.bias), hidden, grad)
        for got, ref in zip(ours(), plain()):
            rel = float((got.float() - ref.float()).norm() / ref.float().norm())
            assert rel < 1e-2, f"hand-laid gradient differs from autograd's by {rel:.2e}"
        r["layer_autograd_ms"] = median_ms(a.repeats, plain, warmup=3)
        r["layer_hand_laid_ms"] = median_ms(a.repeats, ours, warmup=3)
        result[str(rows)] = {k: round(v, 3) for k, v in r.items()}
        t1 = f"{r['input_grad_autograd_1t_ms']:.2f} / {r['input_grad_halves_1t_ms']:.2f}"
        tn = f"{r[f'input_grad_autograd_{threads}t_ms']:.2f} / {r[f'input_grad_halves_{threads}t_ms']:.2f}"
        rows_out.append([str(rows), t1, tn,
                         f"{r['weight_grad_autograd_ms']:.2f} / {r['weight_grad_transposed_ms']:.2f}",
                         f"{r['layer_autograd_ms']:.2f} / {r['layer_hand_laid_ms']:.2f}"])
    print(table(rows_out, ["rows", "input grad 1 thread", f"input grad {threads} threads",
                           "weight grad + fp32", "layer fwd+bwd"]))
    print("(ms, autograd / hand-laid; bf16, 512 -> 8,000)")
    write_json(a.json, result)


if __name__ == "__main__":
    main()
