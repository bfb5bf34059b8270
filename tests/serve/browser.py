"""Debian's Chromium driven by Playwright, shared by the browser tests (no browser download), and
the steps the studio's tests share (translate, open a tool, call the API from the page)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HANGUL = "저는 AI를 좋아합니다"


@contextmanager
def chromium(sync_api) -> Iterator[object]:
    """A headless Chromium browser (`sync_api` is playwright.sync_api, imported by the caller)."""
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def skip_without_chromium() -> None:
    """Skip the calling test module (at import) where Debian's Chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium fonts-noto-cjk)",
                    allow_module_level=True)


@contextmanager
def page_at(browser, url: str, height: int = 800) -> Iterator[object]:
    """The page at `url` once its model list is there; on leaving, checks that every request
    the page made went to `url`'s server (the page makes no outside requests)."""
    context = browser.new_context(viewport={"width": 1280, "height": height})
    p = context.new_page()
    p.set_default_timeout(30_000)
    seen: list[str] = []
    p.on("request", lambda r: seen.append(r.url))
    p.goto(url + "/")
    p.wait_for_selector("#model option", state="attached")
    yield p
    assert seen and all(u.startswith(url + "/") for u in seen), seen  # nothing outside
    context.close()


def api(page, path: str, body: dict) -> dict:
    """POST `body` to the page's server from inside the page; the answer's JSON."""
    return page.evaluate("""async ([path, body]) => { const r = await fetch(path, {method: 'POST',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)}); return r.json(); }""",
                         [path, body])


def translate(page, text: str = HANGUL, model: str = "ko-general", beam: str = "5") -> None:
    """Translate `text` with the page's controls and wait for its attention map."""
    page.select_option("#model", model)
    page.select_option("#beam", beam)
    page.fill("#input", text)
    page.click("#translate")
    page.wait_for_selector("#output .result .attn-cell")


def open_tool(page, name: str):
    """Open the first result's studio tool `name` by its button; its panel."""
    card = page.locator("#output .result").first
    card.get_by_role("button", name=name, exact=True).click()
    return card.locator(f"section.studio-panel[aria-label='{name}']")
