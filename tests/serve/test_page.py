"""The web page in real headless Chromium: type Hangul, translate, hover the attention map.

Needs Debian's `chromium` (+ `fonts-noto-cjk` for Hangul glyphs) and the `playwright` package;
skips cleanly without them. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HANGUL = "저는 AI를 좋아합니다"

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium fonts-noto-cjk)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    p = context.new_page()
    p.set_default_timeout(30_000)
    seen: list[str] = []
    p.on("request", lambda r: seen.append(r.url))
    p.goto(live_server.url + "/")
    p.wait_for_selector("#model option", state="attached")
    yield p
    assert seen and all(u.startswith(live_server.url + "/") for u in seen), seen  # nothing outside
    context.close()


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
    assert "←" in result.locator(".attn-readout").inner_text()
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
