"""Shared figure conventions: the Agg backend, the paper's colour map, atomic PNG + PDF output,
and the layout check every figure must pass (text inside the canvas, no two texts overlapping)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; no screen is assumed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from ropelab.checks.atomic import write_atomically  # noqa: E402

# The paper draws heatmaps with high frequencies on top and a sequential map.
HEATMAP_CMAP = "viridis"
ENCODING_COLOURS = {
    "NoPE": "#7f7f7f",
    "RoPE": "#1f77b4",
    "p-RoPE": "#2ca02c",
    "partial rotary": "#ff7f0e",
    "reversed p-RoPE": "#d62728",
}
# Two texts closer than this many pixels (at the saved dpi) read as one: "10", "11G", "12"
# side by side with no gap read "1011G12". A text may reach this far past the canvas edge.
MIN_GAP_PX = 1.0
DPI = 150

_kept: list[tuple[str, plt.Figure]] | None = None


@contextlib.contextmanager
def keeping_figures() -> Iterator[list[tuple[str, plt.Figure]]]:
    """Within the block, :func:`save` leaves each figure open and appends ``(name, figure)`` to the list."""
    global _kept
    previous, _kept = _kept, []
    try:
        yield _kept
    finally:
        _kept = previous


def save(fig: plt.Figure, out_dir: str | Path, name: str) -> list[Path]:
    """Write ``fig`` as ``name.png`` and ``name.pdf`` in ``out_dir`` atomically, then close it."""
    out_dir = Path(out_dir)
    paths = []
    for ext in ("png", "pdf"):
        paths.append(
            write_atomically(out_dir / f"{name}.{ext}", lambda tmp, ext=ext: fig.savefig(tmp, format=ext, dpi=DPI))
        )
    if _kept is None:
        plt.close(fig)
    else:
        _kept.append((name, fig))
    return paths


def drawn_texts(fig: plt.Figure) -> list[tuple[Text, np.ndarray]]:
    """Every non-empty text the renderer draws, with its outline as a (4, 2) polygon in pixels.

    The texts are collected while ``fig`` is drawn (tick labels outside the view are not drawn,
    so they are not listed). A rotated text's outline is its rotated rectangle, not the larger
    axis-aligned box around it, so that slanted tick labels side by side do not count as touching.
    """
    fig.set_dpi(DPI)
    seen: list[tuple[Text, np.ndarray]] = []
    original = Text.draw

    def recording_draw(self, renderer):
        original(self, renderer)
        if self.get_visible() and self.get_text().strip():
            seen.append((self, _outline(self, renderer)))

    Text.draw = recording_draw
    try:
        fig.canvas.draw()
    finally:
        Text.draw = original
    return seen


def _outline(text: Text, renderer) -> np.ndarray:
    box = text.get_window_extent(renderer)
    angle = math.radians(text.get_rotation() % 180)
    c, s = abs(math.cos(angle)), abs(math.sin(angle))
    det = c * c - s * s
    if abs(det) < 0.2:  # near 45 degrees the rectangle is not recoverable from its box: keep the box
        w, h, u = box.width, box.height, np.array([1.0, 0.0])
    else:  # the box of a w x h rectangle turned by the angle is (w c + h s) x (w s + h c)
        w = (c * box.width - s * box.height) / det
        h = (c * box.height - s * box.width) / det
        u = np.array([math.cos(angle), math.sin(angle)])
    v = np.array([-u[1], u[0]])
    centre = np.array([box.x0 + box.width / 2, box.y0 + box.height / 2])
    half_w, half_h = max(w, 0.0) / 2, max(h, 0.0) / 2
    return np.array([centre + sx * half_w * u + sy * half_h * v for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))])


def _overlap_depth(a: np.ndarray, b: np.ndarray) -> float:
    """How deep two convex polygons overlap: the smallest projection overlap over their edge normals
    (separating axis theorem; <= 0 means apart)."""
    depth = math.inf
    for poly in (a, b):
        for i in range(len(poly)):
            edge = poly[(i + 1) % len(poly)] - poly[i]
            normal = np.array([-edge[1], edge[0]])
            length = np.hypot(*normal)
            if length == 0:
                continue
            normal /= length
            pa, pb = a @ normal, b @ normal
            depth = min(depth, min(pa.max(), pb.max()) - max(pa.min(), pb.min()))
    return depth


def layout_problems(fig: plt.Figure) -> list[str]:
    """What a reader would see as broken in ``fig``: text cut by the canvas edge, texts on top of each other.

    Two texts overlap when fewer than ``MIN_GAP_PX`` pixels separate them.

    Checks every drawn text (titles, axis labels, tick labels, legend entries, annotations,
    table cells). Returns one line per problem; an empty list means the layout is clean.

    >>> fig = plt.figure(figsize=(2, 1))
    >>> _ = fig.text(0.1, 0.5, "one"); _ = fig.text(0.15, 0.5, "two")
    >>> layout_problems(fig)
    ["'one' overlaps 'two'"]
    >>> plt.close(fig)
    """
    texts = drawn_texts(fig)
    width, height = fig.canvas.get_width_height()
    problems = []
    for text, outline in texts:
        lo, hi = outline.min(axis=0), outline.max(axis=0)
        if lo[0] < -MIN_GAP_PX or lo[1] < -MIN_GAP_PX or hi[0] > width + MIN_GAP_PX or hi[1] > height + MIN_GAP_PX:
            problems.append(f"{text.get_text()!r} leaves the canvas")
    for i, (first, a) in enumerate(texts):
        for second, b in texts[i + 1:]:
            if _overlap_depth(a, b) > -MIN_GAP_PX:
                problems.append(f"{first.get_text()!r} overlaps {second.get_text()!r}")
    return problems
