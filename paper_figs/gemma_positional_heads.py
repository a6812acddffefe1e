"""Figs 5-6 on Gemma 3 270M: the most diagonal and most previous-token heads, their maps and pair norms.

Top: attention maps on the English prompt. Bottom: the query's 2-norm per frequency pair and
token (pair 0, the highest frequency, on top), which the paper shows concentrating in the
highest frequencies for such heads. Not the paper's Gemma 7B.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import _gemma, _style

__all__ = ["draw", "render"]

HEADS = (("diagonal", "most diagonal head"), ("previous_token", "most previous-token head"))


def draw(summary: Mapping[str, Any], out_dir: str | Path, stem: str = "positional_heads") -> list[Path]:
    """Draw attention maps and per-token query pair norms of the chosen heads."""
    fig, axes = _style.plt.subplots(2, len(HEADS), figsize=(10, 8.5))
    for col, (name, caption) in enumerate(HEADS):
        amap = summary["attention_maps"][name]
        tokens = [t.replace("\n", "\\n") for t in amap["tokens"]]
        weights = np.asarray(amap["weights"])
        ax = axes[0, col]
        image = ax.imshow(weights, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks(range(len(tokens)))
        ax.set_xticklabels(tokens, rotation=90, fontsize=5)
        ax.set_yticks(range(len(tokens)))
        ax.set_yticklabels(tokens, fontsize=5)
        ax.set_title(f"{caption}: layer {amap['layer']} head {amap['head']} (score {amap['score']:.2f})", fontsize=8)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
        norms = np.asarray(summary["per_token"][name]["q"])  # (n, P)
        ax = axes[1, col]
        image = _gemma.pair_heatmap(ax, norms.T, tokens, "query pair norms per token", _style.HEATMAP_CMAP)
        ax.set_ylabel("frequency pair m (0 = highest frequency)", fontsize=7)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
    fig.suptitle(f"{_gemma.model_title(summary)}: positional heads (cf. paper Figs 5-6)", fontsize=10)
    fig.tight_layout()
    return _style.save(fig, out_dir, stem)


def render(out_dir: str | Path) -> list[Path]:
    """Draw from the committed Gemma 3 270M figure data (no model is run)."""
    return draw(_gemma.summary(), out_dir, stem="gemma_positional_heads")
