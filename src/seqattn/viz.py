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


def draw_heatmap(attention: np.ndarray, src_tokens: Sequence[str], tgt_tokens: Sequence[str],
                 title: str | None = None) -> Figure:
    """A figure of attention weights: output subwords down, source subwords across.

    attention: (len(tgt_tokens), len(src_tokens)), rows summing to 1.
    """
    attention = np.asarray(attention, dtype=np.float32)
    if attention.shape != (len(tgt_tokens), len(src_tokens)):
        raise ValueError(f"attention of shape {attention.shape} does not match "
                         f"{len(tgt_tokens)} output x {len(src_tokens)} source tokens")
    register_fonts()
    n_src, n_tgt = len(src_tokens), len(tgt_tokens)
    cell = 0.38 if max(n_src, n_tgt) <= 40 else 0.26  # inches per token, smaller when long
    width = min(40.0, 2.6 + cell * n_src)
    height = min(40.0, 1.9 + cell * n_tgt)
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(attention, cmap="viridis", vmin=0.0, vmax=1.0, aspect="equal",
                      interpolation="nearest")
    size = 10 if max(n_src, n_tgt) <= 40 else 7
    ax.set_xticks(range(n_src), [t.replace("\u2581", "_") for t in src_tokens], rotation=70,
                  ha="right", rotation_mode="anchor", fontsize=size, **TEXT)
    ax.set_yticks(range(n_tgt), [t.replace("\u2581", "_") for t in tgt_tokens], fontsize=size, **TEXT)
    ax.set_xlabel("source subwords", **TEXT)
    ax.set_ylabel("output subwords", **TEXT)
    if title:  # wrapped here: matplotlib's own wrapping parses "$...$" as math regardless
        ax.set_title(textwrap.fill(title, max(20, int(width * 9))), fontsize=10, **TEXT)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("attention weight", **TEXT)
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
                 formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write `path_stem.png` and `path_stem.svg` (atomically); return the paths."""
    fig = draw_heatmap(attention, src_tokens, tgt_tokens, title)
    written = []
    for fmt in formats:
        path = Path(f"{path_stem}.{fmt}")
        atomic_write_bytes(path, figure_bytes(fig, fmt))
        written.append(path)
    return written
