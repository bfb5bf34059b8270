"""The verb that ships a model: `export` (a run directory -> a folder that runs without torch)."""

from __future__ import annotations

import argparse
import sys

from seqattn.flags import add_quantize_argument


def add_parsers(verbs) -> None:
    ex = verbs.add_parser("export", help="export a run as ONNX graphs that run without torch",
                          description="Write a self-contained folder: the encoder and one decoder step as "
                          "ONNX graphs (the run's best weights, fp32), the vocabulary files and a manifest "
                          "with every file's SHA-256. The graphs are checked against the PyTorch model "
                          "before the folder appears; it appears whole or not at all. Load it with "
                          "seqattn.load(DIR): NumPy, ONNX Runtime and SentencePiece only.")
    ex.add_argument("run_dir", metavar="RUN_DIR")
    ex.add_argument("--out", required=True, metavar="DIR",
                    help="the new folder (must not exist, or be empty)")
    add_quantize_argument(ex, "int8: ONNX Runtime's dynamic quantization of the graphs (int8 weights, "
                          "checked against the model within a looser tolerance; see docs/DEPLOY.md)")


def _cmd_export(a: argparse.Namespace) -> int:
    from seqattn.export import export_run

    manifest = export_run(a.run_dir, a.out, quantize=a.quantize)
    graphs = f"{a.quantize} graphs, " if a.quantize else ""
    print(f"exported {a.run_dir} to {a.out}: {len(manifest['files']) + 1} files, {graphs}"
          f"opset {manifest['opset']}, "
          f"checked against PyTorch with ONNX Runtime {manifest['onnxruntime']}", file=sys.stderr)
    return 0


COMMANDS = {"export": _cmd_export}
