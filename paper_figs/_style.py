"""Shared figure conventions: the Agg backend, the paper's colour map, atomic PNG + PDF output,
and the layout check every figure must pass (text inside the canvas, no two texts overlapping,
no text under a legend, legend entries told apart, no marker cut by its axes, axes spanning
their data, log axes with labelled ticks)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import matplotlib.container

__all__ = ["ENCODING_COLOURS", "HEATMAP_CMAP", "keeping_figures", "layout_problems", "plt", "save"]

matplotlib.use("Agg")  # figures are files; no screen is assumed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.markers import MarkerStyle  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.transforms import Affine2D  # noqa: E402

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
    """What a reader would see as broken in ``fig``; one line per problem, none when the layout is clean.

    - a text cut by the canvas edge, or two texts closer than ``MIN_GAP_PX`` pixels (titles,
      axis and tick labels, legend entries, annotations, table cells);
    - a text under a legend that is not the legend's own;
    - two entries of one legend drawn alike (same colour, marker, line style and hatch);
    - a marker cut by the edge of its axes (half a point on the frame);
    - an axis running past its data by more than a decade (log) or ten times the data's
      span (linear);
    - a log axis with fewer than two tick labels (no scale can be read off it).

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
    renderer = fig.canvas.get_renderer()
    problems += _texts_under_legends(fig, texts, renderer)
    problems += _legends_alike(fig)
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison:
            continue
        problems += _clipped_markers(ax)
        problems += _axis_spans(ax)
        problems += _log_tick_labels(ax, {id(t) for t, _ in texts})
    return problems


def _legends(fig: plt.Figure) -> list[Legend]:
    found = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return [legend for legend in found + list(fig.legends) if legend.get_visible()]


def _box(bbox) -> np.ndarray:
    return np.array([[bbox.x0, bbox.y0], [bbox.x1, bbox.y0], [bbox.x1, bbox.y1], [bbox.x0, bbox.y1]])


def _texts_under_legends(fig, texts, renderer) -> list[str]:
    problems = []
    for legend in _legends(fig):
        own = {id(t) for t in legend.get_texts()} | {id(legend.get_title())}
        frame = _box(legend.get_window_extent(renderer))
        for text, outline in texts:
            if id(text) not in own and _overlap_depth(frame, outline) > -MIN_GAP_PX:
                problems.append(f"{text.get_text()!r} lies under a legend")
    return problems


def _colour(value) -> tuple:
    """The first colour of ``value`` as rounded RGBA (an artist may hold one colour or an array)."""
    try:
        array = matplotlib.colors.to_rgba_array(value)
    except (ValueError, TypeError):
        return (str(value),)
    return tuple(np.round(array[0], 3)) if len(array) else ()


def _looks(handle) -> tuple:
    """How a legend swatch is drawn: colours, marker, line style and hatch."""
    look: list = [type(handle).__name__]
    for getter in ("get_color", "get_facecolor", "get_edgecolor", "get_markerfacecolor", "get_markeredgecolor"):
        if hasattr(handle, getter):
            look.append(_colour(getattr(handle, getter)()))
    if isinstance(handle, Line2D):
        look += [str(handle.get_marker()), str(handle.get_linestyle()), handle.get_linewidth()]
    if isinstance(handle, PathCollection) and handle.get_paths():
        look.append(np.round(handle.get_paths()[0].vertices, 3).tobytes())
        look.append(tuple(np.round(handle.get_sizes(), 3)))
    if hasattr(handle, "get_alpha"):
        look.append(handle.get_alpha())
    if hasattr(handle, "get_hatch"):
        look.append(handle.get_hatch())
    return tuple(look)


def _entries(legend: Legend) -> list[tuple[str, tuple]]:
    """Each entry of ``legend`` as ``(label, look)``; an entry drawn from several artists (an error bar:
    marker, caps and bars) looks like all of them together."""
    labels = [t.get_text() for t in legend.get_texts()]
    originals = {}
    if legend.axes is not None:
        handles, names = legend.axes.get_legend_handles_labels()
        originals = dict(zip(names, handles, strict=True))
    entries = []
    for label, drawn in zip(labels, legend.legend_handles, strict=False):
        handle = originals.get(label, drawn)
        if isinstance(handle, matplotlib.container.Container):
            look = tuple(_looks(child) for child in handle.get_children() if child is not None)
        elif handle is not None:
            look = _looks(handle)
        else:
            continue
        entries.append((label, look))
    return entries


def _legends_alike(fig) -> list[str]:
    problems = []
    for legend in _legends(fig):
        seen: dict[tuple, str] = {}
        for label, look in _entries(legend):
            if look in seen:
                problems.append(f"legend entries {seen[look]!r} and {label!r} are drawn alike")
            else:
                seen[look] = label
    return problems


