"""The precision policy (decided once, from what the hardware runs) and bf16 / int8 decoding
on a tiny trained run: well-formed output, close to fp32."""

import os
import platform
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import yaml

from seqattn import precision as policy
from seqattn.errors import SeqattnError
from seqattn.precision import Bf16Support, Precision, decide, probe_bf16
from seqattn.translator import Translator

from .capabilities import bf16_decoding
from .conftest import tiny_tree

SENTENCES = ["a b c d", "e f", "g h i j k l", "", "b"]


def _agreement(a, b) -> float:
    return float(np.mean([x.text == y.text for x, y in zip(a, b)]))


@pytest.mark.parametrize("beam", [1, 3])
@pytest.mark.parametrize("kind", [pytest.param({"precision": "bf16"}, marks=bf16_decoding),
                                  {"quantize": "int8"}])
def test_low_precision_decoding_is_well_formed_and_close_to_fp32(trained_run, kind, beam):
    fp32 = Translator.load(trained_run, device="cpu").translate(SENTENCES, beam=beam)
    low = Translator.load(trained_run, device="cpu", **kind).translate(SENTENCES, beam=beam)
    assert len(low) == len(SENTENCES)
    for t in low:
        assert isinstance(t.text, str)
        assert np.isfinite(t.score)
        att = t.attention
        assert att.shape == (len(t.tgt_tokens), len(t.src_tokens))
        assert np.allclose(att.sum(-1), 1.0, atol=1e-2)
    assert _agreement(fp32, low) >= 0.6
    assert np.mean([abs(a.score - b.score) for a, b in zip(fp32, low)]) < 0.5


@bf16_decoding
def test_frozen_decoding_copy_leaves_the_model_alone(trained_run):
    tr = Translator.load(trained_run, device="cpu", precision="bf16")
    assert all(p.dtype == torch.float32 for p in tr.model.parameters())
    q = Translator.load(trained_run, device="cpu", quantize="int8")
    assert all(p.dtype == torch.float32 for p in q.model.parameters())


CPU = torch.device("cpu")
NONE = Bf16Support(trains=False, decodes=False, native=False, detail="no bf16 LSTM kernel (test)")
EMULATED = Bf16Support(trains=True, decodes=True, native=False, detail="emulated (test)")
NATIVE = Bf16Support(trains=True, decodes=True, native=True, detail="native (test)")
DECODE_ONLY = Bf16Support(trains=False, decodes=True, native=False, detail="forward only (test)")


def with_probe(monkeypatch, support: Bf16Support) -> None:
    monkeypatch.setattr(policy, "probe_bf16", lambda device: support)


def test_explicit_names_and_unknown_names():
    assert decide("fp32", CPU).name == "fp32"
    probe = probe_bf16(CPU)
    assert decide("auto", CPU).name == ("bf16" if probe.native and probe.serves("train") else "fp32")
    with pytest.raises(SeqattnError, match="CUDA only"):
        decide("fp16", CPU)
    with pytest.raises(SeqattnError, match="unknown precision"):
        decide("fp8", CPU)


@pytest.mark.parametrize("support, train, decode", [(NONE, "fp32", "fp32"), (EMULATED, "fp32", "fp32"),
                                                    (DECODE_ONLY, "fp32", "fp32"),
                                                    (NATIVE, "bf16", "bf16")])
def test_auto_follows_the_probe(monkeypatch, support, train, decode):
    with_probe(monkeypatch, support)
    assert decide("auto", CPU, "train").name == train
    assert decide("auto", CPU, "decode").name == decode
    assert support.detail in decide("auto", CPU).why


def test_bf16_the_hardware_cannot_run_is_a_clear_error(monkeypatch):
    with_probe(monkeypatch, NONE)
    for purpose in ("train", "decode"):
        with pytest.raises(SeqattnError, match="cannot run bf16.*use precision fp32 or auto"):
            decide("bf16", CPU, purpose)
    with_probe(monkeypatch, DECODE_ONLY)  # decoding runs; training (and its validation) does not
    assert decide("bf16", CPU, "decode").name == "bf16"
    with pytest.raises(SeqattnError, match="cannot run bf16 training"):
        decide("bf16", CPU, "train")


def test_emulated_bf16_runs_with_a_warning(monkeypatch, caplog):
    with_probe(monkeypatch, EMULATED)
    assert decide("bf16", CPU).name == "bf16"
    assert "emulated" in caplog.text and "fp32 is faster" in caplog.text


def test_the_policy_carries_every_precision_decision():
    fp32, bf16 = Precision("fp32", CPU), Precision("bf16", CPU)
    assert (fp32.dtype, bf16.dtype) == (torch.float32, torch.bfloat16)
    assert fp32.decoding_dtype is None and bf16.decoding_dtype == torch.bfloat16
    assert (fp32.train_row_multiple, bf16.train_row_multiple) == (1, 64)
    assert (fp32.decode_row_multiple, bf16.decode_row_multiple) == (1, 8)
    assert not fp32.loss_scaling and not bf16.loss_scaling
    assert Precision("fp16", torch.device("cuda")).loss_scaling
    assert Precision("bf16", torch.device("cuda")).train_row_multiple == 1
    with fp32.autocast():
        assert not torch.is_autocast_enabled("cpu")
    with bf16.autocast():
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16


