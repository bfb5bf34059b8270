"""`seqattn prepare`: encode a corpus of any size once, into memory-mapped shards.

Three passes over the training files, none of which holds the corpus in memory:
  1. hash the content and count lines (decides whether an existing folder is up to date);
  2. read a bounded, seeded sample and train SentencePiece on it (and set the dev and test
     pairs aside when they are carved out of the training corpus);
  3. encode blocks of lines in parallel worker processes, each writing one shard.
Everything is written into a temporary folder next to the target; `manifest.json` is written
last and the folder is renamed into place, so an interrupted run leaves nothing that looks
complete. Skipped lines are listed, with the reason, in `skipped.tsv`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import time
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from seqattn import stopping
from seqattn.atomic import atomic_write_text, fsync_dir, make_dirs
from seqattn.config import Config, CorpusSpec
from seqattn.data.blocks import aligned_blocks, block_pairs, cpu_count, digest, input_files
from seqattn.data.corpus import split_lines
from seqattn.data.shards import FORMAT, MANIFEST, SHARDS, read_manifest, shard_file
from seqattn.data.subword import Subwords
from seqattn.errors import SeqattnError
from seqattn.lock import WriterLock

log = logging.getLogger("seqattn")
SIDES = ("src", "tgt")
INTERRUPTED = "(nothing kept: its temporary folder is removed, a prepared folder left as it was)"


@dataclass
class PrepareResult:
    folder: Path
    reused: bool  # the folder was already up to date
    manifest: dict[str, Any]
    seconds: float


# ----------------------------------------------------------------------------- workers
_WORKER: dict[str, Any] = {}


def _init_worker(blobs: tuple[bytes, bytes | None], spec: CorpusSpec, max_len: int, folder: str) -> None:
    if multiprocessing.parent_process() is not None:  # a worker: Ctrl-C is the parent's to handle
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    subwords = Subwords(*blobs)
    vocab = max(subwords.src_vocab_size, subwords.tgt_vocab_size)
    _WORKER.update(subwords=subwords, spec=spec, max_len=max_len, folder=Path(folder),
                   tokens=np.uint16 if vocab <= 1 << 16 else np.uint32,
                   lengths=np.uint16 if max_len < 1 << 16 else np.uint32)


def _save(path: Path, array: np.ndarray) -> None:
    with path.open("wb") as fh:
        np.save(fh, array)
        fh.flush()
        os.fsync(fh.fileno())


def _encode_block(shard: str, first: int, n: int, src_block: bytes, tgt_block: bytes | None,
                  held: np.ndarray) -> dict[str, Any]:
    """Encode one block of lines into shard `shard`; returns its counts."""
    w = _WORKER
    src, tgt, bad = block_pairs(w["spec"], n, src_block, tgt_block)
    todo = [i for i in range(n) if not held[i] and i not in bad and src[i] and tgt[i]]
    skipped = {i: (reason, "") for i, reason in bad.items() if not held[i]}
    skipped.update({i: ("empty", "") for i in range(n) if not held[i] and i not in bad
                    and not (src[i] and tgt[i])})
    src_ids = w["subwords"].src.encode([src[i] for i in todo], num_threads=1)
    tgt_ids = w["subwords"].tgt.encode([tgt[i] for i in todo], num_threads=1)
    keep = []
    for j, i in enumerate(todo):
        s, t = src_ids[j], tgt_ids[j]
        if not s or not t:
            skipped[i] = ("empty", "no subwords")
        elif len(s) > w["max_len"] or len(t) > w["max_len"]:
            skipped[i] = ("too_long", f"{len(s)} and {len(t)} subwords")
        else:
            keep.append(j)
    lengths = np.asarray([[len(src_ids[j]), len(tgt_ids[j])] for j in keep], dtype=np.int64).reshape(-1, 2)
    offsets = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(lengths.sum(1), out=offsets[1:])
    tokens = np.fromiter(chain.from_iterable(chain.from_iterable((src_ids[j], tgt_ids[j]) for j in keep)),
                         dtype=w["tokens"], count=int(offsets[-1]))
    folder = w["folder"]
    _save(shard_file(folder, shard, "tokens"), tokens)
    _save(shard_file(folder, shard, "offsets"), offsets)
    _save(shard_file(folder, shard, "lengths"), lengths.astype(w["lengths"]))
    _save(shard_file(folder, shard, "lines"), np.asarray([first + todo[j] + 1 for j in keep], np.int64))
    rows = "".join(f"{first + i + 1}\t{r}\t{d}\n" for i, (r, d) in sorted(skipped.items()))
    (folder / SHARDS / f"{shard}.skipped.tsv").write_text(rows, encoding="utf-8")
    return {"name": shard, "pairs": len(keep), "tokens": int(offsets[-1]), "lines": n,
            "skipped": dict(Counter(r for r, _ in skipped.values()))}


# ----------------------------------------------------------------------------- passes
def _key(cfg: Config, digests: list[str]) -> str:
    d = cfg.data
    settings = {"format": FORMAT, "digests": digests, "subword": d.subword.model_dump(),
                "max_len": d.max_len, "seed": cfg.train.seed,
                "columns": [d.train.src_column, d.train.tgt_column] if d.train.tsv else None,
                **({"strip_digits": True} if d.train.tgt_strip_digits else {}),
                "split": d.split.model_dump() if d.dev is None else None}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _held_out(cfg: Config, n: int, origin: str, block_lines: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which lines are the carved dev and test pairs (`split_lines`, as in memory). By source,
    one pass reads the sources first: each distinct source is held in memory once."""
    held = np.zeros(n, dtype=bool)
    if cfg.data.dev is not None:
        return held, np.zeros(0, np.int64), np.zeros(0, np.int64)
    sources = None
    if cfg.data.split.by_source:
        sources = [s for _, n_lines, src_block, tgt_block in aligned_blocks(cfg.data.train, block_lines)
                   for s in block_pairs(cfg.data.train, n_lines, src_block, tgt_block)[0]]
    _, dev, test = split_lines(n, cfg.data.split, origin, sources)
    held[dev] = held[test] = True
    return held, dev, test


