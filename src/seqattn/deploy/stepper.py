"""An exported model as a stepper: the two ONNX graphs run by ONNX Runtime, over NumPy arrays.

The same two calls a search makes of `seqattn.search.TorchStepper`: `encode` a batch once
(the attention memory and the decoder's first state), then `step` every row one token. Every
array of the state and of the memory has its batch rows first, so selecting rows is one
`array[index]`; with `grouped(g)`, each memory row serves g consecutive decoder rows (a
sentence's beam), as in `seqattn.model.decoder.Memory`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqattn.deploy.search import log_softmax, topk
from seqattn.errors import SeqattnError


@dataclass
class Rows:
    """Named arrays, batch rows first: the decoder's state, or (with `group`) the memory."""

    arrays: dict[str, np.ndarray]
    group: int = 1

    def index_select(self, index: np.ndarray) -> Rows:
        return Rows({name: a[index] for name, a in self.arrays.items()}, self.group)

    def grouped(self, group: int) -> Rows:
        return Rows(self.arrays, group)


# The first ONNX Runtime release that implements each ONNX opset (ONNX Runtime's compatibility
# table, onnxruntime.ai/docs/reference/compatibility.html). An opset newer than the table is not
# judged here: loading the graph then says whether this ONNX Runtime can run it.
OPSET_SINCE = {15: (1, 10), 16: (1, 11), 17: (1, 12), 18: (1, 14), 19: (1, 15), 20: (1, 17), 21: (1, 18),
               22: (1, 21)}


def _release(version: str) -> tuple[int, int] | None:
    """'1.17.3' (or '1.18.0.dev2024') -> (1, 17); None when it does not start with two numbers."""
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def check_opset(folder: Path, opset: Any) -> None:
    """Refuse, before any graph is loaded, an export whose opset the installed ONNX Runtime is
    older than (by `OPSET_SINCE`); an opset or a version the table cannot judge passes here."""
    import onnxruntime as ort

    release = _release(str(ort.__version__))
    needed = OPSET_SINCE.get(opset) if isinstance(opset, int) else None
    if release is not None and needed is not None and release < needed:
        raise SeqattnError(f"{folder}: exported with ONNX opset {opset}, which ONNX Runtime "
                           f"{ort.__version__} cannot run (opset {opset} needs {needed[0]}.{needed[1]} or "
                           "newer): pip install --upgrade onnxruntime")


def _session(path: Path, threads: int | None, opset: Any):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # (ONNX Runtime raises its own exception types, several of them)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SeqattnError(f"{path}: ONNX Runtime {ort.__version__} cannot load this graph (opset {opset}): "
                           f"{first}") from None


class OnnxStepper:
    """The encoder and decoder-step graphs of an exported folder, as a stepper."""

    def __init__(self, folder: Path, graphs: dict[str, Any], opset: Any, threads: int | None = None):
        self.state_names: list[str] = list(graphs["state"])
        self.memory_names: list[str] = list(graphs["memory"])
        self.has_attention = bool(graphs["attention"])
        check_opset(folder, opset)
        self.encoder = _session(folder / graphs["encoder"], threads, opset)
        self.decoder = _session(folder / graphs["step"], threads, opset)
        self._step_inputs = {i.name for i in self.decoder.get_inputs()}
        self.top_k_in_graph = "k" in self._step_inputs  # (exports before format 2: NumPy does it)
        self.vocab = int(self.decoder.get_outputs()[0].shape[-1])  # (logits: rows, vocab)
        after = [f"next_{n}" for n in self.state_names] + (["weights"] if self.has_attention else [])
        self._full_outputs, self._top_outputs = ["logits", *after], ["top_log_probs", "top_ids", *after]

    def encode(self, src: np.ndarray, src_lengths: np.ndarray) -> tuple[Rows, Rows]:
        """src (batch, src_len) int64, src_lengths (batch,) int64 -> the memory and the first state."""
        feeds = {"src": src.astype(np.int64), "src_lengths": src_lengths.astype(np.int64)}
        out = self.encoder.run(None, feeds)
        named = dict(zip((o.name for o in self.encoder.get_outputs()), out))
        return (Rows({n: named[n] for n in self.memory_names}),
                Rows({n: named[n] for n in self.state_names}))

    def _run(self, outputs: list[str], tokens: np.ndarray, state: Rows, memory: Rows, k: int) -> list:
        feeds = {"tokens": tokens.astype(np.int64), **state.arrays}
        feeds.update((n, a) for n, a in memory.arrays.items() if n in self._step_inputs)
        if "k" in self._step_inputs:
            feeds["k"] = np.array([k], dtype=np.int64)
        return self.decoder.run(outputs, feeds)

    def _rest(self, rest: list) -> tuple[Rows, np.ndarray | None]:
        new_state = Rows(dict(zip(self.state_names, rest[: len(self.state_names)])))
        return new_state, (rest[len(self.state_names)] if self.has_attention else None)

    def step(self, tokens: np.ndarray, state: Rows, memory: Rows
             ) -> tuple[np.ndarray, Rows, np.ndarray | None]:
        """tokens (rows,) -> logits (rows, vocab) fp32, the new state, weights (rows, src_len) or None."""
        out = self._run(self._full_outputs, tokens, state, memory, 1)
        return (out[0], *self._rest(out[1:]))

    def step_top(self, tokens: np.ndarray, state: Rows, memory: Rows, k: int
                 ) -> tuple[np.ndarray, np.ndarray, Rows, np.ndarray | None]:
        """tokens (rows,) -> each row's k best log-probabilities (rows, k) fp32 and their token ids
        (rows, k) int64, best first; the new state; weights (rows, src_len) or None."""
        if not self.top_k_in_graph:
            logits, new_state, weights = self.step(tokens, state, memory)
            return (*topk(log_softmax(logits), k), new_state, weights)
        out = self._run(self._top_outputs, tokens, state, memory, k)
        return (out[0], out[1], *self._rest(out[2:]))


class CallingEachStep:
    """A stepper around another that calls `on_step()` before every step (the server's heavy lane
    steps aside there), as `seqattn.search.EachStep` observes a PyTorch search."""

    def __init__(self, stepper: OnnxStepper, on_step: Any):
        self.stepper, self.on_step = stepper, on_step
        self.has_attention, self.vocab = stepper.has_attention, stepper.vocab

    def encode(self, src: np.ndarray, src_lengths: np.ndarray) -> tuple[Rows, Rows]:
        return self.stepper.encode(src, src_lengths)

    def step(self, tokens: np.ndarray, state: Rows, memory: Rows
             ) -> tuple[np.ndarray, Rows, np.ndarray | None]:
        self.on_step()
        return self.stepper.step(tokens, state, memory)

    def step_top(self, tokens: np.ndarray, state: Rows, memory: Rows, k: int
                 ) -> tuple[np.ndarray, np.ndarray, Rows, np.ndarray | None]:
        self.on_step()
        return self.stepper.step_top(tokens, state, memory, k)
