"""Skip markers for tests that need a capability of the machine, each naming what is missing."""

import pytest
import torch

from seqattn.precision import probe_bf16

_CPU_BF16 = probe_bf16(torch.device("cpu"))

bf16_training = pytest.mark.skipif(
    not _CPU_BF16.trains, reason=f"needs a CPU that trains a bf16 LSTM: {_CPU_BF16.detail}")
bf16_decoding = pytest.mark.skipif(
    not _CPU_BF16.decodes, reason=f"needs a CPU that runs a bf16 LSTM: {_CPU_BF16.detail}")