def _train_subwords(cfg: Config, held: np.ndarray, dev: np.ndarray, test: np.ndarray,
                    tmp: Path, block_lines: int) -> Subwords:
    """Pass 2: train SentencePiece on a bounded sample; write the carved dev and test pairs."""
    sub = cfg.data.subword
    train_lines = np.flatnonzero(~held)
    want = sub.max_sentences // 2 if sub.joint else sub.max_sentences
    pick = train_lines
    if len(train_lines) > want:
        rng = np.random.default_rng(cfg.train.seed)
        pick = train_lines[np.sort(rng.choice(len(train_lines), want, replace=False))]
    src, tgt = [], []
    kept: dict[str, list[tuple[int, str, str]]] = {"dev": [], "test": []}
    for first, n_lines, src_block, tgt_block in aligned_blocks(cfg.data.train, block_lines):
        lo, hi = np.searchsorted(pick, [first, first + n_lines])
        hold = {int(i) - first: name for name, idx in (("dev", dev), ("test", test))
                for i in idx[np.searchsorted(idx, first) : np.searchsorted(idx, first + n_lines)]}
        if hi == lo and not hold:
            continue
        s, t, _ = block_pairs(cfg.data.train, n_lines, src_block, tgt_block)
        for i in pick[lo:hi] - first:
            src.append(s[i])
            tgt.append(t[i])
        for i, name in hold.items():
            kept[name].append((first + i, s[i], t[i]))
    for name, rows in kept.items():
        if rows:
            for side, column in zip(SIDES, (1, 2)):
                atomic_write_text(tmp / f"{name}.{side}", "".join(f"{r[column]}\n" for r in sorted(rows)))
    log.info("prepare: training SentencePiece (%s, %d pieces, %s) on %d sampled pairs of %d",
             sub.type, sub.vocab_size, "joint" if sub.joint else "per side", len(src), len(train_lines))
    return Subwords.train(src, tgt, sub, cfg.train.seed)


def _encode_all(cfg: Config, subwords: Subwords, held: np.ndarray, tmp: Path, workers: int,
                block_lines: int) -> list[dict[str, Any]]:
    """Pass 3: encode blocks of lines in `workers` processes, one shard per block."""
    init = (subwords._blobs, cfg.data.train, cfg.data.max_len, str(tmp))
    tasks = ((f"{k:05d}", first, n, s, t, held[first : first + n])
             for k, (first, n, s, t) in enumerate(aligned_blocks(cfg.data.train, block_lines)))
    shards, started, last_report = [], time.perf_counter(), time.perf_counter()

    def done(stats: dict[str, Any]) -> None:
        nonlocal last_report
        shards.append(stats)
        if time.perf_counter() - last_report > 10:
            lines = sum(s["lines"] for s in shards)
            rate = lines / (time.perf_counter() - started)
            log.info("prepare: %s lines encoded (%.0f/s)", f"{lines:,}", rate)
            last_report = time.perf_counter()

    if workers <= 1:
        _init_worker(*init)
        for task in tasks:
            done(_encode_block(*task))
        return shards
    # spawn, not fork: a fork of a process with threads (torch's, gloo's) can deadlock
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, ctx, initializer=_init_worker, initargs=init)
    try:
        pending: deque = deque()
        for task in tasks:  # at most two blocks per worker in flight: memory stays bounded
            with stopping.interrupts_blocked():  # (a worker may be started here)
                pending.append(pool.submit(_encode_block, *task))
            while len(pending) >= 2 * workers:
                done(pending.popleft().result())
        while pending:
            done(pending.popleft().result())
    except BrokenProcessPool:
        pool.shutdown(wait=False, cancel_futures=True)
        raise SeqattnError("prepare: an encoding process died (out of memory?); nothing was kept") from None
    except BaseException:  # an error (or Ctrl-C in library use): stop the workers now
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        raise
    pool.shutdown()
    return shards


