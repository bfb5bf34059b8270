"""The catalogue of bad inputs in docs/ERRORS.md, one test per row.

Each CLI row runs the real `seqattn` entry point in-process and checks: a non-zero exit
status, exactly one `seqattn: error:` line naming what is wrong and where (the last line of
stderr; training may print progress lines before it), no traceback unless `--debug` is
given (then there is one), and a folder tree that is byte-for-byte unchanged.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml

from seqattn import precision
from seqattn.cli import main
from seqattn.precision import Bf16Support
from tests.conftest import REPO, tiny_tree
from tests.train.runs import one_thread  # noqa: F401 (a fixture)

DOC = REPO / "docs" / "ERRORS.md"
pytestmark = pytest.mark.usefixtures("one_thread")


@dataclass
class Case:
    id: str
    argv: list[str]  # "{w}" is the world folder
    expect: str  # part of the error line
    setup: Callable[[Path], None] | None = None
    stdin: bytes | None = None
    resumes: str | None = None  # run (in the world) whose train.log may record the failed attempt
    bf16: Bf16Support | None = None  # what the precision probe finds on this imagined machine
    onnxruntime: str | None = None  # the ONNX Runtime version this imagined machine has installed


NO_BF16 = Bf16Support(trains=False, decodes=False, native=False,
                      detail="oneDNN has no bf16 LSTM kernel for this CPU (imagined by the test)")


def _tree(w: Path) -> dict:
    return yaml.safe_load((w / "good.yaml").read_text(encoding="utf-8"))


def _config(name: str, change: Callable[[dict, Path], None]) -> Callable[[Path], None]:
    """Write {w}/NAME.yaml: the good config with `change(tree, w)` applied."""
    def setup(w: Path) -> None:
        tree = _tree(w)
        change(tree, w)
        (w / f"{name}.yaml").write_text(yaml.safe_dump(tree), encoding="utf-8")
    return setup


def _corpus(name: str, src: bytes, tgt: bytes | None = None, drop: tuple[str, ...] = ()) -> Callable:
    """Write NAME.src/.tgt (tgt: the good training targets) and NAME.yaml training on them."""
    def change(tree: dict, w: Path) -> None:
        (w / f"{name}.src").write_bytes(src)
        (w / f"{name}.tgt").write_bytes(tgt if tgt is not None else (w / "data" / "train.tgt").read_bytes())
        tree["data"]["train"] = {"src": str(w / f"{name}.src"), "tgt": str(w / f"{name}.tgt")}
        for split in drop:
            tree["data"].pop(split)
    return _config(name, change)


def _broken_gzip() -> bytes:
    data = gzip.compress("".join(f"line {i} of many\n" for i in range(2000)).encode())
    return data[: len(data) // 2]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _text(name: str, text: str) -> Callable[[Path], None]:
    def setup(w: Path) -> None:
        (w / name).write_text(text, encoding="utf-8")
    return setup


def _run_copy(name: str, damage: Callable[[Path], None]) -> Callable[[Path], None]:
    """Copy the trained run to {w}/NAME and damage it."""
    def setup(w: Path) -> None:
        shutil.copytree(w / "run", w / name)
        damage(w / name)
    return setup


def _laughs(sep: str = "\n") -> str:
    """'Billion laughs': nine levels, each a list of nine aliases of the one before (9**9 values)."""
    rows = ["l0: &l0 [" + ", ".join(["lol"] * 9) + "]"]
    rows += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return sep.join(rows)


def _lines(n: int) -> bytes:
    return b"".join(b"alpha beta\n" for _ in range(n))


def _zero_width(name: str, split: str) -> Callable[[Path], None]:
    """{w}/NAME.yaml whose `split` is 20 lines of a zero-width space on both sides."""
    def change(tree: dict, w: Path) -> None:
        for side in ("src", "tgt"):
            (w / f"zw.{side}").write_text("\u200b\n" * 20, encoding="utf-8")
        _set(split, {"src": str(w / "zw.src"), "tgt": str(w / "zw.tgt")})(tree, w)
    return _config(name, change)


def _set(path: str, value) -> Callable[[dict, Path], None]:
    def change(tree: dict, _w: Path) -> None:
        node = tree
        *parents, last = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return change


def _exported(w: Path) -> None:
    """{w}/exported: the trained run exported (once; later cases reuse it)."""
    from seqattn.export import export_run

    if not (w / "exported").is_dir():
        export_run(w / "run", w / "exported")


def _char_run(w: Path) -> None:
    """{w}/charrun/run: a run whose vocabularies (characters, symbols) differ from {w}/run's."""
    from tests.deploy.runs import make_run

    if not (w / "charrun").is_dir():
        make_run(w / "charrun", vocab="char")


def _mismatched_config(run: Path) -> None:
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["model"]["decoder"]["hidden_size"] = 48
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))


def _truncate_best(run: Path) -> None:
    path = run / "model.safetensors"
    path.write_bytes(path.read_bytes()[:1000])


def _newer_weights(run: Path) -> None:
    from seqattn.weights import read_tensors, tensors_to_bytes

    path = run / "model.safetensors"
    path.write_bytes(tensors_to_bytes(read_tensors(path), {"seqattn.format": "2", "seqattn.version": "9.0"}))


