"""The studio in real headless Chromium, on two tiny Korean → English models trained here:
step through 저는 AI를 좋아합니다 with the keyboard (the weights shown equal /v1/explain's), ask
"why not I like AI.?" (the log-probabilities shown equal /v1/score's), the beam tree for beam
5, two models side by side, training in pictures, and axe-core on every view.

Screenshots of the views go to pytest's tmp_path; the pictures in the docs come from real runs,
made by scripts/make_pictures.py (docs/DEVELOPING.md).
"""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("playwright.sync_api")

from tests.serve.browser import HANGUL, api, open_tool, page_at, skip_without_chromium, translate  # noqa: E402
from tests.serve.conftest import serve_app  # noqa: E402

LONG = "그녀는 음악을 원합니다 우리는 커피를 싫어합니다 친구는 고양이를 좋아합니다 저는 책을 원합니다"

skip_without_chromium()


@pytest.fixture
def page(browser, studio_server):
    with page_at(browser, studio_server.url, height=900) as p:
        yield p


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go (the docs' pictures are made by scripts/make_pictures.py)."""
    return tmp_path


def row_values(rows) -> list[float]:
    """The exact values behind a bar table's rows (data-value)."""
    return [float(v) for v in rows.evaluate_all("rows => rows.map((r) => r.dataset.value)")]


def test_step_through_every_decoding_step_with_the_keyboard(page, shots):
    translate(page)
    panel = open_tool(page, "Step through")
    stepper = panel.locator(".stepper")
    stepper.wait_for()
    ex = api(page, "/v1/explain", {"text": HANGUL, "model": "ko-general"})
    assert "Greedy decoding" in panel.inner_text()
    assert stepper.get_attribute("data-phase") == "1"
    # step 1: one encoder state per source subword, shortened, each with its whole vector on demand
    states = panel.locator("table.states tbody tr")
    assert states.count() == len(ex["src_tokens"])
    panel.locator(".vec-details summary").first.click()
    full = panel.locator(".vec-full").first.inner_text().strip("[]").split(", ")
    assert len(full) == len(ex["encoder_states"][0])
    assert float(full[0].replace("−", "-")) == pytest.approx(ex["encoder_states"][0][0], abs=1e-4)

    stepper.focus()
    checked, seen_phases = [], set()
    for _ in range(6 * len(ex["steps"])):
        page.keyboard.press("ArrowRight")
        t, phase = int(stepper.get_attribute("data-step")), stepper.get_attribute("data-phase")
        seen_phases.add(phase)
        if phase == "3":  # raw scores, signed
            shown = row_values(panel.locator(".score-bars tr"))
            assert shown == pytest.approx(ex["steps"][t]["scores"], abs=1e-9)
        if phase == "4":  # the weights: bars, numbers, and the map's row being built
            rows = panel.locator(".weight-bars tr")
            values = row_values(rows)
            texts = rows.locator("td.num").all_inner_texts()
            assert values == pytest.approx(ex["steps"][t]["weights"], abs=1e-9)
            assert [float(x) for x in texts] == pytest.approx(ex["steps"][t]["weights"], abs=5e-4 + 1e-9)
            assert panel.locator(".mini-map tbody tr").count() == t + 1
            if t == 1:
                panel.screenshot(path=str(shots / "studio-stepper.png"))
            checked.append(t)
        if phase == "7":
            chosen = panel.locator("tr.chosen")
            assert chosen.count() == 1 and "✓ chosen" in chosen.inner_text()
    assert checked == list(range(len(ex["steps"])))  # every decoding step
    assert seen_phases == {"2", "3", "4", "5", "6", "7"}
    assert panel.locator(".step-next").is_disabled()
    assert f"step {len(ex['steps'])} of {len(ex['steps'])}" in panel.locator(".step-where").inner_text()
    page.keyboard.press("Home")
    assert stepper.get_attribute("data-phase") == "1" and panel.locator(".step-prev").is_disabled()
    page.keyboard.press("PageDown")
    assert (stepper.get_attribute("data-step"), stepper.get_attribute("data-phase")) == ("0", "7")


def test_why_not_this_shows_the_scores_of_each_token(page, shots):
    translate(page)
    panel = open_tool(page, "Why not…?")
    panel.locator(".force-input").fill("I like AI.")
    panel.locator(".force-input").press("Enter")
    panel.locator(".whynot-table").wait_for()
    own = page.locator("#output .result .translation").first.inner_text()
    theirs = api(page, "/v1/score", {"source": HANGUL, "target": "I like AI.", "model": "ko-general"})
    mine = api(page, "/v1/score", {"source": HANGUL, "target": own, "model": "ko-general"})
    rows = panel.locator(".whynot-table tbody tr")
    assert rows.count() == max(len(theirs["tgt_tokens"]), len(mine["tgt_tokens"]))
    shown = [[float(x) for x in r.locator("td.num").evaluate_all("cs => cs.map((c) => c.dataset.logprob)")]
             for r in rows.all()]
    for i, lp in enumerate(theirs["logprobs"]):
        assert shown[i][-1] == pytest.approx(lp, abs=1e-9)
        assert float(rows.nth(i).locator("td.num").last.inner_text()) == pytest.approx(lp, abs=5e-4 + 1e-9)
    for i, lp in enumerate(mine["logprobs"]):
        assert shown[i][0] == pytest.approx(lp, abs=1e-9)
    summary = panel.locator(".whynot-summary").inner_text()
    assert f"{theirs['logprob']:+.3f}".replace("-", "−") in summary
    if mine["tgt_tokens"] != theirs["tgt_tokens"]:
        assert panel.locator("tr.first").count() == 1 and "They part at token" in summary
    assert panel.locator(".studio-map .attn-cell").count() > 0  # the forced output's attention
    # an output the model does not prefer: the rows part, and the first difference is named
    panel.locator(".force-input").fill("I like coffee.")
    panel.locator(".force-input").press("Enter")
    page.wait_for_function("() => document.querySelector('.whynot-summary').textContent.includes('coffee')")
    summary = panel.locator(".whynot-summary").inner_text()
    if own != "I like coffee.":
        assert "They part at token" in summary and panel.locator("tr.first").count() == 1
    panel.screenshot(path=str(shots / "studio-why-not.png"))


def test_the_beam_tree_for_beam_5(page, shots):
    translate(page, LONG)
    panel = open_tool(page, "Beam tree")
    panel.locator(".beam-tree .tree-node[data-id]").first.wait_for()
    data = api(page, "/v1/translate", {"texts": [LONG], "model": "ko-general", "beam": 5, "tree": True})
    tree = data["results"][0]["tree"]
    nodes = panel.locator(".tree-node[data-id]")
    assert nodes.count() == len(tree)
    assert max(n["step"] for n in tree) + 1 >= 12  # a long output: readable at this size too
    # readable: no two boxes overlap, labels at least 11 px
    boxes = panel.locator(".tree-node .box").evaluate_all(
        "rs => rs.map((r) => { const b = r.getBoundingClientRect(); return [b.x, b.y, b.width, b.height]; })")
    for k, (x, y, w, h) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[k + 1:]:
            assert x + w <= x2 + 0.5 or x2 + w2 <= x + 0.5 or y + h <= y2 + 0.5 or y2 + h2 <= y + 0.5
    size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.beam-tree text'))"
                         ".fontSize)")
    assert size >= 11
    # kept, finished and pruned differ in outline and mark, not only colour
    styles = {}
    for status in ("kept", "finished", "pruned"):
        node = panel.locator(f".tree-node.{status}[data-id]").first
        if node.count():
            styles[status] = (node.locator(".box").evaluate("r => getComputedStyle(r).strokeDasharray"),
                              node.locator(".inner").count(), node.locator("text").text_content()[:1])
    assert {"kept", "pruned"} <= set(styles) and len(set(styles.values())) == len(styles), styles
    assert panel.locator(".tree-node.best").count() >= 1
    # click a node: its attention row; Enter on a focused node does the same
    node = next(n for n in tree if n["status"] == "pruned")
    panel.locator(f".tree-node[data-id='{node['id']}']").click(force=True)
    assert row_values(panel.locator(".tree-attn tr")) == pytest.approx(node["attention"], abs=1e-9)
    assert "pruned" in panel.locator(".tree-detail").inner_text()
    page.keyboard.press("ArrowLeft")  # to its parent
    page.keyboard.press("Enter")
    parent = next(n for n in tree if n["id"] == node["parent"]) if node["parent"] else None
    if parent:
        assert row_values(panel.locator(".tree-attn tr")) == pytest.approx(parent["attention"], abs=1e-9)
    top = "e => { e.scrollTop = 0; e.scrollLeft = 0; }"
    panel.locator(".tree-scroll").evaluate(top)
    panel.locator(".tree-node.best[data-id]").nth(1).click(force=True)  # on the winner's path
    panel.locator(".tree-scroll").evaluate(top)
    panel.screenshot(path=str(shots / "studio-beam-tree.png"))


