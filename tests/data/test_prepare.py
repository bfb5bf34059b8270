"""`seqattn prepare`: sharded, memory-mapped training data, and streaming from it."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from seqattn.cli import main
from seqattn.config import build_config
from seqattn.data.pipeline import load_prepared, load_splits, prepare_data
from seqattn.data.prepare import prepare_corpus
from seqattn.data.shards import ShardedSplit, read_manifest
from seqattn.errors import SeqattnError
from seqattn.train import train
from seqattn.train.checkpoint import latest_checkpoint
from seqattn.weights import read_tensors
from tests.conftest import synthetic_pairs, tiny_config, tiny_tree, write_pairs
from tests.processes import started


def _corpus(tmp_path, n=300):
    """A tiny config whose training corpus has empty and over-long pairs in it."""
    cfg = tiny_config(tmp_path / "data", ["data.max_len=40"])
    pairs = synthetic_pairs(n, seed=5, max_len=6)
    pairs[3] = ("", "ALPHA")
    pairs[10] = ("alpha " * 12, "ALPHA")
    pairs[n - 1] = ("   ", "   ")
    files = write_pairs(tmp_path / "data", "mixed", pairs)
    cfg.data.train.src, cfg.data.train.tgt = files["src"], files["tgt"]
    return cfg


def test_prepared_data_equals_the_in_memory_encoding(tmp_path):
    cfg = _corpus(tmp_path)
    result = prepare_corpus(cfg, tmp_path / "prep", workers=2, shard_pairs=37)
    assert not result.reused and len(result.manifest["shards"]) == 9
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    memory = prepare_data(cfg.data, load_splits(cfg.data), tmp_path / "a", cfg.train.seed, False)
    streamed = load_prepared(cfg, tmp_path / "prep", tmp_path / "b", reuse=False, build=False)
    assert (tmp_path / "a" / "spm.model").read_bytes() == (tmp_path / "b" / "spm.model").read_bytes()
    assert len(streamed.train) == len(memory.train) == result.manifest["pairs"]
    for ours, theirs in zip(streamed.train.lengths(), memory.train.lengths()):
        assert np.array_equal(ours, theirs)
    every = list(range(len(memory.train)))[::-1]
    for ours, theirs in zip(streamed.train.pairs(every), memory.train.pairs(every)):
        assert [list(x) for x in ours] == theirs
    assert result.manifest["skipped"] == {"empty": 2, "too_long": 1}
    rows = (tmp_path / "prep" / "skipped.tsv").read_text().splitlines()
    assert rows[0] == "line\treason\tdetail" and [r.split("\t")[:2] for r in rows[1:]] == [
        ["4", "empty"], ["11", "too_long"], ["300", "empty"]]
    lines = [streamed.train.line(i) for i in range(len(streamed.train))]
    assert sorted(lines + [4, 11, 300]) == list(range(1, 301))


def test_a_split_by_source_holds_out_what_the_in_memory_split_does(tmp_path):
    pairs = [(w, f"{w.upper()} {k}") for w in ("ab", "cd", "ef", "gh", "ij", "kl", "mn", "op", "qr", "st")
             for k in range(1 + len(w) % 3 + ord(w[0]) % 2)]  # 1 to 3 lines per source
    pairs = [pairs[i] for i in np.random.default_rng(0).permutation(len(pairs))]
    files = write_pairs(tmp_path / "data", "words", pairs)
    cfg = tiny_config(tmp_path / "data", [f"data.train.src={files['src']}", f"data.train.tgt={files['tgt']}",
                                          "data.dev=null", "data.test=null", "data.split.dev_size=2",
                                          "data.split.test_size=3", "data.split.by_source=true"])
    m = prepare_corpus(cfg, tmp_path / "prep", workers=1, shard_pairs=4).manifest
    _, dev, test = load_splits(cfg.data)
    assert m["held_out"] == {"dev": len(dev.src), "test": len(test.src)}
    for name, split in (("dev", dev), ("test", test)):
        assert (tmp_path / "prep" / f"{name}.src").read_text().splitlines() == split.src
        assert len(set(split.src)) == (2 if name == "dev" else 3)
    assert m["pairs"] == len(pairs) - len(dev.src) - len(test.src)


def test_unreadable_lines_are_skipped_and_recorded(tmp_path):
    rows = [f"{t}\t{s}" for s, t in synthetic_pairs(60, seed=4)]
    rows[2] = "\udcffBAD\talpha"  # becomes an invalid UTF-8 byte below
    rows[5] = "BAD\talpha \x00 beta"
    rows[7] = rows[7] + "\r"  # a CRLF line end is fine
    rows[9] = "ONE COLUMN ONLY"
    rows[12] = "A\rB\tbeta"
    raw = ("\ufeff" + "\n".join(rows)).encode("utf-8", "surrogateescape")  # BOM; no final newline
    path = tmp_path / "corpus.tsv.gz"
    path.write_bytes(gzip.compress(raw))
    tree = tiny_tree(tmp_path / "data")
    tree["data"] = {**tree["data"], "train": {"tsv": str(path), "src_column": 1, "tgt_column": 0},
                    "dev": None, "test": None, "split": {"dev_size": 5, "test_size": 5}}
    m = prepare_corpus(build_config(tree), tmp_path / "prep", workers=1, shard_pairs=16).manifest
    held = set(np.random.default_rng(1234).permutation(60)[:10] + 1)  # as split_corpus picks them
    expected = {line: why for line, why in [(3, "invalid_utf8"), (6, "nul_byte"), (10, "missing_columns"),
                                            (13, "carriage_return")] if line not in held}
    assert m["lines"] == 60 and m["held_out"] == {"dev": 5, "test": 5}
    assert m["pairs"] == 60 - 10 - len(expected) and sum(m["skipped"].values()) == len(expected)
    skipped = {int(r.split("\t")[0]): r.split("\t")[1] for r in
               (tmp_path / "prep" / "skipped.tsv").read_text().splitlines()[1:]}
    assert skipped == expected and len(expected) >= 3
    assert len((tmp_path / "prep" / "dev.src").read_text().splitlines()) == 5


def test_unchanged_input_is_reused_and_changed_input_rebuilt(tmp_path):
    cfg = _corpus(tmp_path, n=120)
    first = prepare_corpus(cfg, tmp_path / "prep", workers=1, shard_pairs=50)
    stamp = (tmp_path / "prep" / "manifest.json").stat().st_mtime_ns
    again = prepare_corpus(cfg, tmp_path / "prep", workers=1, shard_pairs=50)
    assert again.reused and again.manifest == first.manifest
    assert (tmp_path / "prep" / "manifest.json").stat().st_mtime_ns == stamp
    src = cfg.data.train.src
    os.utime(src, ns=(stamp + 10**9, stamp + 10**9))  # a new time stamp, the same content: reused
    assert prepare_corpus(cfg, tmp_path / "prep", workers=1).reused
    with open(src, encoding="utf-8") as fh:
        text = fh.read()
    with open(src, "w", encoding="utf-8") as fh:
        fh.write(text.replace("alpha", "beta", 1))
    changed = prepare_corpus(cfg, tmp_path / "prep", workers=1)
    assert not changed.reused and changed.manifest["key"] != first.manifest["key"]
    cfg.data.max_len = 30
    assert not prepare_corpus(cfg, tmp_path / "prep", workers=1).reused
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "prep"]  # no temporary folders left


def test_an_interrupted_prepare_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    cfg = _corpus(tmp_path, n=120)
    out = tmp_path / "prep"
    import seqattn.data.prepare as prepare_module

    real = prepare_module._encode_block
    calls = []

    def dying(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(prepare_module, "_encode_block", dying)
    with pytest.raises(KeyboardInterrupt):
        prepare_corpus(cfg, out, workers=1, shard_pairs=40)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    monkeypatch.setattr(prepare_module, "_encode_block", real)
    # a killed prepare leaves its temporary folder (manifest and all) under another name
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".prep.tmp-{socket.gethostname()}-{dead.pid}"
    stale.mkdir()
    (stale / "manifest.json").write_text("{}")
    assert read_manifest(out) is None
    with pytest.raises(SeqattnError, match="no prepared data"):
        ShardedSplit(out)
    m = prepare_corpus(cfg, out, workers=1).manifest
    assert m["pairs"] + sum(m["skipped"].values()) == 120 and read_manifest(out) == m
    assert not stale.exists()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(SeqattnError, match="is not prepared data"):
        prepare_corpus(cfg, tmp_path / "other")


def _final_weights(run):
    return read_tensors(latest_checkpoint(run / "checkpoints") / "model.safetensors")


def test_streamed_training_equals_in_memory_training_and_resumes(tmp_path):
    common = ["train.val_every=4", "train.heatmaps=0", "train.samples=[]", "train.batch_size=8",
              "model.encoder.dropout=0.2", "data.test=null"]
    memory = tiny_config(tmp_path / "data", [*common, "train.max_steps=8", "data.stream_above_mb=null"])
    train(memory, tmp_path / "memory")
    # a tiny stream_above_mb makes train prepare RUN/prepared and stream from it
    streamed = tiny_config(tmp_path / "data", [*common, "train.max_steps=4", "data.stream_above_mb=1e-6"])
    train(streamed, tmp_path / "stream")
    assert read_manifest(tmp_path / "stream" / "prepared")["pairs"] == 200
    streamed.train.max_steps = 8
    train(streamed, tmp_path / "stream", resume=True)
    ours, theirs = _final_weights(tmp_path / "stream"), _final_weights(tmp_path / "memory")
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    best = [json.loads((tmp_path / r / "best.json").read_text()) for r in ("stream", "memory")]
    assert best[0] == best[1]


def test_prepare_command(tmp_path, capsys):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(yaml.safe_dump(tiny_tree(tmp_path / "data")))
    assert main(["prepare", str(cfg_file), "--out", str(tmp_path / "prep"), "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "200 training pairs of 200 lines" in out and f"data.prepared={tmp_path / 'prep'}" in out
    assert main(["prepare", str(cfg_file), "--out", str(tmp_path / "prep")]) == 0
    assert "up to date (reused)" in capsys.readouterr().out
    assert main(["prepare", str(cfg_file)]) == 2
    assert "give --out DATA_DIR" in capsys.readouterr().err
    assert os.listdir(tmp_path / "prep" / "shards")


def test_prepare_out_naming_a_file_is_refused_and_the_file_kept(tmp_path, capsys):
    cfg = tiny_config(tmp_path / "data")
    for out in (tmp_path / "data" / "train.src", tmp_path / "data" / "train.src" / "sub"):
        before = (tmp_path / "data" / "train.src").read_bytes()
        with pytest.raises(SeqattnError, match=r"train.src: (exists and is not a directory \(give another "
                           r"--out or data.prepared\)|cannot create folder \(a file is in the way\))"):
            prepare_corpus(cfg, out)
        assert (tmp_path / "data" / "train.src").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        f"{split}.{side}" for split in ("dev", "test", "train") for side in ("src", "tgt")]


def test_a_small_gzip_holding_a_large_corpus_is_streamed(tmp_path):
    """The streaming threshold compares the corpus as text, not its compressed size."""
    import gzip

    from seqattn.data.pipeline import stream_folder
    from tests.conftest import tiny_config

    line = b"alpha beta gamma delta omega sigma kappa theta\n"
    for side in ("src", "tgt"):
        with gzip.open(tmp_path / f"big.{side}.gz", "wb") as fh:
            fh.write(line * 40_000)  # 1.9 MB of text, a few KB compressed
    assert (tmp_path / "big.src.gz").stat().st_size < 50_000
    cfg = tiny_config(tmp_path / "data", [f"data.train.src={tmp_path / 'big.src.gz'}",
                                          f"data.train.tgt={tmp_path / 'big.tgt.gz'}",
                                          "data.stream_above_mb=2"])
    assert stream_folder(cfg.data, tmp_path / "prepared") == tmp_path / "prepared"  # 3.8 MB > 2 MB
    small = cfg.model_copy(update={"data": cfg.data.model_copy(update={"stream_above_mb": 5})})
    assert stream_folder(small.data, tmp_path / "prepared") is None


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return False
    except ProcessLookupError:
        return True


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_a_signal_stops_prepare_at_once_and_leaves_nothing(tmp_path, signum):
    import signal
    import time

    pairs = synthetic_pairs(2000, seed=9) * 200  # 400,000 lines: several seconds of encoding
    tree = tiny_tree(tmp_path / "data")
    tree["data"]["train"] = write_pairs(tmp_path / "data", "big", pairs)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tree))
    out = tmp_path / "prep"
    cmd = [sys.executable, "-m", "seqattn", "prepare", str(tmp_path / "c.yaml"), "--out", str(out),
           "--workers", "2"]
    with started(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".prep.tmp-*/shards/*.npy")):  # encoding has begun
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1].decode()[-2000:]
            time.sleep(0.05)
        sent = time.monotonic()
        if signum == "SIGINT":  # Ctrl-C reaches the whole foreground group
            os.killpg(proc.pid, signal.SIGINT)
        else:  # `kill PID` reaches the main process only
            proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        gone_by = time.monotonic() + 10  # (a generous bound: prepare reaps what it kills)
        while not _group_gone(proc.pid) and time.monotonic() < gone_by:
            time.sleep(0.05)
        assert _group_gone(proc.pid), "an encoding process outlived prepare"
    err = err.decode()
    assert proc.returncode == 130 and time.monotonic() - sent < 10
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("seqattn: interrupted")
    assert not out.exists() and not list(tmp_path.glob(".prep.tmp-*"))
    assert not (tmp_path / ".prep.lock").exists()  # released: the next prepare takes nothing over
