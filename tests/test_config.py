import pytest

from seqattn.config import build_config, dump_config, load_config, parse_overrides
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


def test_readme_documents_every_config_key():
    from seqattn.config import Config
    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text()
    missing = [k for k in _keys(Config) if f"`{k}`" not in readme]
    assert not missing
