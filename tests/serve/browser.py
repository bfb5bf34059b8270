"""Debian's Chromium driven by Playwright, shared by the browser tests (no browser download)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextmanager
def chromium(sync_api) -> Iterator[object]:
    """A headless Chromium browser (`sync_api` is playwright.sync_api, imported by the caller)."""
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


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