def _marker_extents(ax) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(label, centres (n, 2) px, half-size (n, 2) px)`` of every marker drawn in ``ax`` in data coordinates."""
    dpi = ax.figure.dpi
    out = []
    for line in ax.lines:
        marker = line.get_marker()
        if (not line.get_visible() or marker in (None, "None", "none", "", " ") or line.get_transform() != ax.transData
                or not line.get_clip_on()):
            continue
        style = MarkerStyle(marker)
        scale = Affine2D(style.get_transform().get_matrix()).scale(line.get_markersize() * dpi / 72)
        extent = style.get_path().get_extents(scale)
        half = np.array([max(abs(extent.x0), abs(extent.x1)), max(abs(extent.y0), abs(extent.y1))])
        half += line.get_markeredgewidth() * dpi / 72 / 2
        points = np.asarray(line.get_xydata(), dtype=float)
        points = points[np.isfinite(points).all(axis=1)]
        if points.size:
            centres = ax.transData.transform(points)
            out.append((line.get_label(), centres, np.broadcast_to(half, centres.shape)))
    for coll in ax.collections:
        if (not isinstance(coll, PathCollection) or not coll.get_visible() or not coll.get_clip_on()
                or coll.get_offset_transform() != ax.transData or not len(coll.get_offsets())):
            continue
        offsets = np.asarray(coll.get_offsets(), dtype=float)
        keep = np.isfinite(offsets).all(axis=1)
        centres = ax.transData.transform(offsets[keep])
        transforms = coll.get_transforms()
        paths = coll.get_paths()
        halves = []
        for i in range(len(offsets)):
            matrix = transforms[i % len(transforms)] if len(transforms) else np.eye(3)
            extent = paths[i % len(paths)].get_extents(Affine2D(matrix))
            halves.append([max(abs(extent.x0), abs(extent.x1)), max(abs(extent.y0), abs(extent.y1))])
        widths = np.asarray(coll.get_linewidths(), dtype=float)
        pad = (widths.max() if widths.size else 0.0) * dpi / 72 / 2
        out.append((coll.get_label(), centres, np.asarray(halves)[keep] + pad))
    return out


def _clipped_markers(ax) -> list[str]:
    """Markers that the axes' frame cuts: partly inside, partly outside (one line per artist)."""
    box = ax.bbox
    problems = []
    for label, centres, half in _marker_extents(ax):
        lo, hi = centres - half, centres + half
        inside = (hi[:, 0] > box.x0) & (lo[:, 0] < box.x1) & (hi[:, 1] > box.y0) & (lo[:, 1] < box.y1)
        whole = ((lo[:, 0] >= box.x0 - MIN_GAP_PX) & (hi[:, 0] <= box.x1 + MIN_GAP_PX)
                 & (lo[:, 1] >= box.y0 - MIN_GAP_PX) & (hi[:, 1] <= box.y1 + MIN_GAP_PX))
        cut = inside & ~whole
        if cut.any():
            where = ax.transData.inverted().transform(centres[cut][:1])[0]
            problems.append(f"{int(cut.sum())} marker(s) of {label!r} cut by the frame of "
                            f"{ax.get_title() or 'an axes'!r} (first at {where[0]:.3g}, {where[1]:.3g})")
    return problems


def _data_values(ax) -> tuple[np.ndarray, np.ndarray]:
    """The x and the y values of everything drawn in data coordinates in ``ax``: lines, markers, bars,
    error bars, and reference lines across the axes (``axhline`` gives a y, ``axvline`` an x)."""
    xs, ys = [], []

    def add(points) -> None:
        points = np.asarray(points, dtype=float).reshape(-1, 2)
        xs.append(points[:, 0])
        ys.append(points[:, 1])

    for line in ax.lines:
        if not line.get_visible():
            continue
        transform = line.get_transform()
        if transform == ax.transData:
            add(line.get_xydata())
        elif transform == ax.get_yaxis_transform():  # across the axes at a data y
            ys.append(np.asarray(line.get_ydata(), dtype=float))
        elif transform == ax.get_xaxis_transform():
            xs.append(np.asarray(line.get_xdata(), dtype=float))
    for coll in ax.collections:
        if not coll.get_visible():
            continue
        if isinstance(coll, PathCollection) and coll.get_offset_transform() == ax.transData:
            add(coll.get_offsets())
        elif isinstance(coll, LineCollection) and coll.get_transform() == ax.transData:
            for segment in coll.get_segments():
                add(segment)
    for patch in ax.patches:
        if isinstance(patch, Rectangle) and patch.get_visible() and patch.get_transform() == ax.transData:
            add(_box(patch.get_bbox()))
    join = lambda parts: np.concatenate(parts) if parts else np.empty(0)  # noqa: E731
    x, y = join(xs), join(ys)
    return x[np.isfinite(x)], y[np.isfinite(y)]


def _axis_spans(ax) -> list[str]:
    """An axis that runs past its data by more than a decade (log) or ten times the data's span (linear)."""
    if ax.images:  # a heatmap's axes are its cells
        return []
    problems = []
    name = ax.get_title() or "an axes"
    for axis, values, limits, scale in zip("xy", _data_values(ax), (ax.get_xlim(), ax.get_ylim()),
                                           (ax.get_xscale(), ax.get_yscale()), strict=True):
        low, high = sorted(limits)
        values = values[(values >= low) & (values <= high)]
        if scale == "log":
            values = values[values > 0]
            if not len(values):
                continue
            below, above = np.log10(values.min() / low), np.log10(high / values.max())
            if below > 1 or above > 1:
                problems.append(f"the {axis} axis of {name!r} runs {max(below, above):.1f} decades past its data "
                                f"({low:.3g}..{high:.3g} for data {values.min():.3g}..{values.max():.3g})")
        elif scale == "linear" and len(values):
            span = values.max() - values.min()
            if span > 0 and high - low > 10 * span:
                problems.append(f"the {axis} axis of {name!r} spans {low:.3g}..{high:.3g}, more than ten times "
                                f"its data ({values.min():.3g}..{values.max():.3g})")
    return problems


def _log_tick_labels(ax, drawn: set[int]) -> list[str]:
    """A log axis with fewer than two drawn, non-empty tick labels."""
    problems = []
    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() != "log":
            continue
        labels = [t for t in axis.get_ticklabels(which="both") if id(t) in drawn and t.get_text().strip()]
        if len(labels) < 2:
            problems.append(f"the log {axis.axis_name} axis of {ax.get_title() or 'an axes'!r} has "
                            f"{len(labels)} tick label(s); a reader needs two to read its scale")
    return problems
