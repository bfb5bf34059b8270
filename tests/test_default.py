"""The embedded default (bundled Korean->English) and the shipped configs."""

from pathlib import Path

import pytest

from seqattn.cli import _default_config_path, main
from seqattn.config import load_config
from seqattn.data.pipeline import load_splits
from seqattn.errors import SeqattnError
from seqattn.recipe import RECIPES, config_path, recipe_names, recipe_path
from tests.conftest import REPO, SHARED_DATA


def test_the_default_is_the_tatoeba_recipe_and_configs_links_to_the_recipes():
    assert _default_config_path() == recipe_path("tatoeba_koen")
    assert (REPO / "configs").resolve() == RECIPES  # one copy: the checkout's configs/ is the package's
    assert recipe_names() == ["cmudict_g2p", "korean_romanization", "multi30k_deen", "tatoeba_koen"]


def test_a_recipe_name_stands_for_its_file_and_a_path_stays_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert config_path("cmudict_g2p") == RECIPES / "cmudict_g2p.yaml"
    (tmp_path / "cmudict_g2p").write_text("name: mine\n")  # a file of that name wins
    assert config_path("cmudict_g2p") == Path("cmudict_g2p")
    for path in ("mine.yaml", "sub/cmudict_g2p", "configs/cmudict_g2p.yaml"):  # paths, found or not
        assert config_path(path) == Path(path)
    with pytest.raises(SeqattnError, match=r"^nothere: no such config file, and no recipe of that name "
                       r"\(recipes: cmudict_g2p, korean_romanization, multi30k_deen, tatoeba_koen\)$"):
        config_path("nothere")


def test_default_config_is_korean_to_english_with_attention():
    cfg = load_config(_default_config_path())
    assert (cfg.data.src_lang, cfg.data.tgt_lang) == ("ko", "en")
    assert cfg.model.attention.type != "none"
    assert "저는 AI를 좋아합니다" in cfg.train.samples
    train, dev, test = load_splits(cfg.data)
    assert (len(train), len(dev), len(test)) == (3198, 300, 300)


def test_default_trains_end_to_end_briefly(tmp_path, capsys):
    code = main(["train", "--out", str(tmp_path / "run"), "train.max_steps=6", "train.val_every=6",
                 "model.encoder.hidden_size=32", "model.decoder.hidden_size=64",
                 "train.val_max_sentences=20", "data.split.test_size=20", "decode.beam=2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "test (beam 2)" in out and "저는 AI를 좋아합니다  ->" in out


def test_multi30k_config_validates():
    cfg = load_config(REPO / "configs" / "multi30k_deen.yaml")
    assert cfg.data.subword.vocab_size == 8000 and cfg.model.attention.type == "general"
    assert cfg.data.train.src.startswith("../shared/data/multi30k")


@pytest.mark.skipif(not (SHARED_DATA / "multi30k").is_dir(), reason="../shared/data/multi30k absent")
def test_multi30k_loads_from_the_repo_root(monkeypatch):
    monkeypatch.chdir(REPO)
    train, dev, test = load_splits(load_config(Path("configs/multi30k_deen.yaml")).data)
    assert (len(train), len(dev), len(test)) == (29000, 1014, 1000)
