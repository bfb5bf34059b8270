"""The speed tricks, behind one seam.

The model files (`encoder.py`, `attention.py`, `decoder.py`, `seq2seq.py`, `loss.py`) tell
the seq2seq story; everything they do faster than the textbook lives here, each trick with
a switch in `SWITCHES` and a test that it computes what the plain path computes
(`tests/model/kernels/`):

- `fused_rnn` (`rnn.py`): on the CPU, the steps all sequences of a padded batch share run
  as one fused RNN call and the rest cell by cell; off: packed sequences.
- `cell_steps` (`rnn.py`): one decoding step as cell ops with the layers' own weights; off:
  the fused RNN on a length-1 sequence.
- `fused_loss` (`loss.py`): label-smoothed cross-entropy and its gradient in one blockwise
  pass; off: autograd over log-softmax.
- `split_output_products` (`projection.py`): bf16 training on the CPU, the output layer's
  backward products laid out to use every core; off: `nn.Linear` through autograd.
- `fp32_attention_products` (`products.py`): on the CPU, attention's two batched products
  in fp32 (no oneDNN kernel compiled per shape); off: in the inputs' dtype.
- `integer_dropout` (`dropout.py`): dropout masks from 15-bit integers; off:
  `torch.nn.functional.dropout`.
- `packed_decoding` (`packed.py`): bf16 decoding copies with weights prepacked for oneDNN;
  off: plain bf16 modules.

`quantize.py` (int8 decoding copies) is a choice of the user (`--quantize int8`), not a
switch. Switches are process-wide; `plain()` turns them all off for a block (tests and
benchmarks use it to compare).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, fields


@dataclass
class Switches:
    fused_rnn: bool = True
    cell_steps: bool = True
    fused_loss: bool = True
    split_output_products: bool = True
    fp32_attention_products: bool = True
    integer_dropout: bool = True
    packed_decoding: bool = True


SWITCHES = Switches()


@contextlib.contextmanager
def switched(**changes: bool) -> Iterator[Switches]:
    """Set some switches for the block, e.g. `with switched(fused_loss=False): ...`."""
    unknown = set(changes) - {f.name for f in fields(Switches)}
    if unknown:
        raise ValueError(f"unknown kernel switch(es): {', '.join(sorted(unknown))}")
    before = {name: getattr(SWITCHES, name) for name in changes}
    try:
        for name, value in changes.items():
            setattr(SWITCHES, name, value)
        yield SWITCHES
    finally:
        for name, value in before.items():
            setattr(SWITCHES, name, value)


def plain() -> contextlib.AbstractContextManager[Switches]:
    """Every trick off for the block: the textbook path."""
    return switched(**{f.name: False for f in fields(Switches)})