def test_probe_is_cached_and_leaves_the_random_state_alone():
    probe_bf16.cache_clear()
    torch.manual_seed(123)
    want = torch.rand(3)
    torch.manual_seed(123)
    first = probe_bf16(CPU)
    assert torch.equal(torch.rand(3), want)
    assert probe_bf16(CPU) is first
    assert first.native <= (first.trains and first.decodes)


@pytest.mark.parametrize("cap, amx, avx512_bf16, want", [
    (None, False, False, None),  # AVX2-only CPUs (Zen 3)
    (None, False, True, "AVX512-BF16"),  # Zen 4
    (None, True, True, "AMX"),  # Xeon with AMX
    ("AVX2", True, True, None),  # oneDNN capped below its bf16 instructions
    ("avx512_core", False, True, None),
    ("AVX512_CORE_BF16", False, True, "AVX512-BF16"),
    ("AVX512_CORE_AMX", True, True, "AMX"),
])
def test_native_bf16_is_read_from_the_instructions_and_the_onednn_cap(monkeypatch, cap, amx, avx512_bf16,
                                                                     want):
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    if cap is None:
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    else:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    assert policy._cpu_bf16_instructions() == want


def test_the_probe_times_nothing(monkeypatch):
    """A timed probe decided differently on a busy machine; this one cannot."""
    def no_clock():
        raise AssertionError("the probe read a clock")

    for clock in ("perf_counter", "monotonic", "time"):
        monkeypatch.setattr(time, clock, no_clock)
    found = probe_bf16.__wrapped__(CPU)
    assert found == probe_bf16(CPU)
    assert found.native == (found.trains and found.decodes and policy._cpu_bf16_instructions() is not None)


def test_translator_takes_a_decided_policy(trained_run, monkeypatch):
    tr = Translator.load(trained_run, device="cpu", precision="auto")
    assert tr.precision == tr.policy.name == decide("auto", CPU, "decode").name
    with_probe(monkeypatch, NONE)
    with pytest.raises(SeqattnError, match="cannot run bf16 decoding"):
        Translator.load(trained_run, device="cpu", precision="bf16")
    assert Translator.load(trained_run, device="cpu", precision="auto").precision == "fp32"
    # int8 replaces the precision: nothing is probed or refused
    assert Translator.load(trained_run, device="cpu", precision="bf16", quantize="int8").precision == "fp32"


def test_int8_without_a_quantized_engine_is_a_clear_error(trained_run, monkeypatch):
    monkeypatch.setattr("seqattn.decoding_copy.int8_engine", lambda: None)  # (the name it calls)
    with pytest.raises(SeqattnError, match="no quantized CPU engine"):
        Translator.load(trained_run, device="cpu", quantize="int8")


def test_unknown_quantization_is_a_clear_error(trained_run):
    with pytest.raises(SeqattnError, match="int8"):
        Translator.load(trained_run, device="cpu", quantize="int4")


@pytest.mark.parametrize("beam", [1, 3])
def test_batches_decoded_side_by_side_match_one_thread(trained_run, beam):
    tr = Translator.load(trained_run, device="cpu")
    sentences = [" ".join("abcdefghijkl"[j % 12] for j in range(i % 7 + 1)) for i in range(23)]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        alone = tr.translate(sentences, beam=beam, batch_size=4)
        torch.set_num_threads(2)
        side_by_side = tr.translate(sentences, beam=beam, batch_size=4)
        assert torch.get_num_threads() == 2  # restored after the worker threads
    finally:
        torch.set_num_threads(before)
    assert [t.text for t in side_by_side] == [t.text for t in alone]
    for a, b in zip(alone, side_by_side):
        assert a.score == pytest.approx(b.score, abs=1e-4)


AVX2_ONLY = {"ONEDNN_MAX_CPU_ISA": "AVX2"}  # oneDNN as on a CPU without AVX-512 (Zen 1-3, ...)
x86_only = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                              reason="ONEDNN_MAX_CPU_ISA=AVX2 imitates an x86 CPU")


def _seqattn(args: list[str], cwd, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seqattn", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env={**os.environ, **env}, stdin=subprocess.DEVNULL)


@x86_only
def test_on_an_avx2_only_cpu_forced_bf16_is_one_line_and_auto_trains(tmp_path):
    tree = tiny_tree(tmp_path / "data")
    tree["train"].update(max_steps=4, val_every=4, heatmaps=0)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(tree), encoding="utf-8")
    forced = _seqattn(["train", "tiny.yaml", "train.precision=bf16", "--out", "runs/bf16"], tmp_path,
                      AVX2_ONLY)
    assert forced.returncode == 2, forced.stderr
    assert forced.stderr.strip().splitlines()[-1].startswith(
        "seqattn: error: precision bf16: this CPU cannot run bf16 training")
    assert "Traceback" not in forced.stderr
    assert not (tmp_path / "runs").exists()  # nothing written, not even the parent folder
    auto = _seqattn(["train", "tiny.yaml", "train.precision=auto", "--out", "runs/auto"], tmp_path, AVX2_ONLY)
    assert auto.returncode == 0, auto.stderr
    log = (tmp_path / "runs" / "auto" / "train.log").read_text(encoding="utf-8")
    assert "precision fp32 (auto: oneDNN has no bf16 LSTM" in log
    decoded = _seqattn(["translate", "runs/auto", "--input", str(tmp_path / "data" / "test.src")],
                       tmp_path, AVX2_ONLY)
    assert decoded.returncode == 0 and len(decoded.stdout.splitlines()) == 20, decoded.stderr
