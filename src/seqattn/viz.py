"""Attention heatmaps: one drawing function for the CLI, the Python API and training.

Fonts: Hangul (and other scripts) need a font that has their glyphs. We register the
NanumGothic files shipped by the `koreanize-matplotlib` package with matplotlib's font
manager *without importing that package* (importing it would change the user's global
rcParams), and name the fonts per text element, with DejaVu Sans as fallback.
"""

from __future__ import annotations

import importlib.util
import io
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from seqattn.atomic import atomic_write_bytes

FONT_FAMILIES = ["DejaVu Sans", "NanumGothic"]
TEXT = {"family": FONT_FAMILIES, "parse_math": False}  # user text is drawn as it is: "$5" is not math
_registered = False


def register_fonts() -> list[str]:
    """Add the bundled CJK font files to matplotlib's font manager (once); return their paths."""
    global _registered
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(next(iter(spec.submodule_search_locations))) / "fonts"
    paths = sorted(str(p) for p in folder.glob("NanumGothic*.ttf"))
    if not _registered:
        for path in paths:
            font_manager.fontManager.addfont(path)
        _registered = True
    return paths


DPI = 150
MIN_INCHES = (1600 / DPI, 1200 / DPI)  # the smallest figure: 1600 x 1200 pixels, slide-sized
MAX_INCHES = 40.0


def detokenize(tokens: Sequence[str]) -> str:
    """Output subwords as text: SentencePiece pieces joined at ▁, else tokens joined by spaces;
    special tokens such as </s> left out."""
    words = [t for t in tokens if not (t.startswith("<") and t.endswith(">") and len(t) > 2)]
    if any("\u2581" in t for t in words):
        return "".join(words).replace("\u2581", " ").strip()
    return " ".join(words)


def colour_scale(values: np.ndarray, label: str | None) -> dict:
    """imshow's colours: attention weights (`label` None) on 0..1; other scores on 0..their
    largest, or, when any is negative, on a diverging map centred on 0 (red up, blue down)."""
    if label is None:
        return {"cmap": "viridis", "vmin": 0.0, "vmax": 1.0}
    finite = values[np.isfinite(values)]
    top = float(np.abs(finite).max()) if finite.size else 0.0
    top = top if top > 0 else 1.0
    if finite.size and float(finite.min()) < 0:
        return {"cmap": "RdBu_r", "vmin": -top, "vmax": top}
    return {"cmap": "viridis", "vmin": 0.0, "vmax": top}


def draw_heatmap(attention: np.ndarray, src_tokens: Sequence[str], tgt_tokens: Sequence[str],
                 title: str | None = None, translation: str | None = None,
                 label: str | None = None) -> Figure:
    """A figure of attention weights: output subwords down, source subwords across.

    attention: (len(tgt_tokens), len(src_tokens)), rows summing to 1; or, with a colour-bar
    `label`, any scores (attributions; see `colour_scale`). The figure is at least
    1600 x 1200 pixels and grows with the number of tokens. With a `title` (the source), the
    title reads "title → translation", the translation defaulting to the output tokens as text
    ("" leaves it out); it is wrapped and drawn as plain text.
    """
    attention = np.asarray(attention, dtype=np.float32)
    if attention.shape != (len(tgt_tokens), len(src_tokens)):
        raise ValueError(f"attention of shape {attention.shape} does not match "
                         f"{len(tgt_tokens)} output x {len(src_tokens)} source tokens")
    register_fonts()
    n_src, n_tgt = len(src_tokens), len(tgt_tokens)
    long = max(n_src, n_tgt) > 40
    cell = 0.26 if long else 0.5  # inches per token, smaller when long
    width = min(MAX_INCHES, max(MIN_INCHES[0], 3.5 + cell * n_src))
    height = min(MAX_INCHES, max(MIN_INCHES[1], 3.0 + cell * n_tgt))
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(attention, aspect="equal", interpolation="nearest", **colour_scale(attention, label))
    size = 9 if long else 14
    ax.set_xticks(range(n_src), [t.replace("\u2581", "_") for t in src_tokens], rotation=60,
                  ha="right", rotation_mode="anchor", fontsize=size, **TEXT)
    ax.set_yticks(range(n_tgt), [t.replace("\u2581", "_") for t in tgt_tokens], fontsize=size, **TEXT)
    ax.set_xlabel("source subwords", fontsize=14, **TEXT)
    ax.set_ylabel("output subwords", fontsize=14, **TEXT)
    if title:  # wrapped here: matplotlib's own wrapping parses "$...$" as math regardless
        shown = detokenize(tgt_tokens) if translation is None else translation
        text = f"{title} → {shown}" if shown else title
        ax.set_title(textwrap.fill(text, max(30, int(width * 6))), fontsize=16, **TEXT)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label(label or "attention weight", fontsize=14, **TEXT)
    bar.ax.tick_params(labelsize=12)
    return fig


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt)
    return buffer.getvalue()


def figure_array(fig: Figure) -> np.ndarray:
    """RGB pixels (height, width, 3), e.g. for TensorBoard's add_image (dataformats='HWC')."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def save_heatmap(path_stem: str | Path, attention: np.ndarray, src_tokens: Sequence[str],
                 tgt_tokens: Sequence[str], title: str | None = None,
                 formats: Sequence[str] = ("png", "svg"), label: str | None = None) -> list[Path]:
    """Write `path_stem.png` and `path_stem.svg` (atomically); return the paths. `label`: see
    `draw_heatmap` (None: attention weights)."""
    fig = draw_heatmap(attention, src_tokens, tgt_tokens, title, label=label)
    written = []
    for fmt in formats:
        path = Path(f"{path_stem}.{fmt}")
        atomic_write_bytes(path, figure_bytes(fig, fmt))
        written.append(path)
    return written
