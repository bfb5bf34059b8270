"""int8 graphs: ONNX Runtime's dynamic quantization of an export's two graphs.

`onnxruntime.quantization.quantize_dynamic` stores the weights of MatMul / Gemm / LSTM nodes
(and embedding tables, Gather) as int8 and quantizes their inputs to uint8 at run time, per
tensor; GRU nodes and the rest stay fp32. The quantized graph replaces the fp32 one under the
same name, so the folder's layout is the same either way; the manifest says which it holds
(`"quantization": "int8"`).
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path


def quantize_graphs(folder: Path, names: list[str]) -> None:
    """Replace each graph `folder / name` by its dynamically int8-quantized copy."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = logging.getLogger("root")  # (the quantizer logs its op-by-op notes on the root logger)
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        for name in names:
            source, target = folder / name, folder / f"{name}.int8"
            with contextlib.redirect_stdout(io.StringIO()):
                quantize_dynamic(source, target, weight_type=QuantType.QInt8)
            target.replace(source)
    finally:
        quiet.setLevel(level)
