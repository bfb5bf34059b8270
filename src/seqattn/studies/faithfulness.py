"""The `faithfulness` study: is attention an explanation of what the decoder did?

  agreement       per output token, Kendall's tau-b between |attention| and |attribution| over
                  the source tokens, for each attribution method (`seqattn.attribution`)
  alignment       on tasks with a known alignment (copy, reverse, Korean romanisation: see
                  `alignment`), how often the source token of largest |score| is the wrong one
  counterfactual  each step re-run with permuted, uniform and adversarial weights
                  (`counterfactual`): does the output token change?

One arm per score function (dot, general, additive) on the synthetic copy task and, with
`data=DIR`, on Multi30k de->en (an equal share of `minutes` each); one `general` arm on the
reverse task and on the romanisation data (all three score functions in the full study).
Synthetic and romanisation arms train side by side, one thread each. The synthetic and
romanisation outputs are their references, forced; Multi30k's is each model's own greedy output.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from seqattn.attribution import METHODS, attribute_ids, greedy_ids
from seqattn.model.seq2seq import Seq2Seq
from seqattn.rundir import RunDir
from seqattn.studies.alignment import romanisation_pairs, synthetic_alignment
from seqattn.studies.common import Arm, side_by_side, synthetic_pairs, train_arm, train_tasks, write_pairs
from seqattn.studies.counterfactual import StepReplay, counterfactuals
from seqattn.studies.measures import alignment_errors, row_agreement
from seqattn.translator import Translator

SCORES = ("dot", "general", "additive")
ATTRIBUTIONS = METHODS[1:]  # each compared with attention
REFERENCE_PAIR = ("integrated_gradients", "occlusion")  # how much two attribution methods agree


@dataclass(frozen=True)
class Plan:
    """How big the study is: `QUICK` for the tests, `FULL` for the docs."""

    steps: int  # training steps of a synthetic arm
    train_pairs: int  # synthetic training pairs
    romanisation_steps: int
    lengths: tuple[int, int]  # synthetic sequence lengths
    sentences: int  # evaluated per synthetic / romanisation arm
    multi30k_sentences: int  # the first N of test_2016_flickr, per Multi30k arm
    adversarial_sentences: int  # the first N of an arm's sentences also get the adversarial search
    ig_steps: int  # integrated gradients' steps
    scores_everywhere: bool  # all score functions on reverse and romanisation too


QUICK = Plan(steps=150, train_pairs=3000, romanisation_steps=150, lengths=(5, 12), sentences=6,
             multi30k_sentences=6, adversarial_sentences=3, ig_steps=16, scores_everywhere=False)
FULL = Plan(steps=300, train_pairs=12000, romanisation_steps=600, lengths=(5, 20), sentences=40,
            multi30k_sentences=40, adversarial_sentences=15, ig_steps=50, scores_everywhere=True)


# ----------------------------------------------------------------------------- arms


def _synthetic_tree(folder: Path, task: str, plan: Plan) -> dict:
    lo, hi = plan.lengths
    pairs = lambda n, seed: synthetic_pairs(task, n, seed, lo, hi)  # noqa: E731
    return {
        "name": f"{task}-faithfulness",
        "data": {"train": write_pairs(folder, "train", pairs(plan.train_pairs, 1)),
                 "dev": write_pairs(folder, "dev", pairs(100, 2)),
                 "test": write_pairs(folder, "test", pairs(100, 3)),
                 "subword": {"type": "bpe", "vocab_size": 48, "joint": True}, "max_len": 80},
        "model": {"encoder": {"emb_size": 64, "hidden_size": 128, "dropout": 0.1},
                  "decoder": {"emb_size": 64, "hidden_size": 256, "dropout": 0.1}},  # 2 x 128: dot works
        "train": {"batch_size": 64, "lr": 0.002, "max_steps": plan.steps, "val_every": plan.steps,
                  "early_stopping_patience": None, "heatmaps": 0, "log_every": 50,
                  "val_max_sentences": 100, "schedule": {"type": "constant"}, "precision": "fp32"},
        "decode": {"beam": 1},
    }


def _romanisation_tree(plan: Plan) -> dict:
    """The bundled romanisation recipe, trained for `plan.romanisation_steps`."""
    from seqattn.recipe import recipe_path
    from seqattn.safe_yaml import read_yaml

    tree = read_yaml(recipe_path("korean_romanization"))
    tree["train"].update(max_steps=plan.romanisation_steps, val_every=plan.romanisation_steps,
                         early_stopping_patience=None, samples=[], heatmaps=0, precision="fp32",
                         schedule={"type": "constant"})
    tree["decode"] = {"beam": 1}
    return tree


def _multi30k_tree(data: str, minutes: float) -> dict:
    d = Path(data)
    return {
        "name": "faithfulness-multi30k",
        "data": {"train": {"src": str(d / "train.de.gz"), "tgt": str(d / "train.en.gz")},
                 "dev": {"src": str(d / "val.de.gz"), "tgt": str(d / "val.en.gz")},
                 "test": {"src": str(d / "test_2016_flickr.de.gz"), "tgt": str(d / "test_2016_flickr.en.gz")},
                 "subword": {"vocab_size": 8000}, "max_len": 80},
        "train": {"max_minutes": minutes, "val_every": 1000, "heatmaps": 0},
        "decode": {"beam": 1},
    }


def _score_arm(task: str, score: str) -> Arm:
    return Arm(f"{task} {score}", [f"model.attention.type={score}"])


# ----------------------------------------------------------------------------- measuring


Item = tuple[list[int], list[int] | None, list[int] | None]  # source ids, output ids (None: the
# model's own greedy output), the true source position of each output token (None: unknown)


@dataclass
class Measured:
    """One trained arm's numbers, pooled over its sentences' output tokens."""

    task: str
    score: str
    sentences: int = 0
    tau: dict[str, list[float]] = field(default_factory=dict)  # method -> tau per output token
    wrong: dict[str, list[int]] = field(default_factory=dict)  # method -> [wrong, counted]
    steps: dict[str, list[float]] = field(default_factory=dict)  # StepOutcome field -> per step
    # the arm's own greedy output against the reference, where the task has one (synthetic,
    # romanisation): [symbols right (same position), symbols, sequences right, sequences]
    accuracy: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    test_bleu: tuple[float, int] | None = None  # Multi30k arms: training's greedy test BLEU, sentences

    def count_output(self, output: list[int], reference: list[int]) -> None:
        """Add one greedy output, checked against its reference, to `accuracy`."""
        right = sum(a == b for a, b in zip(output, reference))
        self._add_accuracy((right, len(reference), int(output == reference), 1))

    def _add_accuracy(self, counts: Sequence[int]) -> None:
        self.accuracy = [a + b for a, b in zip(self.accuracy, counts)]

    def add(self, other: Measured) -> None:
        """Pool `other` (the same arm, other sentences) into this."""
        self.sentences += other.sentences
        for mine, theirs in ((self.tau, other.tau), (self.steps, other.steps)):
            for key, values in theirs.items():
                mine.setdefault(key, []).extend(values)
        for key, (wrong, counted) in other.wrong.items():
            tally = self.wrong.setdefault(key, [0, 0])
            tally[0], tally[1] = tally[0] + wrong, tally[1] + counted
        self._add_accuracy(other.accuracy)


def measure_item(model: Seq2Seq, item: Item, found: Measured, ig_steps: int, adversarial: bool,
                 seed: int) -> None:
    """All three claims on one sentence, added to `found`: every method's map, compared with
    attention and with the true alignment when known, and the counterfactual steps."""
    src_ids, tgt_ids, truth = item
    maps = {m: attribute_ids(model, src_ids, tgt_ids, m, steps=ig_steps) for m in METHODS}
    for method in ATTRIBUTIONS:
        found.tau.setdefault(method, []).extend(row_agreement(maps["attention"], maps[method]))
    found.tau.setdefault(" vs ".join(REFERENCE_PAIR), []).extend(
        row_agreement(maps[REFERENCE_PAIR[0]], maps[REFERENCE_PAIR[1]]))
    if truth is not None:
        for method in METHODS:
            wrong, counted = alignment_errors(maps[method], truth)
            tally = found.wrong.setdefault(method, [0, 0])
            tally[0], tally[1] = tally[0] + wrong, tally[1] + counted
    generator = torch.Generator().manual_seed(seed)
    outcome = counterfactuals(StepReplay(model, src_ids, tgt_ids), generator, adversarial)
    for name, values in vars(outcome).items():
        found.steps.setdefault(name, []).extend(values)
    found.sentences += 1


def synthetic_items(translator: Translator, task: str, plan: Plan) -> list[Item]:
    """Test sequences (seed 3) of the task, the reference forced, each symbol one piece."""
    lo, hi = plan.lengths
    items: list[Item] = []
    for src, tgt in synthetic_pairs(task, plan.sentences, seed=3, min_len=lo, max_len=hi):
        src_ids = translator.subwords.encode_src([src])[0]
        tgt_ids = translator.subwords.encode_tgt([tgt])[0]
        n = len(src.split())
        if len(src_ids) == len(tgt_ids) == n:  # one piece per symbol (48 BPE pieces: always)
            items.append((src_ids, tgt_ids, synthetic_alignment(task, n)))
    return items


def romanisation_items(translator: Translator, plan: Plan) -> tuple[list[Item], dict]:
    """The test split's syllable-by-syllable pairs (`alignment`), one piece per syllable and
    per letter; returns the first `plan.sentences` and how many pairs each stage kept."""
    from seqattn.data.pipeline import load_splits

    _, _, test = load_splits(translator.cfg.data)
    kept = romanisation_pairs(test.src, test.tgt)
    items: list[Item] = []
    for word, romanised, truth in kept:
        src_ids = translator.subwords.encode_src([word])[0]
        tgt_ids = translator.subwords.encode_tgt([romanised])[0]
        if len(src_ids) == len(word) and len(tgt_ids) == len(romanised):
            items.append((src_ids, tgt_ids, truth))
    counts = {"test_pairs": len(test.src), "syllable_by_syllable": len(kept), "one_piece_each": len(items)}
    return items[: plan.sentences], counts


def _items(translator: Translator, task: str, plan: Plan, data: str | None) -> tuple[list[Item], dict]:
    if task == "romanisation":
        return romanisation_items(translator, plan)
    if task == "multi30k":
        from seqattn.data.corpus import read_lines

        sources = read_lines(str(Path(data or ".") / "test_2016_flickr.de.gz"))[: plan.multi30k_sentences]
        return [(ids, None, None) for ids in translator.subwords.encode_src(sources)], {}
    return synthetic_items(translator, task, plan), {}


def measure_part(run_dir: str, task: str, score: str, plan: Plan, data: str | None, part: int, parts: int
                 ) -> tuple[Measured, dict]:
    """Sentences part, part + parts, ... of one trained arm (a job for `side_by_side`); each
    sentence is measured the same whichever part it falls in (its seed is its index)."""
    translator = Translator.load(run_dir)
    items, notes = _items(translator, task, plan, data)
    found = Measured(task, score)
    for index in range(part, len(items), parts):
        src_ids, tgt_ids, truth = items[index]
        greedy = greedy_ids(translator, src_ids)
        if tgt_ids is None:
            tgt_ids = greedy
        else:
            found.count_output(greedy, tgt_ids)
        if tgt_ids:  # (an empty greedy output has nothing to explain)
            measure_item(translator.model, (src_ids, tgt_ids, truth), found, plan.ig_steps,
                         index < plan.adversarial_sentences, seed=index)
    return found, notes


def measure_arms(arms: Sequence[tuple[Path, str, str]], plan: Plan, data: str | None
                 ) -> tuple[list[Measured], dict]:
    """Measure every (run directory, task, score) arm, each split in two halves so that two
    processes (one thread each) share the work evenly; the halves are pooled again."""
    parts = 2
    jobs = [(str(run_dir), task, score, plan, data, part, parts) for run_dir, task, score in arms
            for part in range(parts)]
    results = side_by_side(measure_part, jobs)
    measured, notes = [], {}
    for first in range(0, len(results), parts):
        whole, found_notes = results[first]
        for half, _ in results[first + 1 : first + parts]:
            whole.add(half)
        measured.append(whole)
        notes.update({f"{whole.task}_{k}": v for k, v in found_notes.items()})
    return measured, notes


def _test_bleu(run_dir: str | Path) -> tuple[float, int] | None:
    """The test BLEU a run's training printed (results.json) and its sentences, if it has them."""
    path = RunDir(run_dir).results
    test = json.loads(path.read_text(encoding="utf-8")).get("test", {}) if path.exists() else {}
    return (float(test["bleu"]), int(test["sentences"])) if "bleu" in test else None


