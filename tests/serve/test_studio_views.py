"""The studio's newer views in headless Chromium, on the tiny Korean runs of test_studio_page.py:
"continue from here" under Why not…? (the forced start marked, each token's log-probability equal
to /v1/score's), five seeded samples beside the beam's output (equal to /v1/translate's, the same
seed drawing the same samples), the Attribution view (attention and a method side by side, equal
to /v1/attribute's), each opened and driven from the keyboard, and axe-core on all of them.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("playwright.sync_api")

from tests.serve.browser import HANGUL, api, page_at, skip_without_chromium, translate  # noqa: E402

skip_without_chromium()


@pytest.fixture
def page(browser, studio_server):
    with page_at(browser, studio_server.url, height=900) as p:
        yield p


def open_by_keyboard(page, name: str):
    """Tab to the first result's tool button `name`, press Enter; its panel."""
    card = page.locator("#output .result").first
    card.get_by_role("button", name=name, exact=True).focus()
    page.keyboard.press("Enter")
    panel = card.locator(f"section.studio-panel[aria-label='{name}']")
    panel.wait_for()
    return panel


def logprobs(rows) -> list[float]:
    return [float(x) for x in rows.locator("td.num").evaluate_all("cs => cs.map((c) => c.dataset.logprob)")]


def test_continue_from_here_finishes_a_typed_start(page):
    translate(page)
    panel = open_by_keyboard(page, "Why not…?")
    box = panel.locator(".continue-input")
    box.focus()
    page.keyboard.type("I")
    page.keyboard.press("Enter")
    panel.locator(".continue-table").wait_for()
    done = api(page, "/v1/translate", {"texts": [HANGUL], "model": "ko-general", "beam": 5, "prefix": "I"})
    finished = done["results"][0]["hypotheses"][0]["text"]
    scored = api(page, "/v1/score", {"source": HANGUL, "target": finished, "model": "ko-general"})
    typed = api(page, "/v1/score", {"source": HANGUL, "target": "I", "model": "ko-general"})
    forced = len(typed["tgt_tokens"]) - 1
    rows = panel.locator(".continue-table tbody tr")
    assert rows.count() == len(scored["tgt_tokens"])
    assert logprobs(rows) == pytest.approx(scored["logprobs"], abs=1e-9)
    marks = rows.locator(".mark").all_inner_texts()
    assert marks == ["forced"] * forced + ["model"] * (rows.count() - forced)
    summary = panel.locator(".continue-summary").inner_text()
    assert f"finishes it as “{finished}”" in summary and "beam 5" in summary
    assert panel.locator(".continue-result .attn-cell").count() > 0  # its attention map
    # an empty start is refused in the panel, as the other views do
    box.fill("")
    box.press("Enter")
    assert "Type the start of an output" in panel.locator(".studio-error").inner_text()


def test_samples_beside_the_beam_repeat_with_their_seed(page):
    translate(page)
    panel = open_by_keyboard(page, "Samples")
    panel.locator(".samples-table").wait_for()  # a first draw with a fresh seed
    seed = panel.locator(".sample-seed")
    seed.fill("7")
    seed.press("Enter")
    page.wait_for_function("() => document.querySelector('.samples-table caption').textContent"
                           ".includes('Seed 7,')")
    drawn = api(page, "/v1/translate", {"texts": [HANGUL], "model": "ko-general", "sample": 5, "seed": 7,
                                        "temperature": 1.0})
    own = page.locator("#output .result .translation").first.inner_text()
    beam = api(page, "/v1/score", {"source": HANGUL, "target": own, "model": "ko-general"})
    rows = panel.locator(".samples-table tbody tr")
    samples = drawn["results"][0]["hypotheses"]
    assert rows.count() == 1 + len(samples) == 6
    assert logprobs(rows) == pytest.approx([beam["logprob"]] + [h["score"] for h in samples], abs=1e-9)
    assert rows.locator("td.tok").all_inner_texts() == [own] + [h["text"] or "(empty)" for h in samples]
    shown = rows.locator("td.tok").all_inner_texts()
    seed.press("Enter")  # the same seed: the same draw
    page.wait_for_function("() => !document.querySelector('.sample-go').disabled")
    assert rows.locator("td.tok").all_inner_texts() == shown
    panel.get_by_role("button", name="show the attention of sample 3").press("Enter")
    assert "sample 3" in panel.locator(".samples-result h4").inner_text()
    assert panel.locator(".samples-result .attn-cell").count() > 0
    panel.locator(".sample-temperature").select_option("0.5")
    seed.press("Enter")
    page.wait_for_function("() => document.querySelector('.samples-table caption').textContent"
                           ".includes('temperature 0.5')")


