"""The web page over an exported model, in headless Chromium: it translates, and the studio's
tools that need the model's internals show the server's one line in their panel."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

from seqattn.export import export_run  # noqa: E402
from tests.serve.browser import CHROMIUM, chromium, page_at  # noqa: E402
from tests.serve.conftest import serve_app  # noqa: E402

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)


def test_the_page_over_an_exported_model(trained_run, tmp_path):
    from seqattn.serve.app import create_app

    export_run(trained_run, tmp_path / "tiny-export")
    app = create_app([tmp_path / "tiny-export"], batch_window_ms=5)
    with serve_app(app) as url, chromium(sync_api) as browser, page_at(browser, url) as page:
        assert "exported (ONNX Runtime, fp32)" in page.text_content("#model-info")
        page.fill("#input", "alpha beta")
        page.click("#translate")
        page.wait_for_selector("#output .result .attn-cell")
        card = page.locator("#output .result").first
        for tool, what in (("Step through", "explain"), ("Beam tree", "beam trees")):
            card.get_by_role("button", name=tool, exact=True).click()
            panel = card.locator(f"section.studio-panel[aria-label='{tool}'] .studio-error")
            panel.wait_for()
            assert panel.text_content() == (f"model 'tiny-export': an exported model does not offer "
                                            f"step-by-step internals ({what}); serve the run directory for "
                                            "the studio")
        assert page.locator("#training").is_hidden()
        assert page.locator("#error").is_hidden()
