"""Validation during training: score the dev set, keep the best weights, draw attention maps,
and say when early stopping should end the run."""

from __future__ import annotations

import logging
import math

from seqattn.atomic import atomic_write_bytes
from seqattn.config import Config
from seqattn.data.pipeline import EncodedSplit, PreparedData
from seqattn.evaluate import Decoded, perplexity, score_split
from seqattn.model.seq2seq import Seq2Seq
from seqattn.precision import Precision
from seqattn.rundir import RunDir
from seqattn.scoring import Scores, signed
from seqattn.train.progress import Progress
from seqattn.train.schedule import Schedule
from seqattn.translator import Translator
from seqattn.weights import save_weights

log = logging.getLogger("seqattn")


class Validator:
    """Scores dev (or test) sets with the training model, through the run's translator."""

    def __init__(self, cfg: Config, run: RunDir, model: Seq2Seq, translator: Translator,
                 data: PreparedData, metrics, precision: Precision):
        self.cfg, self.run, self.model, self.translator = cfg, run, model, translator
        self.data, self.metrics, self.precision = data, metrics, precision

    def dev_subset(self) -> EncodedSplit:
        """The dev set, cut to `train.val_max_sentences`."""
        dev, limit = self.data.dev, self.cfg.train.val_max_sentences
        if limit is None or limit >= len(dev):
            return dev
        return EncodedSplit(dev.text.subset(range(limit), dev.text.origin), dev.src_ids[:limit],
                            dev.tgt_ids[:limit])

    def score(self, split: EncodedSplit, beam: int) -> Scores:
        """The run's metrics (`Config.scored_metrics`) of the decoded split, and its
        teacher-forced perplexity."""
        return self.translate_and_score(split, beam)[0]

    def translate_and_score(self, split: EncodedSplit, beam: int) -> tuple[Scores, Decoded]:
        """`score`, and what it scored: sources, their references and the outputs."""
        scores, decoded = score_split(self.translator, split.text.src, split.text.tgt,
                                      self.cfg.scored_metrics, beam, self.cfg.eval.group_references)
        scores.loss, scores.ppl = perplexity(self.model, split.src_ids, split.tgt_ids,
                                             self.cfg.decode.batch_size, self.precision)
        return scores, decoded

    def validate(self, p: Progress, schedule: Schedule) -> bool:
        """Score the dev set at step `p.step`; keep the best weights; return True when early
        stopping says the run should end."""
        t = self.cfg.train
        scores = self.score(self.dev_subset(), t.val_beam)
        self.model.train()
        p.last_validation = p.step
        value = signed(t.early_stopping_metric, scores.get(t.early_stopping_metric))
        improved = math.isfinite(value) and (p.best_score is None or value > p.best_score)
        if improved:  # NaN weights are never kept as "best"
            p.best_score, p.best_step, p.bad_validations = value, p.step, 0
            save_weights(self.model, self.run.weights)
            self.run.write_json(self.run.best, {"step": p.step, **scores.as_dict()})
        else:
            p.bad_validations += 1
        schedule.on_validation(improved)
        self.metrics.add(p.step, "dev", loss=scores.loss, ppl=scores.ppl, **scores.values,
                         elapsed_s=p.elapsed_s)
        log.info("step %d dev: %s%s", p.step, scores.line(), "  *best*" if improved else "")
        self.draw_heatmaps(p.step)
        patience = t.early_stopping_patience
        return patience is not None and p.bad_validations >= patience

    def draw_heatmaps(self, step: int) -> None:
        """Attention maps of a few fixed dev sentences, to watch alignment emerge."""
        n = self.cfg.train.heatmaps
        if n == 0 or self.model.decoder.attention is None:
            return
        from seqattn.viz import draw_heatmap, figure_array, figure_bytes

        dev = self.data.dev.text.src[:n]
        for k, r in enumerate(self.translator.translate(dev, beam=1, sample=0), start=1):  # (searched)
            fig = draw_heatmap(r.attention, r.src_tokens, r.tgt_tokens, f"step {step}: {r.source}")
            path = self.run.attention_map(step, k)
            atomic_write_bytes(path, figure_bytes(fig))
            self.metrics.add_image(f"attention/{path.stem}", figure_array(fig), step)
        self.model.train()