def cell_values(box) -> list[list[float]]:
    """A map's cells' exact values (their --w), row by row."""
    cells = box.locator(".attn-cell").evaluate_all(
        "cs => cs.map((c) => [Number(c.dataset.i), Number(c.dataset.j),"
        " Number(c.style.getPropertyValue('--w'))])")
    rows: dict[int, dict[int, float]] = {}
    for i, j, w in cells:
        rows.setdefault(int(i), {})[int(j)] = w
    return [[rows[i][j] for j in sorted(rows[i])] for i in sorted(rows)]


def test_attribution_shows_attention_beside_a_method(page):
    translate(page)
    page.uncheck("#opt-words")  # subwords: the cells are the API's own
    panel = open_by_keyboard(page, "Attribution")
    sides = panel.locator(".attr-side")
    sides.nth(1).locator(".attn-cell").first.wait_for()  # integrated gradients, computed on opening
    own = page.locator("#output .result .translation").first.inner_text()
    ask = {"text": HANGUL, "model": "ko-general", "output": own}
    attention = api(page, "/v1/attribute", {**ask, "method": "attention"})
    ig = api(page, "/v1/attribute", {**ask, "method": "integrated_gradients", "steps": 50})
    assert sides.nth(0).locator("h4").inner_text() == "Attention"
    assert sides.nth(1).locator("h4").inner_text() == "integrated gradients"
    np.testing.assert_allclose(cell_values(sides.nth(0)), attention["scores"], atol=1e-9)
    np.testing.assert_allclose(cell_values(sides.nth(1)), ig["scores"], rtol=1e-4, atol=1e-6)
    assert "pick the same most important source subword for" in panel.locator(".attr-summary").inner_text()
    # a negative score is orange, a positive one blue: the diverging scale, not attention's ramp
    colours = sides.nth(1).locator(".attn-cell").evaluate_all(
        "cs => cs.map((c) => [Number(c.style.getPropertyValue('--w')), getComputedStyle(c).backgroundColor])")
    for w, rgb in colours:
        r, _, b = (int(x) for x in rgb[rgb.index("(") + 1 : -1].replace(",", " ").split()[:3])
        if w < 0:
            assert r > b, (w, rgb)
        elif w > 0:
            assert b > r, (w, rgb)
    # occlusion, contrastive, chosen from the keyboard
    panel.locator(".attr-method").select_option("occlusion")
    panel.locator(".attr-contrast").fill("I like coffee.")
    panel.locator(".attr-go").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('.attr-side:nth-child(2) h4').textContent"
                           ".includes('rather than')")
    found = api(page, "/v1/attribute", {**ask, "method": "occlusion", "contrast": "I like coffee."})
    np.testing.assert_allclose(cell_values(sides.nth(1)), found["scores"], rtol=1e-4, atol=1e-6)
    page.check("#opt-words")  # whole words: the summary follows
    page.wait_for_function("() => document.querySelector('.attr-summary').textContent"
                           ".includes('source word')")


def test_new_views_have_no_serious_accessibility_violations(page):
    axe = pytest.importorskip("axe_playwright_python.sync_playwright")
    translate(page)
    why = open_by_keyboard(page, "Why not…?")
    why.locator(".continue-input").fill("I")
    why.locator(".continue-input").press("Enter")
    why.locator(".continue-table").wait_for()
    open_by_keyboard(page, "Samples").locator(".samples-table").wait_for()
    attribution = open_by_keyboard(page, "Attribution")
    attribution.locator(".attr-side .attn-cell").first.wait_for()
    attribution.locator(".attr-side").nth(1).locator(".attn-cell").first.focus()
    results = axe.Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, results.generate_report()
