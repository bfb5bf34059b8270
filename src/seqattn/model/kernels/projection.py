"""The output layer of bf16 training on the CPU, with its backward products laid out by hand
(switch `split_output_products`).

`logits = hidden @ W^T + b` is the largest product of a training step (reference model:
about 1,000 rows x 512 -> 8,000 per batch), and its backward pass has two more of that size.
Through autograd, oneDNN computes the input gradient `grad (rows, vocab) @ W (vocab, hidden)`
on a single thread for row counts like these (on the 2-core CPUs measured). Two products,
each writing half of the hidden columns, use both cores. The weight gradient is computed as
`hidden^T @ grad` (a (hidden, vocab) result) and transposed while it is converted to the
parameter's dtype, a conversion autograd makes anyway. `benchmarks/output_products.py`
measures both layouts on the machine at hand.

Same maths as `nn.Linear`; only the order of the additions inside each product changes.
"""

from __future__ import annotations

import torch
from torch import nn

from seqattn.model.kernels import SWITCHES


class OutputProjection(torch.autograd.Function):
    """hidden (rows, in) any float dtype, weight (out, in), bias (out,) or None ->
    (rows, out) in hidden's dtype; the weight and bias gradients come back in their own
    dtypes (fp32 master weights under bf16 autocast)."""

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None):
        w = weight.to(hidden.dtype)
        if bias is None:
            logits = hidden @ w.t()
        else:
            logits = torch.addmm(bias.to(hidden.dtype), hidden, w.t())
        ctx.save_for_backward(hidden, w)
        ctx.dtypes = (weight.dtype, None if bias is None else bias.dtype)
        return logits

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        hidden, w = ctx.saved_tensors
        grad = grad.contiguous()
        grad_hidden = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:  # grad @ W, as two products over halves of the columns
            grad_hidden = hidden.new_empty(hidden.shape)
            half = w.size(1) // 2
            torch.mm(grad, w[:, :half], out=grad_hidden[:, :half])
            torch.mm(grad, w[:, half:], out=grad_hidden[:, half:])
        if ctx.needs_input_grad[1]:  # (hidden^T grad)^T, contiguous in the parameter's dtype
            grad_weight = torch.mm(hidden.t().contiguous(), grad).t().to(
                ctx.dtypes[0], memory_format=torch.contiguous_format)
        if ctx.needs_input_grad[2]:
            grad_bias = grad.sum(0).to(ctx.dtypes[1])  # (a bf16 sum accumulates in fp32; asking
            # for an fp32 result takes a much slower path)
        return grad_hidden, grad_weight, grad_bias


def project(hidden: torch.Tensor, layer: nn.Module) -> torch.Tensor:
    """layer(hidden) for hidden (rows, in); bf16 on the CPU goes through `OutputProjection`."""
    if (SWITCHES.split_output_products and isinstance(layer, nn.Linear) and hidden.dim() == 2
            and hidden.dtype == torch.bfloat16 and hidden.device.type == "cpu" and torch.is_grad_enabled()):
        return OutputProjection.apply(hidden, layer.weight, layer.bias)
    return layer(hidden)
