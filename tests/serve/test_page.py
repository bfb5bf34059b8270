"""The web page in real headless Chromium: type Hangul, translate, hover the attention map.

Needs Debian's `chromium` (+ `fonts-noto-cjk` for Hangul glyphs) and the `playwright` package;
skips cleanly without them. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("playwright.sync_api")

from tests.serve.browser import page_at, skip_without_chromium  # noqa: E402

HANGUL = "저는 AI를 좋아합니다"

skip_without_chromium()


@pytest.fixture
def page(browser, live_server):
    with page_at(browser, live_server.url) as p:
        yield p


def _strongest_source_column(page) -> int:
    """The source position with the most attention in total (so its hover surely highlights)."""
    return page.evaluate("""() => {
        const sums = {};
        document.querySelectorAll('#output .result:first-child .attn-cell').forEach((c) => {
            const j = c.dataset.j;
            sums[j] = (sums[j] || 0) + parseFloat(c.style.getPropertyValue('--w'));
        });
        return Number(Object.entries(sums).sort((a, b) => b[1] - a[1])[0][0]);
    }""")


def test_translate_hangul_and_explore_the_attention_map(page, tmp_path):
    assert "tiny" in page.inner_text("#model-info") or page.input_value("#model") == "tiny"
    page.fill("#input", HANGUL)
    page.click("#translate")
    page.wait_for_selector("#output .result .attn-cell")
    result = page.locator("#output .result").first
    assert result.locator(".source-text").inner_text() == HANGUL
    assert result.locator(".score").inner_text().startswith("score ")
    n_src = result.locator(".src-strip .src-token").count()
    n_tgt = result.locator(".tgt-strip .tgt-token").count()
    assert n_src >= 2 and n_tgt >= 1
    assert result.locator(".attn-cell").count() == n_src * n_tgt
    assert ":" in result.locator(".attn-cell").first.get_attribute("title")  # value on hover

    # output token -> the source tokens it attended to
    result.locator(".tgt-strip .tgt-token").first.hover()
    page.wait_for_selector("#output .src-token.highlight")
    assert result.locator(".tgt-token.active").count() >= 1
    assert "attended to" in result.locator(".attn-readout").inner_text()
    page.screenshot(path=str(tmp_path / "hover-output-token.png"), full_page=True)

    # source token -> the output tokens that attended to it (the reverse)
    j = _strongest_source_column(page)
    result.locator(f".src-strip .src-token[data-j='{j}']").hover()
    page.wait_for_selector("#output .tgt-token.highlight")
    assert result.locator(f".src-token.active[data-j='{j}']").count() >= 1
    assert result.locator(".attn-readout").inner_text().startswith("Attending to")

    # a cell: its row and column light up, the readout shows the weight
    result.locator(".attn-cell").first.hover()
    assert result.locator(".attn-cell.in-focus").count() == n_src
    assert "→" in result.locator(".attn-readout").inner_text()
    page.screenshot(path=str(tmp_path / "desktop.png"), full_page=True)
    assert (tmp_path / "desktop.png").stat().st_size > 10_000


def test_examples_n_best_and_errors(page):
    page.select_option("#beam", "3")
    page.select_option("#nbest", "3")
    page.click(".example[data-text='alpha beta gamma']")
    page.wait_for_selector("#output .result .hyp")
    result = page.locator("#output .result").first
    assert result.locator(".source-text").inner_text() == "alpha beta gamma"
    hyps = result.locator(".nbest .hyp")
    assert 1 <= hyps.count() <= 3
    if hyps.count() > 1:  # picking another hypothesis redraws its map
        hyps.nth(1).click()
        assert "selected" in hyps.nth(1).get_attribute("class")
    page.fill("#input", "")
    page.click("#translate")
    assert page.locator("#error").is_visible()
    assert "Type a sentence" in page.inner_text("#error")


def test_phone_width_layout(page, tmp_path):
    page.set_viewport_size({"width": 390, "height": 844})
    page.fill("#input", "alpha beta gamma delta omega sigma kappa theta zeta lambda " * 4)
    page.click("#translate")
    page.wait_for_selector("#output .attn-cell")
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= 392, "the page scrolls sideways on a phone; only the matrix may"
    page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)


def _translate(page, text: str) -> None:
    page.fill("#input", text)
    page.click("#translate")
    page.wait_for_selector("#output .result .attn-cell")


def _active(page) -> dict:
    return page.evaluate("() => ({...document.activeElement.dataset, "
                         "label: document.activeElement.getAttribute('aria-label')})")


def test_attention_map_words_subwords_and_keyboard(page, live_server, tmp_path):
    text = "alpha beta gamma delta"
    _translate(page, text)
    api = page.evaluate("""async (t) => (await (await fetch('/v1/translate', {method: 'POST',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify({texts: [t]})})).json())""", text)
    src_pieces = api["results"][0]["src_tokens"]
    assert any(p.startswith("\u2581") for p in src_pieces)
    result = page.locator("#output .result").first
    assert "\u2581" not in result.inner_text()  # the SentencePiece marker is never shown raw
    words = result.locator(".src-strip .src-token").all_inner_texts()
    assert words == text.split() + ["</s>"]  # whole words by default

    # column labels: horizontal text, angled at most 60 degrees (not a vertical letter stack)
    angle, mode = page.evaluate("""() => {
        const s = getComputedStyle(document.querySelector('.col-label'));
        const m = new DOMMatrix(s.transform);
        return [Math.atan2(m.b, m.a) * 180 / Math.PI, s.writingMode]; }""")
    assert mode == "horizontal-tb" and 0 < abs(angle) <= 60

    # keyboard: Tab-reachable cells with accessible names; arrows move across cells
    cell = result.locator(".attn-cell").first
    assert cell.get_attribute("tabindex") == "0"
    assert result.locator(".attn-cell[tabindex='0']").count() == 1  # one Tab stop for the map
    cell.focus()
    first = _active(page)
    assert (first["i"], first["j"]) == ("0", "0")
    assert re.fullmatch(r".+ → alpha: [01]\.\d\d", first["label"]), first["label"]
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    now = _active(page)
    assert (now["i"], now["j"]) == ("0", "2") and " → gamma: " in now["label"]
    assert "→ “gamma”" in result.locator(".attn-readout").inner_text()
    n_tgt = result.locator(".tgt-strip .tgt-token").count()
    page.keyboard.press("ArrowDown")
    assert _active(page)["i"] == ("1" if n_tgt > 1 else "0")
    page.keyboard.press("End")
    assert _active(page)["j"] == str(len(words) - 1)
    assert result.locator(".attn-cell.in-focus").count() == len(words)  # its row lights up

    # source tokens: buttons with names, arrows move along the strip
    result.locator(".src-strip .src-token").first.focus()
    assert _active(page)["label"] == "source 1: alpha"
    page.keyboard.press("ArrowRight")
    assert _active(page)["label"] == "source 2: beta"
    assert result.locator(".attn-readout").inner_text().startswith("Attending to “beta”")

    # numbers in the cells, equal to the names' weights
    page.check("#opt-values")
    cell = result.locator(".attn-cell").first
    assert cell.inner_text() == cell.get_attribute("aria-label").rsplit(": ", 1)[1]
    page.screenshot(path=str(tmp_path / "values.png"), full_page=True)

    # subwords on demand, still without the raw marker
    page.uncheck("#opt-words")
    pieces = result.locator(".src-strip .src-token").all_inner_texts()
    assert len(pieces) == len(src_pieces) and "\u2581" not in "".join(pieces)
    assert [p.lstrip("·") for p in pieces] == [p.lstrip("\u2581") or "␣" for p in src_pieces]
    tgt_pieces = api["results"][0]["hypotheses"][0]["tgt_tokens"]
    assert result.locator(".attn-cell").count() == len(src_pieces) * len(tgt_pieces)
    # each row of the subword map still sums to 1 (as the word map's do)
    sums = page.evaluate("""() => { const rows = {};
        document.querySelectorAll('#output .result .attn-cell').forEach((c) => {
            rows[c.dataset.i] = (rows[c.dataset.i] || 0) + parseFloat(c.style.getPropertyValue('--w')); });
        return Object.values(rows); }""")
    assert all(abs(x - 1) < 0.01 for x in sums)


def test_mid_weights_are_clearly_coloured(page):
    """A weight of 0.4 is a clear colour, not a pale tint (contrast with white >= 2.5:1)."""
    colour = "const { rampColour, luminance } = await import('/static/colour.js');"  # the page's module
    contrast = page.evaluate(f"""async () => {{ {colour} const l = luminance(rampColour(0.4));
        return 1.05 / (l + 0.05); }}""")
    assert contrast >= 2.5, contrast
    lum = page.evaluate(f"""async () => {{ {colour}
        return [0, 0.1, 0.2, 0.4, 0.6, 0.8, 1].map((w) => luminance(rampColour(w))); }}""")
    assert lum == sorted(lum, reverse=True) and lum[0] > 0.9  # darker with more weight, white-ish at 0


def test_examples_come_from_the_selected_model(browser, live_server):
    """The example buttons are the served models' own (no German on a Korean model)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    korean = ["저는 AI를 좋아합니다", "오늘 날씨가 좋네요."]

    def two_models(route):
        body = route.fetch().json()
        ko = {**body["models"][0], "name": "ko", "src_lang": "ko", "tgt_lang": "en", "examples": korean}
        body["models"].append(ko)
        route.fulfill(json=body)

    context.route(live_server.url + "/v1/models", two_models)
    p = context.new_page()
    p.set_default_timeout(30_000)
    p.goto(live_server.url + "/")
    p.wait_for_selector("#model option[value='ko']", state="attached")
    examples = p.locator("#example-buttons .example")
    assert examples.all_inner_texts() == ["alpha beta gamma"]  # the tiny run's train.samples
    p.select_option("#model", "ko")
    assert examples.all_inner_texts() == korean
    assert "Zwei Hunde" not in p.content()
    with p.expect_request(live_server.url + "/v1/translate") as sent:
        examples.first.click()  # fills the input and translates with the chosen model
    assert p.input_value("#input") == korean[0]
    assert sent.value.post_data_json["texts"] == [korean[0]] and sent.value.post_data_json["model"] == "ko"
    context.close()


def test_page_has_no_serious_accessibility_violations(page, tmp_path):
    """axe-core (through Playwright) on the page with a translation shown, with and without numbers."""
    axe = pytest.importorskip("axe_playwright_python.sync_playwright")
    _translate(page, HANGUL)
    page.locator("#output .attn-cell").first.focus()
    for values in (False, True):
        page.set_checked("#opt-values", values)
        results = axe.Axe().run(page)
        assert results.response["testEngine"]["name"] == "axe-core"
        bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, results.generate_report()


def test_api_docs_render_with_all_outside_network_blocked(browser, live_server, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    blocked: list[str] = []

    def only_local(route):
        if route.request.url.startswith(live_server.url + "/"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    p = context.new_page()
    p.set_default_timeout(30_000)
    p.goto(live_server.url + "/docs")
    p.wait_for_selector(".opblock-summary-path")
    paths = p.locator(".opblock-summary-path").all_inner_texts()
    assert {"/v1/translate", "/v1/models", "/healthz"} <= {t.strip().replace("\u200b", "") for t in paths}
    p.screenshot(path=str(tmp_path / "docs.png"))
    assert not blocked, blocked  # the docs page asked for nothing outside this server
    context.close()
