"""The training loop: teacher forcing, validation, early stopping, checkpoints, resume.

One `Trainer` owns a run directory. Everything needed to continue lives in its newest
checkpoint: weights, optimizer, schedule, RNG, and the data position (epoch and batch),
so `--resume` replays the same batches in the same order. Under torchrun the same loop runs
in every process, data-parallel (see `seqattn.train.distributed`).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from seqattn.atomic import atomic_write_bytes, atomic_write_text, check_writable, remove_stale_temps
from seqattn.config import Config, dump_config
from seqattn.data.batching import BucketBatcher, make_batch
from seqattn.data.pipeline import EncodedSplit, PreparedData, load_data, load_splits, stream_folder
from seqattn.data.subword import JOINT_FILE, PAD_ID, SRC_FILE, TGT_FILE
from seqattn.errors import SeqattnError
from seqattn.evaluate import Scores, perplexity, text_scores
from seqattn.model.loss import sequence_cross_entropy
from seqattn.model.seq2seq import Seq2Seq
from seqattn.precision import decide
from seqattn.runtime import resolve_device, set_threads, tune_allocator
from seqattn.train.checkpoint import restore_latest, save_checkpoint
from seqattn.train.distributed import STOP_LIMIT, STOP_SIGNAL, Distributed, NullMetrics
from seqattn.train.gradients import Updater
from seqattn.train.logs import start_logging, stop_logging
from seqattn.train.metrics import MetricsLog
from seqattn.train.schedule import Schedule
from seqattn.translator import Translation, Translator
from seqattn.weights import BEST_WEIGHTS, load_weights, save_weights

log = logging.getLogger("seqattn")
MAX_NONFINITE = 5  # consecutive non-finite losses before training gives up


@dataclass
class Progress:
    """Where training stands; saved in every checkpoint."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0  # batches of `epoch` already trained on (by all processes together)
    elapsed_s: float = 0.0  # training time over all sessions of this run
    best_score: float | None = None
    best_step: int | None = None
    bad_validations: int = 0
    last_validation: int = -1
    nonfinite: int = 0  # consecutive non-finite losses up to `step`
    loss_avg: float | None = None  # running training loss (for the log)


@dataclass
class TrainResult:
    run_dir: Path
    stop_reason: str
    progress: Progress
    test: Scores | None = None
    samples: list[Translation] = field(default_factory=list)


