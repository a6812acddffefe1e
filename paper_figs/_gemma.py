"""Shared helpers for the Gemma 3 270M figures: the data they draw and the banner they carry.

The figures are drawn from the figure data committed with the package
(``results/gemma3_270m/figure_data.json``, cut from the model summary by :func:`figure_data`),
so ``ropelab figs`` and the site draw them on the base install, without the model or its
packages; ``ropelab analyze-model`` runs the model and draws them afresh.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "FIGURE_DATA",
    "FIGURE_FIELDS",
    "figure_data",
    "layer_labels",
    "model_title",
    "pair_heatmap",
    "summary",
]

BANNER = "Gemma 3 270M, not the paper's Gemma 7B"
COMMITTED = "gemma3_270m"
FIGURE_DATA = "figure_data.json"
# What each figure reads from a model summary: top-level key -> the fields kept (None: all of it).
FIGURE_FIELDS: dict[str, tuple[str, ...] | None] = {
    "model": None, "versions": None, "profiles": None, "head_profiles": None, "head_scores": None,
    "band_onsets": None, "chosen_heads": None, "tables": None, "paper": ("tables3to5",),
    "attention_maps": None, "per_token": ("q",),
    "head_type_views": ("layer", "head", "type", "tokens", "attention", "logits", "q", "k"),
}
SIGNIFICANT = 4
"""Significant digits kept in the committed figure data (a heatmap shows two at most)."""


def _rounded(value: Any) -> Any:
    """``value`` with every float rounded to :data:`SIGNIFICANT` digits and NaN written as ``None``.

    >>> _rounded({"a": [3.14159265, float("nan")], "b": "x"})
    {'a': [3.142, None], 'b': 'x'}
    """
    if isinstance(value, Mapping):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise ValueError("figure data must be finite or NaN (a masked cell), got inf")
        return float(f"{value:.{SIGNIFICANT}g}")
    return value


def figure_data(summary: Mapping[str, Any]) -> dict:
    """The part of a model summary (:func:`ropelab.checks.findings.model_analysis.analyze`) the Gemma figures draw.

    Keeps :data:`FIGURE_FIELDS`, floats rounded to :data:`SIGNIFICANT` significant digits,
    masked (NaN) cells as ``None``. A summary without one of those keys raises ``ValueError``
    naming it.

    >>> figure_data({"model": {}})
    Traceback (most recent call last):
    ...
    ValueError: the model summary has no 'versions' (the Gemma figures need it)
    """
    out: dict[str, Any] = {}
    for key, fields in FIGURE_FIELDS.items():
        if key not in summary:
            raise ValueError(f"the model summary has no {key!r} (the Gemma figures need it)")
        value = summary[key]
        if fields is not None:
            if key == "paper":
                value = {f: value[f] for f in fields}
            else:  # a mapping of heads: keep the listed fields of each
                value = {name: {f: entry[f] for f in fields if f in entry} for name, entry in value.items()}
        out[key] = _rounded(value)
    return out


def committed_summary() -> dict:
    """The Gemma 3 270M figure data committed with the package; no model is run.

    Raises ``ValueError`` naming the file when it is missing or lacks a key the figures read.
    """
    from importlib import resources

    source = resources.files("ropelab.results").joinpath(COMMITTED, FIGURE_DATA)
    if not source.is_file():
        raise ValueError(f"the committed figure data {COMMITTED}/{FIGURE_DATA} is missing from ropelab.results")
    data = json.loads(source.read_text(encoding="utf-8"))
    missing = [key for key in FIGURE_FIELDS if key not in data]
    if missing:
        raise ValueError(f"{COMMITTED}/{FIGURE_DATA} lacks {', '.join(missing)} (the Gemma figures need it)")
    return data


def summary() -> dict:
    """The data the Gemma figures draw by default: the committed Gemma 3 270M figure data."""
    return committed_summary()


def model_title(summary: Mapping[str, Any]) -> str:
    """The figure suptitle: which model, and that it is not the paper's."""
    label = summary["model"]["label"]
    if "Gemma 3 270M" in label:
        return BANNER
    return f"{label} (not the paper's Gemma 7B)"


def layer_labels(summary: Mapping[str, Any]) -> list[str]:
    """Layer tick labels; layers with the largest base are marked ``G`` (global), others plain."""
    thetas = summary["model"]["thetas"]
    top = max(thetas)
    many = len(set(thetas)) > 1
    return [f"{i}G" if many and t == top else str(i) for i, t in enumerate(thetas)]


def pair_heatmap(ax, values: np.ndarray, xlabels: list[str], title: str, cmap: str, vmax: float | None = None):
    """Draw ``values (P, columns)`` with pair 0 (highest frequency) on top; returns the image."""
    image = ax.imshow(values, aspect="auto", origin="upper", cmap=cmap, interpolation="nearest", vmin=0, vmax=vmax)
    ax.set_xticks(range(len(xlabels)))
    # upright labels only while they fit side by side (18 layers of "11G" would run together)
    widest = max(len(line) for label in xlabels for line in label.split("\n"))
    upright = widest * len(xlabels) <= 36
    ax.set_xticklabels(xlabels, fontsize=6, rotation=0 if upright else 90)
    ax.set_title(title, fontsize=9)
    return image
