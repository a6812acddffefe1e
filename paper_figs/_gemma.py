"""Shared helpers for the Gemma 3 270M figures: the summary they draw and the banner they carry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

BANNER = "Gemma 3 270M, not the paper's Gemma 7B"


def summary() -> dict:
    """The default model summary: from the cache, or computed now (runs the model once)."""
    from ropelab.checks.findings.model_analysis import default_summary

    return default_summary()


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