# ----------------------------------------------------------------------------- the study


def run(out: Path, quick: bool = False, data: str | None = None, seeds: int | None = None,
        minutes: float = 12.0) -> dict:
    """Train the arms, measure the three claims, write results.csv, figures and summary.md;
    returns `faithfulness_report.key_numbers`. (`seeds` is accepted for a uniform interface:
    one seed per arm.)"""
    from seqattn.studies import faithfulness_report as report

    plan = QUICK if quick else FULL
    start = time.monotonic()
    jobs = []
    for task in ("copy", "reverse", "romanisation"):
        tree = (_romanisation_tree(plan) if task == "romanisation"
                else _synthetic_tree(out / "data" / task, task, plan))
        scores = SCORES if task == "copy" or plan.scores_everywhere else ("general",)
        jobs += [(tree, _score_arm(task, score), 1) for score in scores]
    trained = train_tasks(jobs, out)
    translators = {arm.name: translator for (_, arm, _), (translator, _, _) in zip(jobs, trained)}
    arms = [(translators[arm.name].run_dir, *arm.name.split()) for _, arm, _ in jobs]
    measured, notes = measure_arms(arms, plan, None)
    wall = {"synthetic_wall_minutes": round((time.monotonic() - start) / 60, 1)}
    reverse = translators["reverse general"]
    example = (reverse, synthetic_items(reverse, "reverse", plan)[0])
    if data:
        start = time.monotonic()
        tree = _multi30k_tree(data, minutes / len(SCORES))
        runs = {s: train_arm(tree, _score_arm("multi30k", s), 1, out / "multi30k")[0] for s in SCORES}
        multi30k = measure_arms([(tr.run_dir, "multi30k", s) for s, tr in runs.items()], plan, data)[0]
        for m, tr in zip(multi30k, runs.values()):
            m.test_bleu = _test_bleu(tr.run_dir)
        measured += multi30k
        general = runs["general"]
        src_ids = _items(general, "multi30k", plan, data)[0][0][0]
        example = (general, (src_ids, greedy_ids(general, src_ids), None))
        wall["multi30k_wall_minutes"] = round((time.monotonic() - start) / 60, 1)
    settings = {"quick": quick, "plan": asdict(plan), "multi30k": data or "not run",
                "multi30k_training_minutes": f"{minutes:g} in all, {minutes / len(SCORES):g} per arm"
                if data else "-", **notes, **wall}
    report.write(out, measured, example, settings)
    return report.key_numbers(measured)
