"""The training loop: teacher forcing, one update per batch, validation on schedule,
checkpoints, resume.

One `Trainer` owns a run directory (`seqattn.rundir`). Everything needed to continue lives
in its newest checkpoint: weights, optimizer, schedule, RNG, and the data position (epoch
and batch), so `--resume` replays the same batches in the same order. Under torchrun the
same loop runs in every process, data-parallel (see `seqattn.train.distributed`). The
parts: `validation.py` (dev scores, best weights, heatmaps, early stopping), `session.py`
(the run directory's life cycle, logging, signals), `progress.py` (where training stands,
stop rules, the progress bar), `gradients.py` (the update), `checkpoint.py`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from seqattn.config import Config
from seqattn.data.batching import BucketBatcher, make_batch
from seqattn.data.pipeline import PreparedData, load_data, load_splits, stream_folder
from seqattn.data.subword import PAD_ID
from seqattn.errors import SeqattnError
from seqattn.model.loss import TeacherForcedLoss
from seqattn.model.seq2seq import Seq2Seq
from seqattn.precision import Precision, decide
from seqattn.rundir import RunDir
from seqattn.runtime import check_fits, resolve_device, set_threads, tune_allocator
from seqattn.scoring import Scores
from seqattn.train.checkpoint import restore_latest, save_checkpoint
from seqattn.train.distributed import STOP_LIMIT, STOP_SIGNAL, Distributed
from seqattn.train.gradients import Updater
from seqattn.train.metrics import MetricsLog, NullMetrics
from seqattn.train.progress import Progress, Report, stop_reason
from seqattn.train.schedule import Schedule
from seqattn.train.session import Session
from seqattn.train.validation import Validator
from seqattn.translator import Translation, Translator
from seqattn.weights import load_weights

log = logging.getLogger("seqattn")
MAX_NONFINITE = 5  # consecutive non-finite losses before training gives up


@dataclass
class TrainResult:
    run_dir: Path
    stop_reason: str
    progress: Progress
    test: Scores | None = None
    samples: list[Translation] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)  # test sentences with their references


@dataclass
class Example:
    """One test sentence: its source, its reference and the model's translation."""

    source: str
    reference: str  # several joined by " | " when references are grouped
    output: str


