"""The loaded models: unique names, their descriptions, and how one batch is run and rendered."""

from __future__ import annotations

import gzip
import json
import math
import time
import zlib
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seqattn.choices import DEFAULT_ENSEMBLE_RULE
from seqattn.config import Config, CorpusSpec
from seqattn.data.corpus import resolve_path
from seqattn.deploy import ExportedTranslator, is_export
from seqattn.ensemble import Ensemble
from seqattn.errors import SeqattnError
from seqattn.limits import MAX_SOURCE_TOKENS, max_output_length
from seqattn.results import Sampling, prefix_inputs, sampling_inputs
from seqattn.serve.batcher import Batcher, Job
from seqattn.serve.schemas import Architecture, DecoderInfo, EncoderInfo, ModelInfo, TranslateRequest
from seqattn.translator import Translation, Translator


def unique_names(names: Sequence[str]) -> list[str]:
    """Keep names as they are, except that repeats get '-2', '-3', ... (and empty ones 'model')."""
    seen: set[str] = set()
    out = []
    for name in names:
        base = name or "model"
        candidate, n = base, 1
        while candidate in seen:
            n += 1
            candidate = f"{base}-{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


Served = Translator | ExportedTranslator  # a run directory's model, or an exported one


def member_labels(paths: Sequence[str]) -> list[str]:
    """An ensemble's runs as the API shows them: each folder's basename (repeats get '-2', ...),
    never the server's paths."""
    return unique_names([Path(p).name for p in paths])


def parse_ensembles(specs: Sequence[str]) -> dict[str, list[str]]:
    """`--ensemble NAME=RUN1,RUN2` values as {name: runs}, checked."""
    found: dict[str, list[str]] = {}
    for spec in specs:
        name, _, runs = spec.partition("=")
        paths = [r for r in runs.split(",") if r]
        if not name or not paths:
            raise SeqattnError(f"--ensemble takes NAME=RUN1,RUN2 (got '{spec}')")
        if name in found:
            raise SeqattnError(f"--ensemble: the name '{name}' is given twice")
        found[name] = paths
    return found


def load_translators(run_dirs: Sequence[str | Path], device: str = "auto", precision: str = "fp32",
                     quantize: str | None = None, ensembles: Sequence[str] = (),
                     rule: str = DEFAULT_ENSEMBLE_RULE) -> dict[str, Served]:
    """Load each run directory or exported folder; a model is named after its folder's basename.
    Each `ensembles` value, NAME=RUN1,RUN2, adds those runs as one model called NAME."""
    groups = parse_ensembles(ensembles)
    paths = [Path(p) for p in run_dirs]
    names = unique_names([p.resolve().name for p in paths])
    for name in groups:
        if name in names:
            raise SeqattnError(f"--ensemble {name}: '{name}' already names a served run; pick another name")
    models: dict[str, Served] = {name: (ExportedTranslator if is_export(path) else Translator).load(
                                     path, device=device, precision=precision, quantize=quantize)
                                 for name, path in zip(names, paths)}
    for name, runs in groups.items():
        models[name] = Ensemble.load(runs, device=device, precision=precision, quantize=quantize, rule=rule)
    return models


def name_translators(models: Mapping[str, Served] | Sequence[Served]) -> dict[str, Served]:
    """Accept {name: translator} as given, or a list named by each run's config name."""
    if isinstance(models, Mapping):
        return dict(models)
    models = list(models)
    return dict(zip(unique_names([t.cfg.name for t in models]), models))


HEAVY_PAUSE_S = 0.002  # how long the heavy lane sleeps at a time while the ordinary lane is busy
MAX_EXAMPLES = 6
MAX_EXAMPLE_CHARS = 200


def model_examples(cfg: Config, n: int = MAX_EXAMPLES, read_files: bool = True) -> list[str]:
    """Example inputs for the page: the run's `train.samples`, else (`read_files`) the first short
    lines of its dev set's source side when that file can be read; else none."""
    if cfg.train.samples:
        return [s for s in cfg.train.samples if s.strip()][:n]
    return _first_lines(cfg.data.dev, n) if cfg.data.dev is not None and read_files else []


