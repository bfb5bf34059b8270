"""Grapheme-to-phoneme end to end, through the command line: letters in, phonemes out, scored
by WER and PER; a tiny model learns 50 dictionary words exactly."""

from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path

import pytest
import yaml

from seqattn.cli import main
from tests.train.runs import one_thread  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


def _dictionary_sample(n: int) -> str:
    """`n` whole entries of the bundled CMUdict (every pronunciation of each word)."""
    raw = (resources.files("seqattn") / "resources" / "cmudict.tsv.gz").read_bytes()
    lines = gzip.decompress(raw).decode().splitlines()
    words, picked = [], []
    for line in lines[::97]:
        if line.split("\t")[0] not in words:
            words.append(line.split("\t")[0])
        if len(words) == n:
            break
    picked = [line for line in lines if line.split("\t")[0] in set(words)]
    return "".join(line + "\n" for line in picked)


def _config(folder: Path, tsv: Path, **train) -> Path:
    spec = {"tsv": str(tsv), "src_column": 0, "tgt_column": 1}
    tree = {
        "name": "tiny-g2p",
        "data": {"train": spec, "dev": spec, "test": spec,
                 "subword": {"src_type": "char", "tgt_type": "symbols", "joint": False, "vocab_size": 100}},
        "model": {"encoder": {"emb_size": 32, "hidden_size": 64, "dropout": 0.0},
                  "decoder": {"emb_size": 32, "hidden_size": 128, "dropout": 0.0}},
        "train": {"batch_size": 25, "lr": 0.01, "max_steps": 150, "val_every": 50, "label_smoothing": 0.0,
                  "early_stopping_metric": "wer", "early_stopping_patience": None, "precision": "fp32",
                  "seed": 1, "heatmaps": 1, "test_examples": 2, **train},
        "decode": {"beam": 1},
        "eval": {"metrics": ["wer", "per"], "group_references": True},
    }
    path = folder / "g2p.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def g2p_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("g2p")
    (folder / "words.tsv").write_text(_dictionary_sample(50), encoding="utf-8")
    assert main(["train", str(_config(folder, folder / "words.tsv")), "--out", str(folder / "run")]) == 0
    return folder


def test_tiny_model_learns_50_words_exactly(g2p_run):
    results = json.loads((g2p_run / "run" / "results.json").read_text())
    assert results["test"]["wer"] == 0.0 and results["test"]["per"] == 0.0
    assert results["test"]["sentences"] == 50  # words, their pronunciations grouped
    assert (g2p_run / "run" / "vocab.src.json").is_file() and (g2p_run / "run" / "vocab.tgt.json").is_file()


def test_evaluate_prints_wer_and_per(g2p_run, capsys):
    words = g2p_run / "words.tsv"
    lines = words.read_text().splitlines()
    (g2p_run / "w.src").write_text("".join(x.split("\t")[0] + "\n" for x in lines))
    (g2p_run / "w.ref").write_text("".join(x.split("\t")[1] + "\n" for x in lines))
    assert main(["evaluate", str(g2p_run / "run"), "--src", str(g2p_run / "w.src"), "--ref",
                 str(g2p_run / "w.ref"), "--metrics", "wer,per,cer"]) == 0
    out = capsys.readouterr().out
    assert "WER   0.00" in out and "PER   0.00" in out and "CER   0.00" in out
    assert "(50 sources" in out
    # without grouping, a word with two pronunciations is wrong against one of them
    assert main(["evaluate", str(g2p_run / "run"), "--src", str(g2p_run / "w.src"), "--ref",
                 str(g2p_run / "w.ref"), "--metrics", "wer", "--no-group-references"]) == 0
    assert f"({len(lines)} sentences" in capsys.readouterr().out


def test_translate_reads_one_word_per_line(g2p_run, capsys, monkeypatch):
    import io
    import sys

    entries = dict(x.split("\t") for x in g2p_run.joinpath("words.tsv").read_text().splitlines()[::-1])
    words = list(entries)[:3]  # (the first pronunciation of each)
    stdin = "".join(f"{w}\n" for w in [*words, words[0]]).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    assert main(["translate", str(g2p_run / "run"), "--beam", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and out[0] == out[3]  # one line per input line
    for word, phonemes in zip(words, out):  # phonemes separated by single spaces
        assert phonemes == " ".join(phonemes.split()) and phonemes in [
            p for w, p in (x.split("\t") for x in g2p_run.joinpath("words.tsv").read_text().splitlines())
            if w == word]


def test_explain_reads_letters_against_phonemes(g2p_run, capsys):
    word = g2p_run.joinpath("words.tsv").read_text().splitlines()[0].split("\t")[0]
    assert main(["explain", str(g2p_run / "run"), word]) == 0
    out = capsys.readouterr().out
    assert all(letter in out for letter in word)


NO_PHONEMES = "bad.tsv:2: no symbols on the target side (column 1), only spaces"


@pytest.mark.parametrize("body,expect", [
    ("nation\tN EY1 SH AH0 N\ncat\n", "bad.tsv:2: expected at least 2 tab-separated columns, found 1"),
    ("nation\tN EY1 SH AH0 N\ncat\t\n", NO_PHONEMES),  # a word with no phonemes
    ("nation\tN EY1 SH AH0 N\ncat\t   \n", NO_PHONEMES),  # a symbol column of spaces only
])
def test_bad_dictionary_lines_are_named(tmp_path, capsys, body, expect):
    (tmp_path / "bad.tsv").write_text(body, encoding="utf-8")
    code = main(["train", str(_config(tmp_path, tmp_path / "bad.tsv")), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("seqattn: error:") and expect in err[-1]
    assert not (tmp_path / "out").exists()


def test_the_recipe_trains_on_another_dictionary_split(tmp_path):
    """configs/cmudict_g2p.yaml with data.train/dev/test pointed at one's own TSV files."""
    from tests.conftest import REPO

    lines = _dictionary_sample(90).splitlines()
    words = list(dict.fromkeys(x.split("\t")[0] for x in lines))
    parts = {"train": words[:60], "dev": words[60:75], "test": words[75:]}
    for name, chosen in parts.items():
        (tmp_path / f"{name}.tsv").write_text("".join(x + "\n" for x in lines if x.split("\t")[0] in chosen))
    small = ["model.encoder.hidden_size=16", "model.encoder.emb_size=8", "model.encoder.layers=1",
             "model.decoder.hidden_size=32", "model.decoder.emb_size=8", "train.max_steps=20",
             "train.val_every=10", "train.max_minutes=null", "train.schedule.total_steps=20",
             "train.schedule.warmup_steps=2", "train.heatmaps=0", "train.precision=fp32"]
    splits = [f"data.{name}.tsv={tmp_path / f'{name}.tsv'}" for name in parts]
    assert main(["train", str(REPO / "configs" / "cmudict_g2p.yaml"), "--out", str(tmp_path / "run"),
                 *splits, *small]) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["test"]["sentences"] == len(parts["test"])  # scored on words it never saw
    assert set(results["test"]) >= {"wer", "per"}
    assert not set(parts["test"]) & set(parts["train"])
