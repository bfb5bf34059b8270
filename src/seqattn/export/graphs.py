"""The model as two ONNX graphs: the encoder (with the bridge), and one decoder step.

    encoder.onnx       src (batch, src_len) int64, src_lengths (batch,) int64 ->
                       memory: values (batch, src_len, enc_out), keys (batch, src_len, key)
                       (only where the score projects them), mask (batch, src_len) bool;
                       state: hidden (batch, layers, dec_hidden), cell (LSTM), feed (input feeding)
    decoder_step.onnx  tokens (rows,), the state, the memory, k (1,) int64 -> logits (rows, vocab),
                       next_hidden, next_cell, next_feed, weights (rows, src_len) (with attention),
                       top_log_probs, top_ids (rows, k): each row's k best tokens, best first

The step's log-softmax and top-k run inside ONNX Runtime (`add_top_k`), so a search over the
exported model never handles a (rows, vocab) array in NumPy; `logits` stays an output for
forced scoring, and a search asks ONNX Runtime for the top-k outputs only.

Every state and memory array has its batch rows first (the model's RNN state is layers first:
transposed at the graph's edge). The memory may have fewer rows than the step: each memory
row then serves rows / batch consecutive decoder rows (a sentence's beam), as
`seqattn.model.decoder.Memory.group` does. Batch, rows and source length are dynamic.

Exported with PyTorch's TorchScript-based exporter (`dynamo=False`): it turns the encoder's
packed sequences into ONNX LSTM/GRU nodes with `sequence_lens`, so each source ends at its own
length, while `torch.export` (the dynamo exporter) cannot trace `pack_padded_sequence`'s
data-dependent lengths. The model's speed tricks are switched off while tracing (`plain()`):
the graphs hold the textbook computation.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from seqattn.deploy.manifest import ENCODER, STEP
from seqattn.model.decoder import DecoderState, Memory
from seqattn.model.kernels import plain
from seqattn.model.seq2seq import Seq2Seq

OPSET = 17
PROJECTED_KEYS = ("general", "additive")  # the score functions whose keys differ from the values


def graph_names(model: Seq2Seq) -> dict[str, list[str]]:
    """The names of the memory and state arrays the graphs pass (what the manifest lists). Without
    attention the step reads no memory, but the encoder still gives its states (the exporter
    cannot drop the padded output of a packed RNN) and the runtime carries them unread."""
    cfg = model.cfg
    memory = ["values", *(["keys"] if cfg.attention.type in PROJECTED_KEYS else []), "mask"]
    state = ["hidden", *(["cell"] if cfg.decoder.rnn == "lstm" else []),
             *(["feed"] if model.decoder.input_feeding else [])]
    return {"memory": memory, "state": state}


class EncoderGraph(nn.Module):
    """src, src_lengths -> the memory arrays, then the state arrays (`graph_names`' order)."""

    def __init__(self, model: Seq2Seq):
        super().__init__()
        self.model, self.names = model, graph_names(model)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
        memory, state, _ = self.model.encode(src, src_lengths)
        hidden, cell = state.hidden if isinstance(state.hidden, tuple) else (state.hidden, None)
        named = {"values": memory.values, "keys": memory.keys, "mask": memory.mask, "feed": state.feed,
                 "hidden": hidden.transpose(0, 1),
                 "cell": cell.transpose(0, 1) if cell is not None else None}
        return tuple(named[n] for n in self.names["memory"] + self.names["state"])


class StepGraph(nn.Module):
    """tokens, the state arrays, the memory arrays -> logits, the next state arrays, weights."""

    def __init__(self, model: Seq2Seq):
        super().__init__()
        self.decoder, self.names = model.decoder, graph_names(model)

    def forward(self, tokens: torch.Tensor, *arrays: torch.Tensor) -> tuple[torch.Tensor, ...]:
        named = dict(zip(self.names["state"] + self.names["memory"], arrays))
        hidden = named["hidden"].transpose(0, 1)
        if "cell" in named:
            hidden = (hidden, named["cell"].transpose(0, 1))
        memory = None
        if self.decoder.attention is not None:
            values = named["values"]
            group = tokens.size(0) // values.size(0)  # (traced: any beam)
            memory = Memory(values, named.get("keys", values), named["mask"], group)
        logits, state, weights = self.decoder.step(tokens, DecoderState(hidden, named.get("feed")), memory)
        hidden, cell = state.hidden if isinstance(state.hidden, tuple) else (state.hidden, None)
        out = {"hidden": hidden.transpose(0, 1), "cell": cell.transpose(0, 1) if cell is not None else None,
               "feed": state.feed}
        return (logits, *(out[n] for n in self.names["state"]), *([weights] if weights is not None else []))


def add_top_k(path: Path) -> None:
    """Append LogSoftmax and TopK to the step graph at `path`: the input `k` and the outputs
    `top_log_probs` (rows, k) fp32 and `top_ids` (rows, k) int64, best first (ties: lower id)."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(path))
    graph = model.graph
    graph.input.append(helper.make_tensor_value_info("k", TensorProto.INT64, [1]))
    graph.node.extend([
        helper.make_node("LogSoftmax", ["logits"], ["log_probs"], name="step_log_softmax", axis=-1),
        helper.make_node("TopK", ["log_probs", "k"], ["top_log_probs", "top_ids"], name="step_top_k",
                         axis=-1, largest=1, sorted=1)])
    graph.output.extend([helper.make_tensor_value_info("top_log_probs", TensorProto.FLOAT, ["rows", "k"]),
                         helper.make_tensor_value_info("top_ids", TensorProto.INT64, ["rows", "k"])])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's Python warnings and its C++ notes on stderr (file descriptor 2) held back:
    they speak of the tracer's internals, not of anything the user can change."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def export_graphs(model: Seq2Seq, folder: Path) -> dict:
    """Write ENCODER and STEP into `folder`; returns the manifest's `graphs` entry."""
    model = model.eval()
    names = graph_names(model)
    memory, state = names["memory"], names["state"]
    attention = model.decoder.attention is not None
    step_memory = memory if attention else []
    src = torch.tensor([[5, 6, 7, 8, 3], [9, 10, 3, 0, 0]])  # (unequal lengths: packing is traced)
    src_lengths = torch.tensor([5, 3])
    batch = {0: "batch"}
    with plain(), torch.no_grad(), _quiet():
        src = src.clamp(max=model.encoder.embedding.num_embeddings - 1)
        encoder = EncoderGraph(model).eval()  # (export restores the wrapper's mode on the model)
        encoded = encoder(src, src_lengths)
        torch.onnx.export(
            encoder, (src, src_lengths), str(folder / ENCODER), dynamo=False, opset_version=OPSET,
            input_names=["src", "src_lengths"], output_names=memory + state,
            dynamic_axes={"src": {0: "batch", 1: "src_len"}, "src_lengths": batch,
                          **{n: {0: "batch", 1: "src_len"} for n in memory},
                          **{n: batch for n in state}})
        by_name = dict(zip(memory + state, encoded))
        rows = 2  # decoder rows per memory row while tracing: the group is traced, not fixed
        step_state = [by_name[n].repeat_interleave(rows, 0) for n in state]
        tokens = torch.full((src.size(0) * rows,), 4, dtype=torch.long)
        outputs = ["logits", *(f"next_{n}" for n in state), *(["weights"] if attention else [])]
        torch.onnx.export(
            StepGraph(model).eval(), (tokens, *step_state, *(by_name[n] for n in step_memory)),
            str(folder / STEP),
            dynamo=False, opset_version=OPSET, input_names=["tokens", *state, *step_memory],
            output_names=outputs,
            dynamic_axes={"tokens": {0: "rows"}, **{n: {0: "rows"} for n in state},
                          **{n: {0: "batch", 1: "src_len"} for n in step_memory},
                          **{n: {0: "rows"} for n in outputs if n != "weights"},
                          **({"weights": {0: "rows", 1: "src_len"}} if attention else {})})
    add_top_k(folder / STEP)
    return {"encoder": ENCODER, "step": STEP, "memory": memory, "state": state, "attention": attention,
            "opset": OPSET}