class Trainer:
    def __init__(self, cfg: Config, run_dir: str | Path, resume: bool = False,
                 device: str | None = None):
        self.cfg, self.run_dir, self.resume = cfg, Path(run_dir), resume
        self.device = resolve_device(device or cfg.train.device)
        self.precision = decide(cfg.train.precision, self.device, "train")  # before any file is written
        self._signal: str | None = None
        self.dist = Distributed.from_env()
        self.stream: Path | None = None  # prepared data to stream from, or None: in memory

    # ------------------------------------------------------------------ setup
    def _build(self, splits) -> None:
        cfg, t = self.cfg, self.cfg.train
        set_threads(t.num_threads)
        tune_allocator()
        torch.manual_seed(t.seed)
        self.data: PreparedData = self._load_data(splits)
        sub = self.data.subwords
        self.model = Seq2Seq(cfg.model, sub.src_vocab_size, sub.tgt_vocab_size, PAD_ID).to(self.device)
        self.dist.seed(t.seed)  # same initial weights everywhere, own dropout stream per rank
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=t.lr, betas=t.betas,
                                          weight_decay=t.weight_decay, fused=True)  # one kernel
        self.schedule = Schedule(t.schedule, t.lr, t.max_steps)
        scaling = t.loss_scaling if t.loss_scaling is not None else self.precision.loss_scaling
        self.updater = Updater(self.model.parameters(), self.optimizer, t.clip_norm, scaling,
                               self.device.type)
        self.progress = Progress()
        restored = None
        if self.resume:
            restored = restore_latest(self.run_dir / "checkpoints", self.model, self.optimizer)
        if restored is not None:
            ckpt, state = restored
            self.schedule.load_state_dict(state["schedule"])
            self.progress = Progress(**state["progress"])
            self.updater.load_state_dict(state.get("loss_scaler"))
            self.dist.restore_rng(state.get("rank_rng"), t.seed, self.progress.step)
            log.info("resumed from %s (step %d, epoch %d)", ckpt.name, self.progress.step,
                     self.progress.epoch)
        elif self.resume:
            log.warning("warning: %s has no checkpoint yet; starting from step 0", self.run_dir)
        self.net = self.dist.wrap(self.model)  # what training steps call
        self.batcher = BucketBatcher(*self.data.train.lengths(), t.batch_size, t.batch_tokens, t.seed)
        self.translator = Translator(self.model, sub, cfg, self.device, self.precision)
        self.metrics = (MetricsLog(self.run_dir, self.progress.step if self.resume else None)
                        if self.dist.is_main else NullMetrics())
        log.info("model: %s parameters; device %s; precision %s",
                 f"{self.model.num_parameters():,}", self.device, self.precision)

    def _load_data(self, splits) -> PreparedData:
        """Subwords and encoded splits. Rank 0 trains SentencePiece (or prepares the shards)
        while the others wait, then they load what it saved."""
        args, main = (self.cfg, splits, self.stream, self.run_dir), self.dist.is_main
        data = load_data(*args, reuse=self.resume and self._has_subwords()) if main else None
        self.dist.barrier("waiting for rank 0 to prepare the data")
        return data if main else load_data(*args, reuse=True, build=False)

    def _has_subwords(self) -> bool:
        """Whether the run directory holds its complete SentencePiece model(s)."""
        d = self.run_dir
        return (d / JOINT_FILE).is_file() or ((d / SRC_FILE).is_file() and (d / TGT_FILE).is_file())

    # ------------------------------------------------------------------ steps
    def _train_step(self, batch_ids: list[int], n_total: int, weight: float = 1.0
                    ) -> tuple[float | None, int]:
        """One update -> (mean NLL per token, target tokens). NaN: the loss or the gradients
        were not finite, no update; None: the fp16 loss scale was too high and has been
        lowered, no update. The loss is divided by `n_total`, the step's target tokens over
        all ranks, so data-parallel steps equal one step on the combined batch; `weight` 0
        makes a rank with no batch left in the epoch take part without contributing."""
        t = self.cfg.train
        batch = make_batch(*self.data.train.pairs(batch_ids), batch_ids).to(self.device)
        self.model.train()
        with self.precision.autocast():
            attentional, _ = self.net(batch.src, batch.src_lengths, batch.tgt_in, t.scheduled_sampling)
            loss, nll, n = sequence_cross_entropy(  # scaled: DDP averages over ranks
                attentional, batch.tgt_out, self.model.decoder.output, t.label_smoothing, PAD_ID,
                row_multiple=self.precision.train_row_multiple,
                scale=weight * self.dist.world_size / n_total)
        if not torch.isfinite(loss) and not self.dist.enabled:  # (all ranks must run backward)
            return math.nan, n
        if not math.isfinite(self.updater.step(loss)):  # overflow (on any rank): no update
            return (None if self.updater.lowered_scale else math.nan), n
        return float(nll) / n, n

    def _dev_subset(self) -> EncodedSplit:
        dev, limit = self.data.dev, self.cfg.train.val_max_sentences
        if limit is None or limit >= len(dev):
            return dev
        return EncodedSplit(dev.text.subset(range(limit), dev.text.origin), dev.src_ids[:limit],
                            dev.tgt_ids[:limit])

    def _score(self, split: EncodedSplit, beam: int) -> Scores:
        outputs = [tr.text for tr in self.translator.translate(split.text.src, beam=beam, n_best=1)]
        scores = text_scores(outputs, split.text.tgt)
        scores.loss, scores.ppl = perplexity(self.model, split.src_ids, split.tgt_ids,
                                             self.cfg.decode.batch_size, self.precision)
        return scores

    def _validate(self) -> bool:
        """Score the dev set; keep the best weights; return True when training should stop."""
        t, p = self.cfg.train, self.progress
        scores = self._score(self._dev_subset(), t.val_beam)
        self.model.train()
        p.last_validation = p.step
        value = scores.bleu if t.early_stopping_metric == "bleu" else -scores.loss
        improved = math.isfinite(value) and (p.best_score is None or value > p.best_score)
        if improved:  # NaN weights are never kept as "best"
            p.best_score, p.best_step, p.bad_validations = value, p.step, 0
            save_weights(self.model, self.run_dir / BEST_WEIGHTS)
            atomic_write_text(self.run_dir / "best.json",
                              json.dumps({"step": p.step, "bleu": scores.bleu, "chrf": scores.chrf,
                                          "loss": scores.loss, "ppl": scores.ppl}, indent=1))
        else:
            p.bad_validations += 1
        self.schedule.on_validation(improved)
        self.metrics.add(p.step, "dev", loss=scores.loss, ppl=scores.ppl, bleu=scores.bleu,
                         chrf=scores.chrf, elapsed_s=p.elapsed_s)
        log.info("step %d dev: %s%s", p.step, scores.line(), "  *best*" if improved else "")
        self._draw_heatmaps()
        patience = t.early_stopping_patience
        return patience is not None and p.bad_validations >= patience

    def _validation(self) -> bool:
        """Validate on rank 0; every rank takes its verdict, progress and schedule."""
        return self.dist.follow_main(self._validate() if self.dist.is_main else False, self.progress,
                                     self.schedule)

    def _draw_heatmaps(self) -> None:
        """Attention maps of a few fixed dev sentences, to watch alignment emerge."""
        n = self.cfg.train.heatmaps
        if n == 0 or self.model.decoder.attention is None:
            return
        from seqattn.viz import draw_heatmap, figure_array, figure_bytes

        folder = self.run_dir / "attention" / f"step_{self.progress.step:08d}"
        for i, r in enumerate(self.translator.translate(self.data.dev.text.src[:n], beam=1)):
            fig = draw_heatmap(r.attention, r.src_tokens, r.tgt_tokens,
                               f"step {self.progress.step}: {r.source}")
            atomic_write_bytes(folder / f"dev{i + 1}.png", figure_bytes(fig))
            self.metrics.add_image(f"attention/dev{i + 1}", figure_array(fig), self.progress.step)
        self.model.train()

    def _checkpoint(self) -> None:
        rank_rng = self.dist.gather_rng()  # every rank takes part; rank 0 writes
        if not self.dist.is_main:
            return
        state = {"step": self.progress.step, "progress": asdict(self.progress),
                 "schedule": self.schedule.state_dict(), "loss_scaler": self.updater.state_dict()}
        if self.dist.enabled:
            state.update(world_size=self.dist.world_size, rank_rng=rank_rng)
        save_checkpoint(self.run_dir / "checkpoints", self.model, self.optimizer, state,
                        self.cfg.train.keep_checkpoints)

    # ------------------------------------------------------------------ loop
    def _should_stop(self) -> str | None:
        t, p = self.cfg.train, self.progress
        if self._signal:
            return f"interrupted by {self._signal}"
        if t.max_steps is not None and p.step >= t.max_steps:
            return f"reached train.max_steps={t.max_steps}"
        if t.max_minutes is not None and p.elapsed_s >= t.max_minutes * 60:
            return f"reached train.max_minutes={t.max_minutes}"
        if t.max_epochs is not None and p.epoch >= t.max_epochs:
            return f"reached train.max_epochs={t.max_epochs}"
        return None

    def _time_left(self) -> str:
        """Training time left under the nearer of max_minutes and max_steps (estimated)."""
        t, p = self.cfg.train, self.progress
        left = []
        if t.max_minutes is not None:
            left.append(t.max_minutes * 60 - p.elapsed_s)
        if t.max_steps is not None and p.step:
            left.append(p.elapsed_s / p.step * (t.max_steps - p.step))
        if not left:
            return "?"
        seconds = max(0, int(min(left)))
        return f"{seconds // 60}:{seconds % 60:02d}"

    def _agree(self, tokens: int) -> tuple[int, str | None]:
        """The next step's target tokens over all ranks, and why to stop before it (every rank
        stops at the same step: limits in time and signals may reach them at different ones)."""
        reason = self._should_stop()
        wish = 0 if reason is None else STOP_SIGNAL if self._signal else STOP_LIMIT
        total, wish = self.dist.agree(tokens, wish)
        if wish == STOP_SIGNAL and not self._signal:
            self._signal = "a signal to another process"
        if wish and reason is None:
            reason = (f"interrupted by {self._signal}" if wish == STOP_SIGNAL
                      else f"reached train.max_minutes={self.cfg.train.max_minutes}")
        return total, reason

    def _on_signal(self, signum: int, _frame) -> None:
        self._signal = signal.Signals(signum).name

    def _loop(self) -> str:
        t, p = self.cfg.train, self.progress
        bar = tqdm(total=t.max_steps, initial=p.step, unit="step", dynamic_ncols=True,
                   disable=None if self.dist.is_main else True, file=sys.stderr)
        window_tokens, window_start, reason = 0, time.perf_counter(), None
        while reason is None:
            batches = self.batcher.epoch(p.epoch)
            while p.batch_in_epoch < len(batches):
                mine, used = self.dist.share(batches, p.batch_in_epoch)
                n_total, reason = self._agree(self.data.train.target_tokens(mine or []))
                if reason:
                    break
                self.schedule.apply(self.optimizer, p.step + 1)
                started = time.perf_counter()
                with self.dist.guard(f"training step {p.step + 1}"):
                    loss, _ = self._train_step(mine or batches[p.batch_in_epoch], n_total,
                                               1.0 if mine else 0.0)
                p.batch_in_epoch += used
                p.step += 1
                p.elapsed_s += time.perf_counter() - started
                window_tokens += n_total
                if loss is None:
                    log.info("step %d: fp16 gradients overflowed; loss scale lowered to %g, "
                             "step skipped", p.step, self.updater.lowered_scale)
                elif math.isnan(loss):
                    p.nonfinite += 1
                    log.warning("step %d: non-finite loss, step skipped", p.step)
                    if p.nonfinite >= MAX_NONFINITE:
                        raise SeqattnError(f"{MAX_NONFINITE} non-finite losses in a row at step "
                                           f"{p.step}; lower train.lr or check the data")
                else:
                    p.nonfinite = 0
                    p.loss_avg = loss if p.loss_avg is None else 0.95 * p.loss_avg + 0.05 * loss
                loss_avg = p.loss_avg
                bar.update(1)
                if p.step % t.log_every == 0 and loss_avg is not None:
                    now = time.perf_counter()
                    tps = window_tokens / max(now - window_start, 1e-9)
                    lr = self.optimizer.param_groups[0]["lr"]
                    left = self._time_left()
                    bar.set_postfix(loss=f"{loss_avg:.3f}", tok_s=f"{tps:,.0f}", left=left, refresh=False)
                    if bar.disable:
                        log.info("step %d epoch %d loss %.3f lr %.2g %.0f tok/s, %s left", p.step,
                                 p.epoch, loss_avg, lr, tps, left)
                    self.metrics.add(p.step, "train", loss=loss_avg, ppl=math.exp(min(loss_avg, 50)),
                                     lr=lr, tokens_per_s=tps, elapsed_s=p.elapsed_s)
                    window_tokens, window_start = 0, time.perf_counter()
                if p.step % t.val_every == 0:
                    if self._validation():
                        reason = f"early stopping ({t.early_stopping_patience} validations without gain)"
                    self._checkpoint()
                    window_start = time.perf_counter()
                    if reason:
                        break
            if p.batch_in_epoch >= len(batches):
                p.epoch, p.batch_in_epoch = p.epoch + 1, 0
        bar.close()
        return reason

    def run(self) -> TrainResult:
        self.stream = stream_folder(self.cfg.data, self.run_dir)
        # bad input fails here, before anything is written (prepared data is checked by prepare)
        splits = None if self.stream else load_splits(self.cfg.data)
        main = self.dist.is_main  # only rank 0 writes into the run directory
        fresh = main and not self.run_dir.exists()  # a new run that fails during setup leaves nothing
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SeqattnError(f"{self.run_dir}: cannot create run directory ({exc.strerror})") from None
        if main:
            check_writable(self.run_dir)
            for folder in (self.run_dir, self.run_dir / "checkpoints"):
                remove_stale_temps(folder)  # left by a killed process
        handlers = start_logging(self.run_dir) if main else []
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        set_up = False
        try:
            self.device = self.dist.start(self.device, self.cfg.train.dist_timeout_minutes)
            if main and not self.resume:  # first, so that a run killed during setup can be resumed
                atomic_write_text(self.run_dir / "config.yaml", dump_config(self.cfg))
            self._build(splits)
            set_up = True
            if main and self.resume:  # (a resume that fails leaves the run's config as it was)
                atomic_write_text(self.run_dir / "config.yaml", dump_config(self.cfg))
            reason = self._loop()
            log.info("stopping: %s", reason)
            if self.progress.last_validation != self.progress.step and not self._signal:
                self._validation()  # (not when interrupted: the resumed run validates on schedule)
            self._checkpoint()
            result = TrainResult(self.run_dir, reason, self.progress)
            if self._signal:
                log.info("checkpoint saved; continue with: seqattn train --resume %s", self.run_dir)
            if self._signal or not main:
                return result
            return self._finish(result)
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
            if hasattr(self, "metrics"):
                self.metrics.close()
            stop_logging(handlers)
            if fresh and not set_up:
                shutil.rmtree(self.run_dir, ignore_errors=True)
            self.dist.stop()

    def _finish(self, result: TrainResult) -> TrainResult:
        """Reload the best weights, score the test set, translate the samples."""
        load_weights(self.model, self.run_dir / BEST_WEIGHTS)
        beam = self.cfg.decode.beam
        if self.data.test is not None:
            result.test = self._score(self.data.test, beam)
            self.metrics.add(self.progress.step, "test", loss=result.test.loss, ppl=result.test.ppl,
                             bleu=result.test.bleu, chrf=result.test.chrf)
            log.info("test (beam %d, best step %s): %s", beam, self.progress.best_step,
                     result.test.line())
        if self.cfg.train.samples:
            result.samples = self.translator.translate(self.cfg.train.samples, beam=beam)
        summary = {"stop_reason": result.stop_reason, "progress": asdict(self.progress),
                   "test": asdict(result.test) if result.test else None,
                   "samples": {s.source: s.text for s in result.samples}}
        atomic_write_text(self.run_dir / "results.json",
                          json.dumps(summary, indent=1, ensure_ascii=False))
        return result


def train(cfg: Config, run_dir: str | Path, resume: bool = False,
          device: str | None = None) -> TrainResult:
    """Train (or continue) the run in `run_dir`."""
    return Trainer(cfg, run_dir, resume, device).run()