def test_two_models_side_by_side(page, shots):
    page.fill("#input", HANGUL)
    section = page.locator("#compare")
    assert section.is_visible()
    page.select_option("#compare-a", "ko-general")
    page.select_option("#compare-b", "ko-additive")
    page.click("#compare-go")
    page.wait_for_selector("#compare-out .compare-side:nth-child(2) .attn-cell")
    sides = page.locator("#compare-out .compare-side")
    assert sides.count() == 2
    for k, model in enumerate(("ko-general", "ko-additive")):
        want = api(page, "/v1/translate", {"texts": [HANGUL], "model": model, "beam": 5})
        assert sides.nth(k).locator("h3").inner_text() == model
        text = want["results"][0]["hypotheses"][0]["text"] or "(empty)"
        assert sides.nth(k).locator(".translation").inner_text() == text
        assert sides.nth(k).locator(".attn-cell").count() > 0
    assert "additive attention" in sides.nth(1).inner_text()
    section.screenshot(path=str(shots / "studio-side-by-side.png"))


def test_training_in_pictures(page, shots):
    page.select_option("#model", "ko-general")  # (re)loads the section: the slider resets to the last step
    section = page.locator("#training")
    section.wait_for()
    page.wait_for_load_state("networkidle")  # that load done, or it would undo the Home key below
    listed = page.evaluate("async () => (await (await fetch('/v1/models/ko-general/attention')).json())")
    assert len(listed["steps"]) >= 2
    slider = page.locator("#training-step")
    slider.focus()
    page.keyboard.press("Home")
    first = listed["steps"][0]
    assert f"step {first['step']} " in page.inner_text("#training-label")
    imgs = section.locator("img")
    assert [i.get_attribute("src") for i in imgs.all()] == [i["url"] for i in first["images"]]
    page.keyboard.press("ArrowRight")
    assert f"step {listed['steps'][1]['step']} " in page.inner_text("#training-label")
    page.wait_for_function("() => [...document.querySelectorAll('#training-images img')]"
                           ".every((i) => i.complete && i.naturalWidth > 0)")
    page.keyboard.press("Home")
    page.select_option("#model", "ko-general")  # the same model again: the reader stays on their step
    page.wait_for_load_state("networkidle")
    assert f"step {first['step']} " in page.inner_text("#training-label")
    page.select_option("#model", "ko-additive")  # drew no heatmaps (train.heatmaps=0)
    page.wait_for_function("() => document.querySelector('#training').hidden")


