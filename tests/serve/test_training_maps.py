"""Training in pictures: GET /v1/models/{name}/attention lists the heatmaps a run drew at each
validation, and only those PNGs are served (no path traversal, no symlinks out, no other files)."""

from __future__ import annotations

import os
import shutil

import pytest

pytest.importorskip("fastapi")

from seqattn.config import build_config  # noqa: E402
from seqattn.model.seq2seq import Seq2Seq  # noqa: E402
from seqattn.translator import Translator  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


@pytest.fixture
def run(trained_run, tmp_path):
    """A copy of the tiny run with a hand-made attention/ folder and bait files around it."""
    run = tmp_path / "myrun"
    shutil.copytree(trained_run, run, ignore=shutil.ignore_patterns("tensorboard", "checkpoints"))
    shutil.rmtree(run / "attention", ignore_errors=True)
    att = run / "attention"
    for step, files in {20: ["dev1.png", "dev2.png", "dev10.png"], 5: ["dev1.png"], 100: []}.items():
        folder = att / f"step_{step:08d}"
        folder.mkdir(parents=True)
        for name in files:
            (folder / name).write_bytes(PNG + name.encode())
    (att / "step_00000020" / "notes.txt").write_text("not an image")
    (att / "step_00000020" / "dev3.png.bak").write_bytes(PNG)
    (att / "step_00000020" / "dev4.png").symlink_to(run / "config.yaml")  # points out of attention/
    (att / "step_00000020" / "dev5.png").mkdir()  # a folder named like an image
    (att / "other").mkdir()
    (att / "other" / "dev1.png").write_bytes(PNG)
    (att / "dev1.png").write_bytes(PNG)  # not inside a step folder
    (tmp_path / "secret.png").write_bytes(b"secret")
    return run


@pytest.fixture
def client(make_client, run, translator):
    sub = translator.subwords
    built = Translator(Seq2Seq(translator.cfg.model, sub.src_vocab_size, sub.tgt_vocab_size), sub,
                       build_config(translator.cfg.model_dump(mode="json")))
    return make_client({"myrun": Translator.load(run, device="cpu"), "built": built})


def test_translator_load_remembers_its_run_directory(run):
    assert Translator.load(run, device="cpu").run_dir == run


def test_lists_the_steps_and_their_images_in_order(client):
    r = client.get("/v1/models/myrun/attention")
    assert r.status_code == 200
    body = r.json()
    assert body["model"] == "myrun"
    assert [s["step"] for s in body["steps"]] == [5, 20]  # step 100 has no image
    assert [i["name"] for i in body["steps"][1]["images"]] == ["dev1.png", "dev2.png", "dev10.png"]
    url = "/v1/models/myrun/attention/5/dev1.png"
    assert body["steps"][0]["images"] == [{"name": "dev1.png", "url": url}]


def test_serves_each_listed_image(client, run):
    for step in client.get("/v1/models/myrun/attention").json()["steps"]:
        for image in step["images"]:
            r = client.get(image["url"])
            assert r.status_code == 200 and r.headers["content-type"] == "image/png"
            assert r.content == (run / "attention" / f"step_{step['step']:08d}" / image["name"]).read_bytes()
    assert client.get("/v1/models/myrun/attention/00000020/dev2.png").status_code == 200  # padded step


@pytest.mark.parametrize("path", [
    "/v1/models/myrun/attention/20/dev4.png",  # a symlink out of attention/
    "/v1/models/myrun/attention/20/dev5.png",  # a folder
    "/v1/models/myrun/attention/20/notes.txt",
    "/v1/models/myrun/attention/20/dev3.png.bak",
    "/v1/models/myrun/attention/20/..%2F..%2Fconfig.yaml",
    "/v1/models/myrun/attention/20/%2e%2e%2f%2e%2e%2fconfig.yaml",
    "/v1/models/myrun/attention/..%2F..%2F/config.yaml",
    "/v1/models/myrun/attention/..%2F../config.yaml",
    "/v1/models/myrun/attention/%2e%2e/dev1.png",
    "/v1/models/myrun/attention/-20/dev1.png",
    "/v1/models/myrun/attention/2e1/dev1.png",
    "/v1/models/myrun/attention/other/dev1.png",
    "/v1/models/myrun/attention/20/..%5C..%5Cconfig.yaml",
    "/v1/models/myrun/attention/20/%2Fetc%2Fpasswd",
    "/v1/models/myrun/attention/20/dev1.png%00.txt",
    "/v1/models/myrun/attention/" + "9" * 40 + "/dev1.png",
    "/v1/models/myrun/attention/20/" + "dev" + "1" * 30 + ".png",
    "/v1/models/myrun/attention/5/dev2.png",  # well formed, but not there
    "/v1/models/myrun/attention/%EF%BC%92%EF%BC%90/dev1.png",  # fullwidth digits
])
def test_never_serves_anything_else(client, path):
    r = client.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert r.headers["content-type"].startswith("application/json")
    assert "secret" not in r.text and "model:" not in r.text


def test_unknown_model_and_models_without_a_run_directory(client):
    r = client.get("/v1/models/nope/attention")
    assert r.status_code == 404 and "unknown model 'nope'" in r.json()["detail"]
    assert client.get("/v1/models/nope/attention/20/dev1.png").status_code == 404
    assert client.get("/v1/models/built/attention").json() == {"model": "built", "steps": []}
    assert client.get("/v1/models/built/attention/20/dev1.png").status_code == 404


def test_a_run_without_heatmaps_lists_nothing(client, run):
    shutil.rmtree(run / "attention")
    assert client.get("/v1/models/myrun/attention").json()["steps"] == []


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks here")
def test_a_symlinked_attention_folder_is_followed_but_not_out_of_it(client, run, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    shutil.move(run / "attention", elsewhere)
    (run / "attention").symlink_to(elsewhere)  # e.g. heatmaps kept on another disk
    steps = client.get("/v1/models/myrun/attention").json()["steps"]
    assert [s["step"] for s in steps] == [5, 20]
    assert client.get("/v1/models/myrun/attention/20/dev1.png").status_code == 200
    assert client.get("/v1/models/myrun/attention/20/dev4.png").status_code == 404


def test_the_page_has_the_slider(client):
    html = client.get("/").text
    assert 'id="training-step"' in html and 'type="range"' in html
    for name in ("studio.js", "stepper.js", "whynot.js", "beamtree.js", "compare.js", "studio.css"):
        assert client.get(f"/static/{name}").status_code == 200