class Trainer:
    def __init__(self, cfg: Config, run_dir: str | Path, resume: bool = False,
                 device: str | None = None):
        self.cfg, self.rundir, self.resume = cfg, RunDir(run_dir), resume
        self.device = resolve_device(device or cfg.train.device)
        self.precision = decide(cfg.train.precision, self.device, "train")  # before any file is written
        self.session: Session | None = None
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
        sizes = (cfg.model, sub.src_vocab_size, sub.tgt_vocab_size)
        # 16 bytes a parameter: weights, gradients and Adam's two moments, fp32
        check_fits(Seq2Seq.count_parameters(*sizes), 16, self.device, "model", Seq2Seq.largest_size(*sizes))
        self.model = Seq2Seq(cfg.model, sub.src_vocab_size, sub.tgt_vocab_size, PAD_ID).to(self.device)
        self.dist.seed(t.seed)  # same initial weights everywhere, own dropout stream per rank
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=t.lr, betas=t.betas,
                                          weight_decay=t.weight_decay, fused=True)  # one kernel
        self.schedule = Schedule(t.schedule, t.lr, t.schedule_end)
        scaling = t.loss_scaling if t.loss_scaling is not None else self.precision.loss_scaling
        self.updater = Updater(self.model.parameters(), self.optimizer, t.clip_norm, scaling,
                               self.device.type)
        self.progress = Progress()
        restored = None
        if self.resume:
            restored = restore_latest(self.rundir.checkpoints, self.model, self.optimizer)
        if restored is not None:
            ckpt, state = restored
            self.schedule.load_state_dict(state["schedule"])
            self.progress = Progress(**state["progress"])
            if self._keep_precision(state.get("precision"), ckpt) and t.loss_scaling is None:
                self.updater = Updater(self.model.parameters(), self.optimizer, t.clip_norm,
                                       self.precision.loss_scaling, self.device.type)
            self.updater.load_state_dict(state.get("loss_scaler"))
            self.dist.restore_rng(state.get("rank_rng"), t.seed, self.progress.step)
            log.info("resumed from %s (step %d, epoch %d)", ckpt.name, self.progress.step,
                     self.progress.epoch)
        elif self.resume:
            log.warning("warning: %s has no checkpoint yet; starting from step 0", self.rundir.path)
        self.net = self.dist.wrap(TeacherForcedLoss(self.model, t.label_smoothing, PAD_ID))  # a step calls it
        self.batcher = BucketBatcher(*self.data.train.lengths(), t.batch_size, t.batch_tokens, t.seed)
        self.translator = Translator(self.model, sub, cfg, self.device, self.precision)
        resumed_at = self.progress.step if self.resume else None
        self.metrics = (MetricsLog(self.rundir.metrics, self.rundir.tensorboard, resumed_at)
                        if self.dist.is_main else NullMetrics())
        self.validator = Validator(cfg, self.rundir, self.model, self.translator, self.data, self.metrics,
                                   self.precision)
        log.info("model: %s parameters; device %s; precision %s",
                 f"{self.model.num_parameters():,}", self.device, self.precision)

    def _keep_precision(self, recorded: str | None, ckpt: Path) -> bool:
        """Resume an 'auto' run in the precision its checkpoint was written in, where this
        hardware runs it (else say the rest computes differently). True when it changed."""
        now = self.precision
        if recorded is None or recorded == now.name or now.requested != "auto":
            return False
        try:
            kept = decide(recorded, self.device, "train")
        except SeqattnError as exc:
            log.warning("warning: %s was trained in %s (%s), so the rest of the run computes in %s "
                        "and will not match an uninterrupted run bit for bit", ckpt.name, recorded,
                        exc, now.name)
            return False
        self.precision = Precision(kept.name, self.device, "auto",
                                   f"kept from {ckpt.name}; this machine alone would pick {now.name}")
        return True

    def _load_data(self, splits) -> PreparedData:
        """Subwords and encoded splits. Rank 0 trains SentencePiece (or prepares the shards)
        while the others wait, then they load what it saved."""
        args, main = (self.cfg, splits, self.stream, self.rundir.path), self.dist.is_main
        data = load_data(*args, reuse=self.resume and self.rundir.has_subwords()) if main else None
        self.dist.barrier("waiting for rank 0 to prepare the data")
        return data if main else load_data(*args, reuse=True, build=False)

    # ------------------------------------------------------------------ steps
    def _train_step(self, batch_ids: list[int], n_total: int, weight: float = 1.0) -> float | None:
        """One update on the batch `batch_ids` -> its mean NLL per target token. NaN: the loss
        or the gradients were not finite, no update; None: the fp16 loss scale was too high
        and has been lowered, no update. The loss is divided by
        `n_total`, the step's target tokens over all ranks, so data-parallel steps equal one
        step on the combined batch; `weight` 0 makes a rank with no batch left in the epoch
        take part without contributing."""
        t = self.cfg.train
        batch = make_batch(*self.data.train.pairs(batch_ids), batch_ids).to(self.device)
        self.model.train()
        with self.precision.autocast():
            loss, nll, n = self.net(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out,
                                    t.scheduled_sampling, self.precision.train_row_multiple,
                                    weight * self.dist.world_size / n_total)  # scaled: DDP averages
        if not torch.isfinite(loss) and not self.dist.enabled:  # (all ranks must run backward)
            return math.nan
        if not math.isfinite(self.updater.step(loss)):  # overflow (on any rank): no update
            return None if self.updater.lowered_scale else math.nan
        return float(nll) / n

    def _validation(self) -> bool:
        """Validate on rank 0; every rank takes its verdict, progress and schedule."""
        verdict = self.validator.validate(self.progress, self.schedule) if self.dist.is_main else False
        return self.dist.follow_main(verdict, self.progress, self.schedule)

    def _checkpoint(self) -> None:
        rank_rng = self.dist.gather_rng()  # every rank takes part; rank 0 writes
        if not self.dist.is_main:
            return
        state = {"step": self.progress.step, "progress": asdict(self.progress),
                 "schedule": self.schedule.state_dict(), "loss_scaler": self.updater.state_dict(),
                 "precision": self.precision.name}
        if self.dist.enabled:
            state.update(world_size=self.dist.world_size, rank_rng=rank_rng)
        save_checkpoint(self.rundir.checkpoints, self.model, self.optimizer, state,
                        self.cfg.train.keep_checkpoints)

    # ------------------------------------------------------------------ loop
    def _agree(self, tokens: int) -> tuple[int, str | None]:
        """The next step's target tokens over all ranks, and why to stop before it (every rank
        stops at the same step: limits in time and signals may reach them at different ones)."""
        session = self.session
        reason = stop_reason(self.cfg.train, self.progress, session.signal)
        wish = 0 if reason is None else STOP_SIGNAL if session.signal else STOP_LIMIT
        total, wish = self.dist.agree(tokens, wish)
        if wish == STOP_SIGNAL and not session.signal:
            session.signal = "a signal to another process"
        if wish and reason is None:
            reason = (f"interrupted by {session.signal}" if wish == STOP_SIGNAL
                      else f"reached train.max_minutes={self.cfg.train.max_minutes}")
        return total, reason

    def _loop(self) -> str:
        t, p = self.cfg.train, self.progress
        report, reason = Report(t, p, self.metrics, self.dist.is_main), None
        while reason is None:
            batches = self.batcher.epoch(p.epoch)
            while p.batch_in_epoch < len(batches):
                mine, used = self.dist.share(batches, p.batch_in_epoch)
                tokens = self.data.train.target_tokens(mine) if mine else 0
                n_total, reason = self._agree(tokens)
                if reason:
                    break
                self.schedule.apply(self.optimizer, p.step + 1)
                started = time.perf_counter()
                with self.dist.guard(f"training step {p.step + 1}"):
                    loss = self._train_step(mine or batches[p.batch_in_epoch], n_total,
                                            1.0 if mine else 0.0)
                p.batch_in_epoch += used
                p.step += 1
                p.elapsed_s += time.perf_counter() - started
                self._account(loss)
                report.step_done(n_total, self.optimizer.param_groups[0]["lr"])
                if p.step % t.val_every == 0:
                    if self._validation():
                        reason = f"early stopping ({t.early_stopping_patience} validations without gain)"
                    self._checkpoint()
                    report.restart_window()
                    if reason:
                        break
            if p.batch_in_epoch >= len(batches):
                p.epoch, p.batch_in_epoch = p.epoch + 1, 0
        report.close()
        return reason

    def _account(self, loss: float | None) -> None:
        """Fold a step's loss into the running average; give up after too many non-finite ones."""
        p = self.progress
        if loss is None:
            log.info("step %d: fp16 gradients overflowed; loss scale lowered to %g, step skipped",
                     p.step, self.updater.lowered_scale)
        elif math.isnan(loss):
            p.nonfinite += 1
            log.warning("step %d: non-finite loss, step skipped", p.step)
            if p.nonfinite >= MAX_NONFINITE:
                raise SeqattnError(f"{MAX_NONFINITE} non-finite losses in a row at step {p.step}; "
                                   "lower train.lr or check the data")
        else:
            p.nonfinite = 0
            p.loss_avg = loss if p.loss_avg is None else 0.95 * p.loss_avg + 0.05 * loss

    def run(self) -> TrainResult:
        self.stream = stream_folder(self.cfg.data, self.rundir.prepared)
        # bad input fails here, before anything is written (prepared data is checked by prepare)
        splits = None if self.stream else load_splits(self.cfg.data)
        main = self.dist.is_main  # only rank 0 writes into the run directory
        with Session(self.rundir, main) as self.session:
            try:
                return self._session(splits, main)
            finally:
                if hasattr(self, "metrics"):
                    self.metrics.close()
                self.dist.stop()

    def _session(self, splits, main: bool) -> TrainResult:
        session = self.session
        self.device = self.dist.start(self.device, self.cfg.train.dist_timeout_minutes)
        if main and not self.resume:  # first, so that a run killed during setup can be resumed
            self.rundir.write_config(self.cfg)
        self._build(splits)
        session.set_up()
        if main and self.resume:  # (a resume that fails leaves the run's config as it was)
            self.rundir.write_config(self.cfg)
        reason = self._loop()
        log.info("stopping: %s", reason)
        if self.progress.last_validation != self.progress.step and not session.signal:
            self._validation()  # (not when interrupted: the resumed run validates on schedule)
        self._checkpoint()
        session.saved()
        result = TrainResult(self.rundir.path, reason, self.progress)
        if session.signal:
            log.info("checkpoint saved; continue with: seqattn train --resume %s", self.rundir.path)
        if session.signal or not main:
            return result
        return self._finish(result)

    def _finish(self, result: TrainResult) -> TrainResult:
        """Reload the best weights, score the test set (and keep a few of its sentences, evenly
        spread, with their references and translations), translate the samples."""
        load_weights(self.model, self.rundir.weights)
        beam = self.cfg.decode.beam
        if self.data.test is not None:
            result.test, decoded = self.validator.translate_and_score(self.data.test, beam)
            total = len(decoded.outputs)
            n = min(self.cfg.train.test_examples, total)
            picks = [i * total // n for i in range(n)] if n else []
            result.examples = [Example(decoded.sources[i], " | ".join(decoded.references[i]),
                                       decoded.outputs[i]) for i in picks]
            self.metrics.add(self.progress.step, "test", loss=result.test.loss, ppl=result.test.ppl,
                             **result.test.values)
            log.info("test (beam %d, best step %s): %s", beam, self.progress.best_step,
                     result.test.line())
        if self.cfg.train.samples:
            result.samples = self.translator.translate(self.cfg.train.samples, beam=beam, sample=0)
        summary = {"stop_reason": result.stop_reason, "progress": asdict(self.progress),
                   "test": {**result.test.as_dict(), "signatures": result.test.signatures}
                   if result.test else None,
                   "samples": {s.source: s.text for s in result.samples},
                   "test_examples": [asdict(e) for e in result.examples]}
        self.rundir.write_json(self.rundir.results, summary)
        return result


def train(cfg: Config, run_dir: str | Path, resume: bool = False,
          device: str | None = None) -> TrainResult:
    """Train (or continue) the run in `run_dir`."""
    return Trainer(cfg, run_dir, resume, device).run()
