"""docs/attention_story.ipynb runs from top to bottom (nbclient, a fresh kernel) without errors, and
its displays are the package's own: a Translation, an Explanation and a ForcedScore as HTML."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "attention_story.ipynb"


def test_the_attention_story_notebook_runs(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert len(html) == 3  # the translation, the explanation, the forced score
    assert all("data:image/png;base64," in h for h in html)  # each with its heatmap
    assert "greedy" in html[1] and "score(s_t, h_j)" in html[1]
    text = "".join(o.get("text", "") for o in outputs
                   if o.output_type == "stream" and o.get("name") == "stdout")
    assert "softmax(scores) == weights: True" in text
    assert "equals the model's own attention value: True" in text
    assert "← chosen" in text