def test_studio_views_have_no_serious_accessibility_violations(page):
    axe = pytest.importorskip("axe_playwright_python.sync_playwright")
    translate(page)
    open_tool(page, "Step through").locator(".stepper").wait_for()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    why = open_tool(page, "Why not…?")
    why.locator(".force-input").fill("I like AI.")
    why.locator(".force-go").click()
    why.locator(".whynot-table").wait_for()
    open_tool(page, "Beam tree").locator(".tree-node[data-id]").first.wait_for()
    page.locator(".tree-node[data-id]").first.click(force=True)
    page.click("#compare-go")
    page.wait_for_selector("#compare-out .compare-side .attn-cell")
    page.locator("#training img").first.wait_for()
    results = axe.Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, results.generate_report()


def test_the_page_works_behind_an_api_key(browser, korean_runs):
    """With --api-key the page asks for the key once, refuses a wrong one, then sends it on every
    /v1/ request (translate, the studio, the training pictures) and never puts it in a URL."""
    from seqattn.serve.app import create_app
    from seqattn.translator import Translator

    key = "open sesame 42"
    app = create_app({"ko-general": Translator.load(korean_runs["ko-general"], device="cpu")},
                     batch_window_ms=5, api_key=key)
    with serve_app(app) as url:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        p = context.new_page()
        p.set_default_timeout(30_000)
        sent: list[tuple[str, str | None]] = []
        p.on("request", lambda r: sent.append((r.url, r.headers.get("authorization"))))
        p.goto(url + "/")
        p.locator("#key-form").wait_for()
        assert "wants an API key" in p.inner_text("#key-message")
        p.fill("#api-key", "wrong key")
        p.click("#key-form button")
        p.wait_for_function("() => document.querySelector('#key-message').textContent.includes('refused')")
        p.fill("#api-key", key)
        p.click("#key-form button")
        p.wait_for_selector("#model option", state="attached")
        assert p.locator("#key-form").is_hidden()
        p.fill("#input", HANGUL)
        p.click("#translate")
        p.wait_for_selector("#output .result .translation")
        assert p.inner_text("#output .result .translation").strip()
        open_tool(p, "Why not…?").locator(".force-input").fill("I like AI.")
        p.locator(".force-go").click()
        p.locator(".whynot-table").wait_for()
        p.locator("#training").wait_for()
        p.wait_for_function("() => { const i = [...document.querySelectorAll('#training-images img')];"
                            " return i.length > 0 && i.every((x) => x.complete && x.naturalWidth > 0); }")
        images = p.locator("#training-images img").all()
        assert all(i.get_attribute("src").startswith("blob:") for i in images)
        context.close()
    v1 = [(u, auth) for u, auth in sent if u.startswith(url + "/v1/")]
    assert {u.split("?")[0].removeprefix(url) for u, _ in v1} >= {"/v1/models", "/v1/translate", "/v1/score"}
    assert all(auth == f"Bearer {key}" for u, auth in v1[2:]), v1  # (the first two: no key yet, a wrong one)
    assert all("sesame" not in u for u, _ in sent)