def _first_lines(spec: CorpusSpec, n: int, block: int = 1 << 16) -> list[str]:
    """Up to `n` non-empty source lines of at most MAX_EXAMPLE_CHARS from the first `block`
    bytes of a corpus (plain or .gz, or a TSV's source column); [] when it cannot be read."""
    name = spec.tsv if spec.tsv is not None else spec.src
    try:
        path = resolve_path(str(name))
        with (gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")) as f:
            raw = f.read(block)
        lines = raw.decode("utf-8", errors="replace").lstrip("\ufeff").split("\n")
    except (OSError, EOFError, zlib.error, SeqattnError):
        return []
    if len(raw) == block:
        lines.pop()  # cut off by the block's end
    found = []
    for line in lines:
        if spec.tsv is not None:
            columns = line.split("\t")
            line = columns[spec.src_column] if spec.src_column < len(columns) else ""
        line = line.strip()
        if line and len(line) <= MAX_EXAMPLE_CHARS and "\ufffd" not in line:
            found.append(line)
        if len(found) == n:
            break
    return found


def model_info(name: str, translator: Served) -> ModelInfo:
    """How GET /v1/models describes a model. An exported model's parameters are counted by its
    manifest, its device says it is exported, and its examples are its config's samples only (a
    shipped manifest names its dev file on the machine it was exported on: not read here)."""
    cfg = translator.cfg
    enc, dec = cfg.model.encoder, cfg.model.decoder
    exported = isinstance(translator, ExportedTranslator)
    members = translator.members if isinstance(translator, Ensemble) else [translator]
    attention = next((m.cfg.model.attention.type for m in members if m.cfg.model.attention.type != "none"),
                     "none")
    if isinstance(translator, ExportedTranslator):  # (the same test, spelled so a type checker follows)
        parameters = int(translator.manifest["model"]["parameters"])
        device = f"cpu, exported (ONNX Runtime, {translator.weights_label})"
    elif isinstance(translator, Ensemble):
        parameters = sum(p.numel() for m in translator.members for p in m.model.parameters())
        device = str(translator.device)
    else:
        parameters, device = sum(p.numel() for p in translator.model.parameters()), str(translator.device)
    return ModelInfo(
        name=name,
        src_lang=cfg.data.src_lang,
        tgt_lang=cfg.data.tgt_lang,
        src_vocab_size=translator.subwords.src_vocab_size,
        tgt_vocab_size=translator.subwords.tgt_vocab_size,
        default_beam=cfg.decode.beam,
        device=device,
        exported=exported,
        architecture=Architecture(
            encoder=EncoderInfo(rnn=enc.rnn, hidden_size=enc.hidden_size, layers=enc.layers,
                                bidirectional=enc.bidirectional),
            decoder=DecoderInfo(rnn=dec.rnn, hidden_size=dec.hidden_size, layers=dec.layers,
                                input_feeding=dec.input_feeding),
            attention=attention,
            parameters=parameters,
        ),
        members=member_labels(translator.names) if isinstance(translator, Ensemble) else [],
        examples=model_examples(cfg, read_files=not exported),
    )


def _score(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None  # JSON has no inf/NaN


def _attention(matrix: np.ndarray | None) -> list[list[float]] | None:
    if matrix is None:
        return None
    clean = np.nan_to_num(np.asarray(matrix, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return np.round(clean, 4).tolist()


def render_tree(t: Translation, pieces) -> list[dict] | None:
    """A Translation's search tree as the API's TreeNode list (None when not recorded)."""
    if t.tree is None:
        return None
    return [{"id": n.id, "parent": n.parent, "step": n.step, "token": pieces([n.token])[0],
             "score": _score(n.score), "status": n.status,
             "attention": None if n.attention is None else _attention(n.attention[None])[0]}
            for n in t.tree]


def render_result(t: Translation, attention: bool, tree: list[dict] | None = None) -> dict:
    """One Translation as the API's TranslationResult (plain JSON-ready values)."""
    return {
        "source": t.source,
        "src_tokens": list(t.src_tokens),
        "truncated": bool(t.truncated),
        "unknown": int(t.unknown),
        "hypotheses": [
            {"text": h.text, "score": _score(h.score), "tgt_tokens": list(h.tgt_tokens),
             "attention": _attention(h.attention) if attention else None}
            for h in t.hypotheses
        ],
        "tree": tree,
    }


@dataclass
class ModelSlot:
    """A served model: its name, translator, description and two request lanes, each with its
    own worker thread: `batcher` for ordinary requests, `heavy` for those over the server's
    heavy-work threshold, so a few large requests cannot hold up everyone else."""

    name: str
    translator: Served
    info: ModelInfo
    batcher: Batcher = field(init=False)
    heavy: Batcher = field(init=False)

    def count_tokens(self, texts: Sequence[str]) -> int:
        """Source subwords (plus '</s>' each): the cost the batch token budget counts."""
        return sum(self.source_lengths(texts))

    def source_lengths(self, texts: Sequence[str]) -> list[int]:
        """Each text's source subwords, '</s>' included."""
        return [len(ids) + 1 for ids in self.translator.subwords.encode_src(list(texts))]

    def output_limit(self, source_length: int) -> int:
        """The most output subwords decoding allows for a source of this length."""
        d = self.translator.cfg.decode
        return max_output_length(source_length, d.max_len_a, d.max_len_b)

    def check_prefix(self, texts: Sequence[str], prefix: str | Sequence[str]) -> None:
        """Refuse, with translate's words, a prefix this model cannot start its outputs with."""
        if self.info.exported:
            raise SeqattnError(f"model '{self.name}' is exported: it decodes by greedy and beam search only "
                               "(a prefix needs the run directory it was exported from)")
        src_ids = [ids[:MAX_SOURCE_TOKENS] for ids in self.translator.subwords.encode_src(list(texts))]
        prefix_inputs(self.translator.subwords, self.translator.cfg.decode, prefix, src_ids)

    def sampling(self, req: TranslateRequest) -> Sampling | None:
        """A TranslateRequest's sampling settings over the model's `decode.sampling`, checked with
        translate's words; None when its outputs are searched for."""
        fields = (req.sample, req.seed, req.temperature, req.top_k, req.top_p)
        if self.info.exported:
            if any(f is not None for f in fields):
                raise SeqattnError(f"model '{self.name}' is exported: it decodes by greedy and beam search "
                                   "only (sampling needs the run directory it was exported from)")
            return None
        return sampling_inputs(self.translator.cfg.decode.sampling, *fields, req.beam, req.n_best, req.tree)

    def run_heavy_batch(self, key: Hashable, jobs: list[Job]) -> list[bytes]:
        """The heavy lane's worker: as `run_batch`, but before each decoding step it steps
        aside (sleeps, releasing the CPU and the GIL) while the ordinary lane runs a batch."""
        def yield_to_light() -> None:
            while self.batcher.running:
                time.sleep(HEAVY_PAUSE_S)

        return self.run_batch(key, jobs, yield_to_light)

    def run_batch(self, key: Hashable, jobs: list[Job], on_step=None) -> list[bytes]:
        """Worker thread: translate every job's texts in one call; one JSON body per job. The key
        is (beam, n_best, tree, sampling: (samples, temperature, top_k, top_p) or None); a job's
        payload is (attention wanted, its texts' prefixes or None, their seeds or None)."""
        beam, n_best, tree, drawn = key
        texts = [t for job in jobs for t in job.texts]
        extra: dict = {}
        if any(job.payload[1] is not None for job in jobs):
            extra["prefix"] = [p for job in jobs for p in (job.payload[1] or [""] * len(job.texts))]
        if drawn is not None:
            extra.update(zip(("sample", "temperature", "top_k", "top_p"), drawn))
            extra.update(seed=[s for job in jobs for s in job.payload[2]], beam=None, n_best=None)
        translations = self.translator.translate(texts, **{"beam": beam, "n_best": n_best, **extra},
                                                 batch_size=max(1, len(texts)), tree=tree, on_step=on_step)
        bodies, start = [], 0
        for job in jobs:
            part = translations[start : start + len(job.texts)]
            start += len(job.texts)
            body = {"model": self.name, "beam": beam, "n_best": n_best, "sample": drawn and drawn[0],
                    "results": [render_result(t, bool(job.payload[0]),
                                              render_tree(t, self.translator.subwords.tgt_pieces))
                                for t in part]}
            bodies.append(json.dumps(body, ensure_ascii=False, allow_nan=False,
                                     separators=(",", ":")).encode("utf-8"))
        return bodies


def make_slots(translators: Mapping[str, Served], batcher_options: dict,
               heavy_options: dict | None = None) -> dict[str, ModelSlot]:
    slots = {}
    for name, translator in translators.items():
        slot = ModelSlot(name, translator, model_info(name, translator))
        slot.batcher = Batcher(slot.run_batch, name=name, **batcher_options)
        slot.heavy = Batcher(slot.run_heavy_batch, name=f"{name}-heavy", **(heavy_options or batcher_options))
        slots[name] = slot
    return slots
