"""`seqattn export RUN --out DIR`: a run directory's model as a folder that runs without torch.

The folder (laid out in `seqattn.deploy.manifest`) is built in a temporary folder beside DIR:
the two graphs (`graphs.py`; with `quantize='int8'`, quantized by ONNX Runtime: `quantize.py`),
the run's vocabulary files and the manifest; it is then loaded as a reader would load it and
decoded against the PyTorch model (`verify.py`, within the quantization's tolerance), and renamed
into place only when the two agree. So DIR appears whole or not at all, and a refusal is one
line. One writer per DIR (`seqattn.lock`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np

from seqattn import stopping
from seqattn.atomic import atomic_write_text, fsync_dir, make_dirs
from seqattn.config import Config
from seqattn.data.subword import EOS_ID, PAD_ID, SOS_ID, UNK_ID, Subwords
from seqattn.deploy.manifest import FORMAT, MANIFEST, VERSION, is_export, manifest_files, sha256_file
from seqattn.deploy.translator import ExportedTranslator
from seqattn.errors import SeqattnError
from seqattn.export.graphs import export_graphs
from seqattn.export.quantize import quantize_graphs
from seqattn.export.verify import disagreement
from seqattn.lock import WriterLock
from seqattn.model.seq2seq import Seq2Seq
from seqattn.rundir import RunDir, vocab_files
from seqattn.version import __version__
from seqattn.weights import load_weights

INTERRUPTED = "(nothing kept: its temporary folder is removed, DIR left as it was)"
VERIFY_SENTENCES = 16  # dev sentences decoded both ways before publishing (plus a few made-up ones)


def _check_out(out: Path, run: RunDir) -> None:
    if out.exists() and not out.is_dir():
        raise SeqattnError(f"{out}: exists and is not a folder (give another --out)")
    if out.is_dir() and any(out.iterdir()):
        raise SeqattnError(f"{out}: already exists and is not empty (give another --out)")
    if out.resolve() == run.path.resolve() or run.path.resolve() in out.resolve().parents:
        raise SeqattnError(f"{out}: inside the run directory {run.path} (give a folder outside it)")


def check_sources(cfg: Config, subwords: Subwords, limit: int = VERIFY_SENTENCES) -> list[list[int]]:
    """Sources to verify on: the run's first dev sentences when its dev file is still readable,
    its sample sentences, and four made-up ones of 1, 3, 7 and 12 subwords (batch shapes)."""
    from seqattn.data.corpus import read_corpus

    texts = list(cfg.train.samples)
    if cfg.data.dev is not None:
        try:
            texts = read_corpus(cfg.data.dev).src[:limit] + texts
        except SeqattnError:
            pass  # (the dev file moved since training: the samples and made-up ones still check)
    ids = [s for s in subwords.encode_src([" ".join(t.split()) for t in texts]) if s][:limit]
    rng = np.random.default_rng(0)
    made_up = [rng.integers(4, subwords.src_vocab_size, n).tolist() for n in (1, 3, 7, 12)]
    return [list(map(int, s)) for s in ids + made_up]


def _manifest(cfg: Config, model: Seq2Seq, subwords: Subwords, graphs: dict, weights: Path,
              quantize: str | None) -> dict[str, Any]:
    import onnxruntime
    import torch

    m = cfg.model
    return {
        "format": FORMAT, "version": VERSION, "seqattn": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "opset": graphs.pop("opset"), "onnxruntime": onnxruntime.__version__, "torch": torch.__version__,
        "quantization": quantize,
        "special_ids": {"pad": PAD_ID, "unk": UNK_ID, "sos": SOS_ID, "eos": EOS_ID},
        "config": cfg.model_dump(mode="json"),  # (the run's config: decoding defaults, names, languages)
        "model": {"encoder": m.encoder.model_dump(mode="json"), "decoder": m.decoder.model_dump(mode="json"),
                  "attention": m.attention.type, "src_vocab": subwords.src_vocab_size,
                  "tgt_vocab": subwords.tgt_vocab_size, "parameters": model.num_parameters()},
        "vocabulary": {"kinds": list(subwords.kinds), "joint": subwords.joint},
        "graphs": graphs,
        "weights_sha256": sha256_file(weights),
    }


def export_run(run_dir: str | Path, out: str | Path, quantize: str | None = None) -> dict[str, Any]:
    """Export the run at `run_dir` (its best weights, fp32; int8 graphs with `quantize='int8'`)
    to the new folder `out`; returns the manifest written. Nothing is left at `out` unless the
    graphs agree with the model."""
    for needed in ("onnx", "onnxruntime"):
        try:
            __import__(needed)
        except ImportError:
            raise SeqattnError(f"seqattn export needs {needed}, which is not installed: "
                               "pip install onnx onnxruntime") from None
    if is_export(run_dir):
        raise SeqattnError(f"{run_dir} is an exported model, not a run directory: export the run it was "
                           "exported from")
    run, out = RunDir.open(run_dir), Path(out)
    cfg = run.read_config()
    subwords = Subwords.load(run.path)
    if not run.weights.is_file():
        raise SeqattnError(f"{run.weights}: no weights yet (has the run validated once?)")
    model = Seq2Seq(cfg.model, subwords.src_vocab_size, subwords.tgt_vocab_size)
    load_weights(model, run.weights)
    model.eval()
    _check_out(out, run)
    make_dirs(out.parent)
    tmp = out.with_name(f".{out.name}.tmp-{socket.gethostname()}-{os.getpid()}")
    with WriterLock(out.parent / f".{out.name}.lock", out, "exported folder"), \
            stopping.on_stop(lambda: shutil.rmtree(tmp, ignore_errors=True), INTERRUPTED):
        _check_out(out, run)  # (again, holding the lock)
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tmp.mkdir()
            graphs = export_graphs(model, tmp)
            if quantize:
                quantize_graphs(tmp, [graphs["encoder"], graphs["step"]])
            for path in vocab_files(run.path):
                shutil.copyfile(path, tmp / path.name)
            manifest = _manifest(cfg, model, subwords, graphs, run.weights, quantize)
            manifest["files"] = manifest_files(tmp)
            atomic_write_text(tmp / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))
            exported = ExportedTranslator.load(tmp, threads=1)  # (checked as a reader checks it)
            problem = disagreement(model, exported.stepper, check_sources(cfg, subwords), cfg.decode,
                                   quantize)
            if problem:
                raise SeqattnError(f"{run.path}: the exported graphs disagree with the PyTorch model "
                                   f"({problem}); nothing was written")
            if out.is_dir():
                out.rmdir()  # (empty: checked above)
            os.replace(tmp, out)
            fsync_dir(out.parent)
        except OSError as exc:
            raise SeqattnError(f"{out}: cannot write the exported model ({exc.strerror or exc})") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return manifest