def _merge_skipped(tmp: Path, shards: list[dict[str, Any]]) -> None:
    with (tmp / "skipped.tsv").open("w", encoding="utf-8") as out:
        out.write("line\treason\tdetail\n")
        for s in shards:
            part = tmp / SHARDS / f"{s['name']}.skipped.tsv"
            with part.open(encoding="utf-8") as fh:
                shutil.copyfileobj(fh, out)
            part.unlink()


def _clear_stale_temps(out: Path) -> None:
    """Remove temporary folders of interrupted prepares on this machine."""
    host = socket.gethostname()
    for tmp in out.parent.glob(f".{out.name}.tmp-*"):
        owner_host, _, pid = tmp.name.split(".tmp-", 1)[1].rpartition("-")
        if owner_host != host or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(tmp, ignore_errors=True)
        except PermissionError:
            pass


def _install(tmp: Path, out: Path, key: str) -> bool:
    """Rename the finished temporary folder into place; False when an identical one won the race."""
    current = read_manifest(out) if out.is_dir() else None
    if current is not None and current["key"] == key:
        shutil.rmtree(tmp, ignore_errors=True)
        return False
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    tmp.rename(out)
    fsync_dir(out.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return True


def prepare_corpus(cfg: Config, out: str | Path, workers: int | None = None,
                   shard_pairs: int = 100_000) -> PrepareResult:
    """Prepare `cfg.data.train` into `out` (reusing it when it is up to date); see the module doc."""
    out, started = Path(out), time.perf_counter()
    if out.exists() and not out.is_dir():
        raise SeqattnError(f"{out}: exists and is not a directory (give another --out or data.prepared)")
    paths = input_files(cfg.data.train)
    digests = [digest(p) for p in paths]
    if len(digests) == 2 and digests[0][1] != digests[1][1]:
        raise SeqattnError(f"{paths[0]} has {digests[0][1]} lines but {paths[1]} has {digests[1][1]}: "
                           "the two sides must be line-aligned")
    key, n = _key(cfg, [d for d, _ in digests]), digests[0][1]
    if out.exists():
        current = read_manifest(out)
        if current is None and any(out.iterdir()):
            raise SeqattnError(f"{out}: exists and is not prepared data (no {MANIFEST}); "
                               "choose another folder")
        if current is not None and current["key"] == key:
            log.info("prepare: %s is up to date (%s pairs)", out, f"{current['pairs']:,}")
            return PrepareResult(out, True, current, time.perf_counter() - started)
    make_dirs(out.parent)
    tmp = out.with_name(f".{out.name}.tmp-{socket.gethostname()}-{os.getpid()}")
    # one writer per folder; a signal stops the command at once and removes the temporary folder
    with WriterLock(out.parent / f".{out.name}.lock", out, "prepared folder"), \
            stopping.on_stop(lambda: shutil.rmtree(tmp, ignore_errors=True), INTERRUPTED):
        _clear_stale_temps(out)
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            (tmp / SHARDS).mkdir(parents=True)
            held, dev, test = _held_out(cfg, n, " + ".join(map(str, paths)), shard_pairs)
            subwords = _train_subwords(cfg, held, dev, test, tmp, shard_pairs)
            subwords.save(tmp)
            shards = _encode_all(cfg, subwords, held, tmp, workers or cpu_count(), shard_pairs)
            pairs = sum(s["pairs"] for s in shards)
            if pairs == 0:
                raise SeqattnError(f"{', '.join(map(str, paths))}: no training pairs left after "
                                   "skipping empty, unreadable and over-long ones")
            _merge_skipped(tmp, shards)
            skipped = sum((Counter(s["skipped"]) for s in shards), Counter())
            manifest = {
                "format": FORMAT, "key": key, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "inputs": [{"path": str(p), "sha256": d, "lines": c}
                           for p, (d, c) in zip(paths, digests)],
                "lines": n, "pairs": pairs, "tokens": sum(s["tokens"] for s in shards),
                "held_out": {"dev": len(dev), "test": len(test)}, "skipped": dict(skipped),
                "max_len": cfg.data.max_len,
                "subwords": {"joint": subwords.joint, "src_vocab": subwords.src_vocab_size,
                             "tgt_vocab": subwords.tgt_vocab_size},
                "shards": [{"name": s["name"], "pairs": s["pairs"]} for s in shards],
                "seconds": round(time.perf_counter() - started, 2),
            }
            atomic_write_text(tmp / MANIFEST, json.dumps(manifest, indent=1))
            _install(tmp, out, key)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("prepare: %s pairs of %s lines in %d shards (%s); skipped %s", f"{pairs:,}", f"{n:,}",
             len(shards), out, dict(skipped) or "none")
    return PrepareResult(out, False, read_manifest(out) or manifest, time.perf_counter() - started)