def _corrupt_checkpoints(run: Path) -> None:
    for state in (run / "checkpoints").glob("step_*/trainer_state.json"):
        state.write_text(state.read_text()[:50])


def _newer_checkpoints(run: Path) -> None:
    import json

    for state in (run / "checkpoints").glob("step_*/trainer_state.json"):
        data = json.loads(state.read_text())
        data.update(format=2, version="9.0")
        state.write_text(json.dumps(data))


TRAIN = ["train", "{w}/NAME.yaml", "--out", "{w}/out"]
_LETTERS = {"src_type": "char", "tgt_type": "symbols", "joint": False, "vocab_size": 100}


def _train(name: str) -> list[str]:
    return [a.replace("NAME", name) for a in TRAIN]


CASES = [
    # ------------------------------------------------------------------ corpora
    Case("corpus-line-mismatch", _train("short"), "has 199 lines but",
         _corpus("short", _lines(199))),
    Case("corpus-invalid-utf8", _train("latin1"), "latin1.src:2: invalid UTF-8 (byte 4 of the line)",
         _corpus("latin1", b"alpha\nbet\xe4 gamma\n", b"A\nB\n")),
    Case("corpus-nul-byte", _train("nul"), "nul.src:1: contains a NUL byte",
         _corpus("nul", b"a\x00b\n", b"A\n")),
    Case("corpus-cr-line-ends", _train("mac"), "mac.src:1: carriage return (CR) inside the line",
         _corpus("mac", b"alpha\rbeta\r", b"A\n")),
    Case("corpus-stray-bom", _train("glued"), "glued.src:3: starts with a byte-order mark",
         _corpus("glued", b"a\nb\n\xef\xbb\xbfc\n", b"A\nB\nC\n")),
    Case("corpus-huge-line", _train("huge"), "huge.src:1: line is 200,000 characters long (at most 100,000)",
         _corpus("huge", b"a" * 200_000, b"A\n")),
    Case("corpus-empty-file", _train("empty"), "empty corpus", _corpus("empty", b"", b"")),
    Case("corpus-tsv-missing-column", _train("tsv"),
         "c.tsv:2: expected at least 2 tab-separated columns, found 1",
         _config("tsv", lambda t, w: (w.joinpath("c.tsv").write_text("hello\thallo\nno-tab-here\n"),
                                      t["data"].update(train={"tsv": str(w / "c.tsv")})))),
    Case("corpus-missing-file", _train("gone"), "nothing.src: file not found",
         _config("gone", _set("data.train.src", "nothing.src"))),
    Case("corpus-folder-not-file", _train("dir"), "data: is a folder, not a text file",
         _config("dir", lambda t, w: t["data"]["train"].update(src=str(w / "data")))),
    Case("corpus-not-a-regular-file", ["train", "{w}/good.yaml", "data.train.src=/dev/null", "--out",
                                       "{w}/devnull"],
         "/dev/null: is a character device, not a regular file; training data must be a regular file "
         "because it is read more than once"),
    Case("corpus-broken-gzip", _train("gz"), "bad.src.gz: cannot read (broken gzip",
         _config("gz", lambda t, w: (w.joinpath("bad.src.gz").write_bytes(_broken_gzip()),
                                     t["data"]["train"].update(src=str(w / "bad.src.gz"))))),
    Case("corpus-too-small-to-split", _train("few"),
         "10 pairs cannot be split into dev (300) and test (300)",
         _corpus("few", _lines(10), _lines(10), drop=("dev", "test"))),
    Case("corpus-all-pairs-too-long", _train("long"),
         "no training pairs left after skipping empty and over-long",
         _config("long", _set("data.max_len", 1))),
    Case("corpus-symbols-no-phonemes", _train("g2p"),
         "g2p.tsv:2: no symbols on the target side (column 1), only spaces or nothing",
         _config("g2p", lambda t, w: (w.joinpath("g2p.tsv").write_text("nation\tN EY1 SH AH0 N\ncat\t\n"),
                                      t["data"].update(train={"tsv": str(w / "g2p.tsv"), "src_column": 0,
                                                              "tgt_column": 1}),
                                      _set("data.subword", _LETTERS)(t, w)))),
    Case("corpus-symbols-only-spaces", _train("spaces"),
         "spaces.tgt:3: no symbols on the target side, only spaces or nothing",
         _config("spaces", lambda t, w: (
             w.joinpath("spaces.src").write_text("a\nb\nc\n"),
             w.joinpath("spaces.tgt").write_text("A\nB\n   \n"),
             t["data"].update(train={"src": str(w / "spaces.src"), "tgt": str(w / "spaces.tgt")}),
             _set("data.subword", _LETTERS)(t, w)))),
    Case("corpus-too-many-symbols", _train("manysym"),
         "20 distinct symbols but data.subword.vocab_size allows 12 (plus 4 special tokens)",
         _config("manysym", lambda t, w: (
             w.joinpath("many.src").write_text("".join(f"w{i}\n" for i in range(20))),
             w.joinpath("many.tgt").write_text("".join(f"S{i}\n" for i in range(20))),
             t["data"].update(train={"src": str(w / "many.src"), "tgt": str(w / "many.tgt")}),
             _set("data.subword", {**_LETTERS, "vocab_size": 16})(t, w)))),
    # ------------------------------------------------------------------ configs
    Case("config-unknown-key", _train("typo"),
         "unknown key 'model.encoder.hiden_size' (did you mean 'hidden_size'?)",
         _config("typo", _set("model.encoder.hiden_size", 8))),
    Case("config-unknown-override", ["train", "{w}/good.yaml", "train.lrr=0.1"], "unknown key 'train.lrr' "
         "(did you mean 'lr'?)"),
    Case("config-wrong-type", ["train", "{w}/good.yaml", "train.batch_size=many"],
         "train.batch_size: Input should be a valid integer"),
    Case("config-negative-size", ["train", "{w}/good.yaml", "model.encoder.hidden_size=-4"],
         "model.encoder.hidden_size: Input should be greater than or equal to 1"),
    Case("config-dot-attention-sizes", ["train", "{w}/good.yaml", "model.attention.type=dot",
                                        "model.decoder.hidden_size=48"],
         "'dot' attention needs decoder.hidden_size (48) equal to the encoder output size (32"),
    Case("config-input-feeding-without-attention", ["train", "{w}/good.yaml", "model.attention.type=none",
                                                    "model.decoder.input_feeding=true"],
         "decoder.input_feeding needs attention"),
    Case("config-tied-embeddings-sizes", ["train", "{w}/good.yaml", "model.decoder.tie_embeddings=true"],
         "decoder.tie_embeddings needs decoder.emb_size (16) equal to decoder.hidden_size (32)"),
    Case("config-cosine-without-end", ["train", "{w}/good.yaml", "train.schedule.type=warmup_cosine",
                                       "train.max_steps=null"],
         "'warmup_cosine' needs train.schedule.total_steps"),
    Case("config-dropout-one", ["train", "{w}/good.yaml", "model.encoder.dropout=1"],
         "model.encoder.dropout: Input should be less than 1"),
    Case("config-fp16-on-cpu", ["train", "{w}/good.yaml", "train.precision=fp16", "train.device=cpu"],
         "precision fp16 runs on CUDA only"),
    Case("config-bf16-unsupported", ["train", "{w}/good.yaml", "train.precision=bf16", "train.device=cpu",
                                     "--out", "{w}/new-run"],
         "precision bf16: this CPU cannot run bf16 training", bf16=NO_BF16),
    Case("cli-translate-bf16-unsupported", ["translate", "{w}/run", "--precision", "bf16"],
         "precision bf16: this CPU cannot run bf16 decoding", stdin=b"alpha\n", bf16=NO_BF16),
    Case("cli-evaluate-bf16-unsupported", ["evaluate", "{w}/run", "--src", "{w}/data/test.src", "--ref",
                                           "{w}/data/test.tgt", "--precision", "bf16"],
         "precision bf16: this CPU cannot run bf16 decoding", bf16=NO_BF16),
    Case("data-dev-encodes-to-nothing", ["train", "{w}/zwdev.yaml", "--out", "{w}/zwrun"],
         "zw.src + ",  # "...: no dev pair left: all 20 encode to nothing on one side"
         _zero_width("zwdev", "data.dev")),
    Case("data-failed-setup-in-an-empty-out", ["train", "{w}/zwdev2.yaml", "--out", "{w}/emptyout"],
         "no dev pair left", lambda w: (_zero_width("zwdev2", "data.dev")(w), (w / "emptyout").mkdir())),
    Case("data-failed-setup-under-new-folders", ["train", "{w}/zwdev3.yaml", "--out", "{w}/new/parents/run"],
         "no dev pair left", _zero_width("zwdev3", "data.dev")),
    Case("data-test-encodes-to-nothing", ["train", "{w}/zwtest.yaml", "--out", "{w}/zwrun"],
         "no test pair left: all 20 encode to nothing on one side", _zero_width("zwtest", "data.test")),
    Case("config-both-layouts", _train("both"), "give either 'tsv' or 'src'+'tgt', not both",
         _config("both", _set("data.train.tsv", "x.tsv"))),
    Case("config-same-tsv-columns", _train("cols"), "src_column and tgt_column must differ",
         _config("cols", _set("data.train", {"tsv": "x.tsv", "src_column": 1, "tgt_column": 1}))),
    Case("config-invalid-yaml", ["train", "{w}/broken.yaml"], "broken.yaml: line 3 not valid YAML",
         _text("broken.yaml", "data:\n  train: [unclosed\n")),
    Case("config-python-tag", ["train", "{w}/evil.yaml"], "evil.yaml: line 1 not valid YAML",
         _text("evil.yaml", "!!python/object/apply:os.system ['touch PWNED']\n")),
    Case("config-deeply-nested", ["train", "{w}/deep.yaml"],
         "deep.yaml: lists or mappings nested more than 16 levels deep (a config needs at most five)",
         _text("deep.yaml", "data: " + "[" * 400 + "]" * 400 + "\n")),
    Case("config-too-deep-to-parse", ["train", "{w}/deeper.yaml"],
         "deeper.yaml: lists or mappings nested too deeply to read",
         _text("deeper.yaml", "data: " + "[" * 5000 + "]" * 5000 + "\n")),
    Case("config-alias-bomb", ["train", "{w}/laughs.yaml"],
         "laughs.yaml: anchors and aliases (&name, *name) expand to more than 100,000 values",
         _text("laughs.yaml", _laughs() + "\n")),
    Case("cli-override-alias-bomb", ["train", "{w}/good.yaml", "train.samples={" + _laughs(", ") + "}"],
         "override 'train.samples': anchors and aliases (&name, *name) expand to more than 100,000 values"),
    Case("cli-override-deeply-nested", ["train", "{w}/good.yaml", "train.samples=" + "[" * 300 + "]" * 300],
         "override 'train.samples': lists or mappings nested more than 16 levels deep"),
    Case("config-not-a-mapping", ["train", "{w}/list.yaml"], "expected a mapping of sections",
         _text("list.yaml", "- data\n- model\n")),
    Case("config-missing-file", ["train", "{w}/nothere.yaml"], "nothere.yaml: config file not found"),
    Case("config-unknown-recipe", ["train", "nothere"], "nothere: no such config file, and no recipe of that "
         "name (recipes: cmudict_g2p, korean_romanization, multi30k_deen, tatoeba_koen)"),
    # ------------------------------------------------------------------ command line
    Case("cli-override-syntax", ["train", "{w}/good.yaml", "=5"],
         "bad override '=5': expected dotted.key=value"),
    Case("cli-override-not-a-section", ["train", "{w}/good.yaml", "train.lr.x=1"],
         "override 'train.lr.x': 'lr' is not a section"),
    Case("cli-two-configs", ["train", "{w}/good.yaml", "{w}/good.yaml"], "train takes one CONFIG"),
    Case("cli-out-not-empty", ["train", "{w}/good.yaml", "--out", "{w}/data"],
         "data: already exists and is not empty"),
    Case("cli-evaluate-output-is-the-source", ["evaluate", "{w}/run", "--src", "{w}/data/test.src", "--ref",
                                               "{w}/data/test.tgt", "--output", "{w}/data/test.src"],
         "test.src is the --src file; give another path (seqattn never writes over its input)"),
    Case("cli-evaluate-output-is-the-reference", ["evaluate", "{w}/run", "--src", "{w}/data/test.src",
                                                  "--ref", "{w}/data/test.tgt", "--output",
                                                  "{w}/data/../data/test.tgt"],
         "test.tgt is the --ref file; give another path"),
    Case("cli-translate-negative-batch-size", ["translate", "{w}/run", "--batch-size", "-1"],
         "batch size must be between 1 and 4096 sentences (got -1)", stdin=b"alpha\n"),
    Case("config-infinite-learning-rate", ["train", "{w}/good.yaml", "train.lr=.inf"],
         "good.yaml: train.lr: Input should be a finite number"),
    Case("config-infinite-output-length", ["train", "{w}/good.yaml", "decode.max_len_a=.inf"],
         "good.yaml: decode.max_len_a: Input should be a finite number"),
    Case("config-negative-seed", ["train", "{w}/good.yaml", "train.seed=-1"],
         "good.yaml: train.seed: Input should be greater than or equal to 0"),
    Case("config-huge-seed", ["train", "{w}/good.yaml", "data.split.seed=100000000000000000000"],
         "good.yaml: data.split.seed: Input should be less than 4294967296"),
    Case("config-model-too-large-for-memory", ["train", "{w}/good.yaml", "model.encoder.hidden_size=300000",
                                               "--out", "{w}/huge"],
         "model: 720,",  # parameters counted from the sizes, nothing allocated
    ),
    # (it used to end in "Storage size calculation overflowed": the count no longer builds the model)
    Case("config-model-size-overflows", ["train", "{w}/good.yaml", "model.encoder.hidden_size=3000000000",
                                         "--out", "{w}/huger"],
         "make the model smaller (model.encoder.hidden_size = 3,000,000,000 adds the most)"),
    Case("cli-explain-too-long", ["explain", "{w}/run", " ".join(["alpha beta gamma"] * 400)],
         "explain walks through one short sentence: this one is"),
    Case("cli-attribution-unknown-method", ["explain", "{w}/run", "alpha beta", "--attribution", "lime"],
         "unknown attribution method 'lime' (choose from attention, saliency, input_x_gradient, "
         "integrated_gradients, occlusion)"),
    Case("cli-attribution-steps-out-of-range", ["explain", "{w}/run", "alpha beta", "--attribution",
                                                "integrated_gradients", "--steps", "0"],
         "steps must be a whole number between 1 and 1000 (got 0)"),
    Case("cli-attribution-empty-output", ["explain", "{w}/run", "alpha beta", "--attribution", "saliency",
                                          "--output", " "], "the output is empty: give the output text"),
    Case("cli-attribution-empty-contrast", ["explain", "{w}/run", "alpha beta", "--attribution", "saliency",
                                            "--contrast", ""],
         "the contrast is empty: give the contrast text"),
    Case("cli-attribution-too-long", ["explain", "{w}/run", " ".join(["alpha"] * 101), "--attribution",
                                      "saliency"],
         "attributions cover one short sentence: the sentence is "),
    Case("cli-attribution-ensemble", ["explain", "{w}/run", "{w}/run2", "alpha", "--attribution", "saliency"],
         "an ensemble of 2 models has no single set of gradients: attributions need one PyTorch model",
         _run_copy("run2", lambda r: None)),
    Case("cli-attribution-exported", ["explain", "{w}/exported", "alpha", "--attribution", "saliency"],
         "an exported model runs without PyTorch: attributions need the run directory it was exported from",
         _exported),
    Case("cli-attribution-flag-alone", ["explain", "{w}/run", "alpha beta", "--contrast", "BETA"],
         "--contrast goes with --attribution METHOD"),
    Case("cli-attribution-without-maps", ["translate", "{w}/run", "--attribution", "saliency"],
         "--attribution draws heatmaps: give --attention-out DIR too"),
    Case("cli-out-is-a-file", ["train", "{w}/good.yaml", "--out", "{w}/good.yaml"],
         "good.yaml: exists and is not a directory (give another --out)"),
    Case("cli-prepare-out-is-a-file", ["prepare", "{w}/good.yaml", "--out", "{w}/good.yaml"],
         "good.yaml: exists and is not a directory (give another --out or data.prepared)"),
    Case("cli-resume-missing-run", ["train", "--resume", "{w}/nothere"], "nothere: run directory not found"),
    Case("cli-resume-foreign-folder", ["train", "--resume", "{w}/data"], "data: not a seqattn run directory"),
    Case("cli-resume-with-config", ["train", "{w}/good.yaml", "--resume", "{w}/run"], "drop CONFIG/--out"),
    Case("cli-translate-missing-run", ["translate", "{w}/nothere"], "nothere: run directory not found"),
    Case("cli-translate-foreign-folder", ["translate", "{w}/data"], "data: not a seqattn run directory"),
    Case("cli-translate-missing-input", ["translate", "{w}/run", "--input", "{w}/nothere.txt"],
         "nothere.txt: file not found"),
    Case("cli-beam-out-of-range", ["translate", "{w}/run", "--beam", "0", "--input", "{w}/data/dev.src"],
         "beam must be between 1 and 64 (got 0)"),
    Case("cli-n-best-over-beam", ["translate", "{w}/run", "--beam", "2", "--n-best", "3",
                                  "--input", "{w}/data/dev.src"],
         "n_best must be between 1 and the beam size 2"),
    Case("cli-ensemble-vocabularies-differ", ["translate", "{w}/run", "{w}/charrun/run", "--input",
                                              "{w}/data/dev.src"],
         "charrun/run cannot join an ensemble with ", _char_run),
    Case("cli-serve-ensemble-vocabularies-differ", ["serve", "--ensemble", "both={w}/run,{w}/charrun/run",
                                                    "--port", "0"],
         "charrun/run cannot join an ensemble with ", _char_run),
    Case("cli-serve-ensemble-syntax", ["serve", "{w}/run", "--ensemble", "nameless", "--port", "0"],
         "--ensemble takes NAME=RUN1,RUN2 (got 'nameless')"),
    Case("cli-ensemble-with-exported-folder", ["translate", "{w}/run", "{w}/exported", "--input",
                                               "{w}/data/dev.src"],
         "exported is an exported model: an ensemble is made of run directories", _exported),
    Case("cli-prefix-too-long", ["translate", "{w}/run", "--prefix", "ALPHA " * 40, "--input",
                                 "{w}/data/dev.src"],
         "prefix 1 is 240 subwords, but the output for its source ends by "),
    Case("cli-prefix-only-unknown", ["translate", "{w}/run", "--prefix", "漢字 ☃", "--input",
                                     "{w}/data/dev.src"],
         "prefix 1 ('漢字 ☃') is made only of tokens outside the model's target vocabulary"),
    Case("cli-prefix-file-misaligned", ["translate", "{w}/run", "--prefix-file", "{w}/one.txt", "--input",
                                        "{w}/data/dev.src"],
         "one.txt has 1 lines but the input has 20: they must be line-aligned", _text("one.txt", "ALPHA\n")),
    Case("cli-prefix-exported", ["translate", "{w}/exported", "--prefix", "ALPHA", "--input",
                                 "{w}/data/dev.src"],
         "exported: an exported model decodes by greedy and beam search only (--prefix needs the run",
         _exported),
    Case("cli-sample-too-many", ["translate", "{w}/run", "--sample", "101", "--input", "{w}/data/dev.src"],
         "samples must be between 0 (search) and 100 per input (got 101)"),
    Case("cli-sample-temperature-zero", ["translate", "{w}/run", "--sample", "2", "--temperature", "0",
                                         "--input", "{w}/data/dev.src"],
         "temperature must be more than 0 (got 0.0); near 0 sampling approaches greedy search"),
    Case("cli-sample-top-p-out-of-range", ["translate", "{w}/run", "--sample", "2", "--top-p", "1.5",
                                           "--input", "{w}/data/dev.src"],
         "top_p must be more than 0 and at most 1 (got 1.5); 1 keeps every token"),
    Case("cli-sample-with-beam", ["translate", "{w}/run", "--sample", "2", "--beam", "4", "--input",
                                  "{w}/data/dev.src"],
         "sampling draws outputs instead of searching: ask for samples or for a beam and n-best, not both"),
    Case("cli-sample-exported", ["translate", "{w}/exported", "--sample", "2", "--input", "{w}/data/dev.src"],
         "exported: an exported model decodes by greedy and beam search only (--sample needs the run",
         _exported),
    Case("cli-attention-out-is-a-file", ["translate", "{w}/run", "--attention-out", "{w}/good.yaml",
                                         "--input", "{w}/data/dev.src"],
         "good.yaml: cannot create folder (a file is in the way)"),
    Case("cli-evaluate-unknown-metric", ["evaluate", "{w}/run", "--src", "{w}/data/test.src", "--ref",
                                         "{w}/data/test.tgt", "--metrics", "wer,bleu4"],
         "--metrics: unknown metric 'bleu4' (choose from bleu, chrf, wer, per, cer)"),
    Case("config-joint-mixed-types", ["train", "{w}/good.yaml", "data.subword.src_type=char"],
         "data.subword: a joint vocabulary needs one type on both sides (source char, target bpe)"),
    Case("cli-evaluate-misaligned", ["evaluate", "{w}/run", "--src", "{w}/data/dev.src", "--ref",
                                     "{w}/data/train.tgt"], "must be line-aligned"),
    Case("cli-serve-missing-run", ["serve", "{w}/nothere"], "nothere: run directory not found"),
    Case("cli-serve-bad-port", ["serve", "{w}/run", "--port", "70000"],
         "--port must be between 0 and 65535 (got 70000)"),
    # ------------------------------------------------------------------ translation input
    Case("input-invalid-utf8", ["translate", "{w}/run", "--input", "{w}/latin1.txt"],
         "latin1.txt:2: invalid UTF-8", lambda w: w.joinpath("latin1.txt").write_bytes(b"ok\nna\xefve\n")),
    Case("input-invalid-utf8-stdin", ["translate", "{w}/run"], "stdin:3: invalid UTF-8",
         stdin=b"a\nb\n\xff\n"),
    Case("input-nul-byte-stdin", ["translate", "{w}/run"], "stdin:1: contains a NUL byte", stdin=b"a\x00\n"),
    # ------------------------------------------------------------------ run directories
    Case("run-config-does-not-match-weights", ["translate", "{w}/mismatch", "--input", "{w}/data/dev.src"],
         "mismatch/model.safetensors: weights do not match the run's config",
         _run_copy("mismatch", _mismatched_config)),
    Case("run-truncated-weights", ["translate", "{w}/cut", "--input", "{w}/data/dev.src"],
         "cut/model.safetensors: not a readable safetensors file, truncated or corrupt",
         _run_copy("cut", _truncate_best)),
    Case("run-weights-with-extra-bytes", ["translate", "{w}/extra", "--input", "{w}/data/dev.src"],
         "extra/model.safetensors: not a readable safetensors file, truncated or corrupt (the file has",
         _run_copy("extra", lambda r: (r / "model.safetensors").write_bytes(
             (r / "model.safetensors").read_bytes() + bytes(5_000_000)))),
    Case("run-weights-from-newer-version", ["translate", "{w}/newer", "--input", "{w}/data/dev.src"],
         "newer/model.safetensors: written by seqattn 9.0 in weights format 2",
         _run_copy("newer", _newer_weights)),
    Case("run-no-subword-model", ["translate", "{w}/nospm"], "nospm: no vocabulary (spm.model",
         _run_copy("nospm", lambda r: (r / "spm.model").unlink())),
    Case("run-random-subword-model", ["translate", "{w}/spmrand", "--input", "{w}/data/dev.src"],
         "spmrand/spm.model: damaged subword model (not a SentencePiece model",
         _run_copy("spmrand", lambda r: (r / "spm.model").write_bytes(bytes(range(256)) * 12))),
    Case("run-truncated-subword-model", ["evaluate", "{w}/spmcut", "--src", "{w}/data/test.src", "--ref",
                                         "{w}/data/test.tgt"],
         "spmcut/spm.model: damaged subword model",
         _run_copy("spmcut", lambda r: (r / "spm.model").write_bytes((r / "spm.model").read_bytes()[:1000]))),
    Case("run-empty-subword-model", ["serve", "{w}/spmempty", "--port", "0"],
         "spmempty/spm.model: damaged subword model (empty, 0 bytes)",
         _run_copy("spmempty", lambda r: (r / "spm.model").write_bytes(b""))),
    Case("run-damaged-vocabulary", ["translate", "{w}/vocjunk", "--input", "{w}/data/dev.src"],
         "vocjunk/vocab.json: damaged vocabulary",
         _run_copy("vocjunk", lambda r: ((r / "spm.model").unlink(),
                                         (r / "vocab.json").write_text('{"format": "seqattn-vocab-1"}')))),
    Case("run-no-weights-yet", ["translate", "{w}/noweights"], "noweights/model.safetensors: no weights yet",
         _run_copy("noweights", lambda r: (r / "model.safetensors").unlink())),
    Case("export-no-weights-yet", ["export", "{w}/expnow", "--out", "{w}/shipped"],
         "expnow/model.safetensors: no weights yet",
         _run_copy("expnow", lambda r: (r / "model.safetensors").unlink())),
    Case("export-damaged-weights", ["export", "{w}/expcut", "--out", "{w}/shipped"],
         "expcut/model.safetensors: not a readable safetensors file, truncated or corrupt",
         _run_copy("expcut", lambda r: (r / "model.safetensors").write_bytes(
             (r / "model.safetensors").read_bytes()[: (r / "model.safetensors").stat().st_size // 2]))),
    Case("export-out-not-empty", ["export", "{w}/run", "--out", "{w}/busy"],
         "busy: already exists and is not empty (give another --out)",
         lambda w: ((w / "busy").mkdir(exist_ok=True), (w / "busy" / "x").write_text("x"))),
    Case("export-not-a-run", ["export", "{w}/data", "--out", "{w}/shipped"],
         "data: not a seqattn run directory (no config.yaml)"),
    Case("export-given-to-resume", ["train", "--resume", "{w}/exported"],
         "exported is an exported model, not a run directory: training resumes from the run it was "
         "exported from", _exported),
    Case("export-onnx-runtime-too-old", ["translate", "{w}/exported", "--input", "{w}/data/dev.src"],
         "exported: exported with ONNX opset 17, which ONNX Runtime 1.11.0 cannot run (opset 17 needs 1.12 "
         "or newer): pip install --upgrade onnxruntime", _exported, onnxruntime="1.11.0"),
    Case("resume-config-does-not-match-weights", ["train", "--resume", "{w}/mismatch2"],
         "cannot resume: ", _run_copy("mismatch2", _mismatched_config), resumes="mismatch2"),
    Case("resume-all-checkpoints-corrupt", ["train", "--resume", "{w}/corrupt"],
         "trainer_state.json: unreadable trainer state", _run_copy("corrupt", _corrupt_checkpoints),
         resumes="corrupt"),
    Case("resume-checkpoint-from-newer-version", ["train", "--resume", "{w}/newckpt"],
         "trainer_state.json: written by seqattn 9.0 in checkpoint format 2",
         _run_copy("newckpt", _newer_checkpoints), resumes="newckpt"),
]
if torch.cuda.is_available():
    CASES.append(Case("cli-cuda-without-gpu", [], ""))  # (not an error on this machine: skipped below)
else:
    CASES.append(Case("cli-cuda-without-gpu", ["translate", "{w}/run", "--device", "cuda"],
                      "--device cuda: no CUDA device is available"))


@pytest.fixture(scope="module")
def world(trained_run, tmp_path_factory) -> Path:
    """A folder with a good config and corpora, and a copy of a trained run."""
    w = tmp_path_factory.mktemp("world")
    tree = tiny_tree(w / "data")
    tree["train"]["heatmaps"] = 0
    (w / "good.yaml").write_text(yaml.safe_dump(tree), encoding="utf-8")
    shutil.copytree(trained_run, w / "run")
    return w


def snapshot(root: Path) -> dict[str, str]:
    """Every path under `root` with a hash of its bytes."""
    paths = sorted(root.rglob("*"))
    return {p.relative_to(root).as_posix(): "folder" if p.is_dir() else _sha(p) for p in paths}


def _run(argv: list[str], capsys, monkeypatch, stdin: bytes | None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_one_clear_line(case, world, capsys, monkeypatch):
    if not case.argv:
        pytest.skip("a CUDA device is present")
    monkeypatch.chdir(world)
    if case.setup is not None:
        case.setup(world)
    if case.bf16 is not None:
        monkeypatch.setattr(precision, "probe_bf16", lambda device: case.bf16)
    if case.onnxruntime is not None:
        monkeypatch.setattr("onnxruntime.__version__", case.onnxruntime)
    argv = [a.replace("{w}", str(world)) for a in case.argv]
    log = world / case.resumes / "train.log" if case.resumes else None
    old_log = log.read_text() if log else ""
    before = snapshot(world)
    code, _, err = _run(argv, capsys, monkeypatch, case.stdin)
    assert code != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("seqattn: error:")]
    assert len(errors) == 1 and errors[0] == lines[-1], err
    assert case.expect in errors[0], errors[0]
    after = snapshot(world)
    if log:  # a failed resume may add its own lines to the run's log, and nothing else
        key = log.relative_to(world).as_posix()
        before.pop(key), after.pop(key)
        assert log.read_text().startswith(old_log)
    assert after == before
    assert not (world / "PWNED").exists()
    # --debug shows where it came from
    code, _, err = _run(["--debug", *argv], capsys, monkeypatch, case.stdin)
    assert code != 0 and "Traceback (most recent call last)" in err and case.expect in err


SERVER_CASES = [  # id, request body, status, part of the one-line "detail"
    ("server-invalid-json", b'{"texts": [', 422, "the request body is not valid JSON"),
    ("server-body-not-an-object", b'["Hallo"]', 422, "the request body must be a JSON object"),
    ("server-empty-texts", {"texts": []}, 422, "texts is empty"),
    ("server-texts-not-strings", {"texts": [1]}, 422, "texts[0]: Input should be a valid string"),
    ("server-unknown-field", {"texts": ["a"], "beams": 2}, 422, "beams: unknown field"),
    ("server-beam-out-of-range", {"texts": ["a"], "beam": 0}, 422,
     "beam: Input should be greater than or equal to 1"),
    ("server-n-best-over-beam", {"texts": ["a"], "beam": 2, "n_best": 3}, 422, "n_best"),
    ("server-unknown-model", {"texts": ["a"], "model": "nope"}, 404, "unknown model 'nope'"),
    ("server-text-too-long", {"texts": ["a" * 1001]}, 422, "texts[0] is 1001 characters long (at most 1000"),
    ("server-too-many-texts", {"texts": ["a"] * 65}, 422, "too many texts: 65 (at most 64"),
    ("server-lone-surrogate", b'{"texts": ["\\ud800"]}', 422, "texts[0] is not valid Unicode"),
    ("server-prefix-too-long", {"texts": ["a"], "prefix": "ALPHA " * 40}, 422,
     "prefix 1 is 240 subwords, but the output for its source ends by "),
    ("server-prefix-only-unknown", {"texts": ["a"], "prefix": "漢字 ☃"}, 422,
     "prefix 1 ('漢字 ☃') is made only of tokens outside the model's target vocabulary"),
    ("server-prefix-count", {"texts": ["a", "b"], "prefix": ["ALPHA"]}, 422,
     "1 prefixes for 2 texts: give one per text, or one string for all"),
    ("server-sample-too-many", {"texts": ["a"], "sample": 101}, 422,
     "samples must be between 0 (search) and 100 per input (got 101)"),
    ("server-sample-temperature-zero", {"texts": ["a"], "sample": 2, "temperature": 0}, 422,
     "temperature must be more than 0 (got 0.0); near 0 sampling approaches greedy search"),
    ("server-sample-top-p-out-of-range", {"texts": ["a"], "sample": 2, "top_p": 0}, 422,
     "top_p must be more than 0 and at most 1 (got 0.0); 1 keeps every token"),
    ("server-sample-with-beam", {"texts": ["a"], "sample": 2, "beam": 3}, 422,
     "sampling draws outputs instead of searching: ask for samples or for a beam and n-best, not both"),
]


@pytest.fixture(scope="module")
def api(trained_run):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from seqattn.serve.app import create_app
    from seqattn.translator import Translator

    with TestClient(create_app({"tiny": Translator.load(trained_run, device="cpu")})) as client:
        yield client


@pytest.mark.parametrize("case", SERVER_CASES, ids=[c[0] for c in SERVER_CASES])
def test_bad_request_gets_one_clear_line(case, api):
    _, body, status, expect = case
    if isinstance(body, bytes):
        response = api.post("/v1/translate", content=body, headers={"Content-Type": "application/json"})
    else:
        response = api.post("/v1/translate", json=body)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and "Traceback" not in response.text
    assert expect in detail, detail


UNK_NOTE = "outside the model's vocabulary were read as <unk> (line 1)"
ACCEPTED = [  # id, stdin, number of output lines, part of stderr ("" = nothing)
    ("input-empty-line", "alpha\n\nbeta\n", 3, ""),
    ("input-100000-characters", "a" * 100_000 + "\n", 1, "line 1 is longer than 1000 subwords"),
    ("input-control-characters", "alpha\x07beta \x1b[31mgamma\x0b\x7f\n", 1, UNK_NOTE),
    ("input-emoji", "alpha 😀 beta 🎉👍🏽\n", 1, UNK_NOTE),
    ("input-only-unknown-characters", "ÆØÅ ЖЩ 漢字 ☃\n", 1, UNK_NOTE),
    ("input-crlf-line-ends", "alpha\r\nbeta\r\n", 2, ""),
    ("input-leading-bom", "\ufeffalpha\nbeta\n", 2, ""),
    ("input-dollar-math-in-heatmap", "it costs $\\foo$ or $5_{x$\n", 1, UNK_NOTE,
     ["--attention-out", "{tmp}"]),
]


@pytest.mark.parametrize("case", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_odd_but_valid_input_is_translated(case, world, capsys, monkeypatch, tmp_path):
    _, text, n_lines, note, *extra = case
    monkeypatch.chdir(world)
    before = snapshot(world)
    argv = ["translate", str(world / "run"), "--beam", "1",
            *[a.replace("{tmp}", str(tmp_path)) for a in (extra[0] if extra else [])]]
    if len(text) > 10_000:  # a real process: a long decode here runs at the mercy of earlier tests' state
        proc = subprocess.run([sys.executable, "-m", "seqattn", *argv], input=text.encode("utf-8"),
                              capture_output=True, timeout=300)
        code, out, err = proc.returncode, proc.stdout.decode(), proc.stderr.decode()
    else:
        code, out, err = _run(argv, capsys, monkeypatch, text.encode("utf-8"))
    assert code == 0 and "Traceback" not in err
    assert len(out.split("\n")) - 1 == n_lines, out
    assert (note in err) if note else err == "", err
    assert snapshot(world) == before
    if extra:  # the heatmaps were drawn (as plain text, "$...$" is no matplotlib math)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["0001.png", "0001.svg"]


def test_catalogue_and_docs_list_the_same_rows():
    doc = DOC.read_text(encoding="utf-8")
    documented = re.findall(r"^\| `([a-z0-9-]+)` \|", doc, flags=re.MULTILINE)
    ours = [c.id for c in CASES] + [c[0] for c in SERVER_CASES] + [c[0] for c in ACCEPTED]
    assert sorted(documented) == sorted(ours)
    assert len(ours) == len(set(ours))
