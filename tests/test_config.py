import subprocess
import sys

import pytest
import yaml

from seqattn.config import build_config, dump_config, load_config, parse_overrides, read_yaml
from seqattn.errors import SeqattnError

BASE = {"data": {"train": {"tsv": "x.tsv"}}}


def test_defaults_and_round_trip(tmp_path):
    cfg = build_config(BASE)
    path = tmp_path / "c.yaml"
    path.write_text(dump_config(cfg))
    assert load_config(path) == cfg


def test_unknown_key_suggests_the_close_one():
    with pytest.raises(SeqattnError, match=r"unknown key 'train.lrr' \(did you mean 'lr'\?\)"):
        build_config(BASE, ["train.lrr=0.1"])


def test_wrong_type_names_the_key():
    with pytest.raises(SeqattnError, match="train.batch_size"):
        build_config(BASE, ["train.batch_size=many"])


def test_negative_size_rejected():
    with pytest.raises(SeqattnError, match="model.encoder.hidden_size"):
        build_config(BASE, ["model.encoder.hidden_size=-4"])


def test_dot_attention_needs_matching_sizes():
    build_config(BASE, ["model.attention.type=dot"])  # 2 x 256 encoder states, 512 decoder: fine
    with pytest.raises(SeqattnError, match="'dot' attention needs decoder.hidden_size"):
        build_config(BASE, ["model.attention.type=dot", "model.decoder.hidden_size=300"])


def test_input_feeding_without_attention_rejected():
    with pytest.raises(SeqattnError, match="input_feeding needs attention"):
        build_config(BASE, ["model.attention.type=none", "model.decoder.input_feeding=true"])


def test_corpus_needs_one_layout():
    with pytest.raises(SeqattnError, match="either 'tsv' or both 'src' and 'tgt'"):
        build_config({"data": {"train": {"src": "a"}}})


def test_overrides_are_yaml_scalars():
    assert parse_overrides(["a.b=5", "c=true", "d=1e-3", "e=text"]) == [
        ("a.b", 5), ("c", True), ("d", 1e-3), ("e", "text")]
    with pytest.raises(SeqattnError, match="expected dotted.key=value"):
        parse_overrides(["novalue"])


def test_bad_yaml_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data: [unclosed\n")
    with pytest.raises(SeqattnError, match="not valid YAML"):
        load_config(path)
    with pytest.raises(SeqattnError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")


def _keys(cls, prefix=""):
    from pydantic import BaseModel

    from seqattn.config import CorpusSpec

    for name, field in cls.model_fields.items():
        sub = next((c for c in (field.annotation, *getattr(field.annotation, "__args__", ()))
                    if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if sub is not None and sub is not CorpusSpec:
            yield from _keys(sub, f"{prefix}{name}.")
        else:
            yield prefix + name


def test_the_reference_documents_every_config_key():
    from seqattn.config import Config
    from tests.conftest import REPO

    reference = (REPO / "docs" / "CONFIG.md").read_text(encoding="utf-8")
    missing = [k for k in _keys(Config) if f"`{k}`" not in reference]
    assert not missing


def _laughs(levels: int = 9, width: int = 9) -> str:
    """A 'billion laughs' mapping: each level a list of `width` aliases of the one before."""
    rows = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    rows += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "{" + ", ".join(rows) + "}"


def test_an_alias_bomb_is_refused_at_once(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(_laughs().strip("{}").replace(", l", "\nl") + "\n")  # 9**9 values expanded
    # in a child process, so that a hang (expanding it takes hours) fails the test instead
    code = ("import sys, time\nfrom seqattn.config import load_config, parse_overrides\n"
            "for load in (lambda: load_config(sys.argv[1]), lambda: parse_overrides([sys.argv[2]])):\n"
            "    started = time.perf_counter()\n"
            "    try:\n        load()\n    except Exception as exc:\n"
            "        print(f'{time.perf_counter() - started:.3f}', exc)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path), "train.samples=" + _laughs()],
                          capture_output=True, text=True, timeout=120)
    lines = proc.stdout.splitlines()
    assert len(lines) == 2, proc.stdout + proc.stderr
    assert all(float(line.split()[0]) < 5 for line in lines), lines
    assert lines[0].split(" ", 1)[1] == (f"{path}: anchors and aliases (&name, *name) expand to more than "
                                         "100,000 values (a 'billion laughs' document?); a config needs "
                                         "a few hundred")
    assert lines[1].split(" ", 1)[1].startswith("override 'train.samples': anchors and aliases")


def test_a_self_containing_alias_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("data: &d {train: {tsv: x.tsv}, again: [*d]}\n")
    with pytest.raises(SeqattnError, match=r"loop.yaml: an alias \(\*name\) refers to a list or mapping "
                       "that contains it"):
        load_config(path)


def test_ordinary_aliases_still_load(tmp_path):
    path = tmp_path / "shared.yaml"
    path.write_text("data: {train: {tsv: x.tsv}}\n"
                    "model:\n"
                    "  encoder: &sizes {emb_size: 8, hidden_size: 16}\n"
                    "  decoder: {<<: *sizes, layers: 2}\n"
                    "train: {samples: &s [hello world, good night]}\n"
                    "eval: {metrics: [bleu]}\n")
    assert read_yaml(path) == yaml.safe_load(path.read_text())
    cfg = load_config(path)
    assert (cfg.model.encoder.emb_size, cfg.model.decoder.hidden_size, cfg.model.decoder.layers) == (8, 16, 2)
    # many aliases are fine within the limit: 6**6 = 46,656 values
    value = parse_overrides(["train.samples=" + _laughs(6, 6)])[0][1]
    assert value["l5"][5][5][5][5][5] == ["lol"] * 6
