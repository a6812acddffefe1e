"""Fig 4 on Gemma 3 270M: mean 2-norm of each frequency pair per head, for one layer's q, k and v.

The layer defaults to the one holding the most diagonal head. Each query head's column is
labelled with its diagonal / previous-token / BOS attention mass. Not the paper's Gemma 7B.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import _gemma, _style

__all__ = ["draw", "render"]


def draw(summary: Mapping[str, Any], out_dir: str | Path, layer: int | None = None, stem: str = "head_norms") -> list[Path]:
    """Draw the per-head heatmaps of ``layer`` (default: the most diagonal head's layer)."""
    n_layers = summary["model"]["layers"]
    layer = summary["chosen_heads"]["diagonal"]["layer"] if layer is None else int(layer)
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer must be an integer in [0, {n_layers - 1}], got {layer}")
    scores = {name: np.asarray(summary["head_scores"][name])[layer] for name in ("diagonal", "previous_token", "bos")}
    q = np.asarray(summary["head_profiles"]["q"])[layer]  # (H, P)
    k = np.asarray(summary["head_profiles"]["k"])[layer]  # (G, P)
    v = np.asarray(summary["head_profiles"]["v"])[layer]
    q_labels = [f"h{h}\nd{scores['diagonal'][h]:.2f}\np{scores['previous_token'][h]:.2f}\nb{scores['bos'][h]:.2f}" for h in range(q.shape[0])]
    kv_labels = [f"kv{g}" for g in range(k.shape[0])]
    widths = [q.shape[0], k.shape[0] + 0.6, v.shape[0] + 0.6]
    fig, axes = _style.plt.subplots(1, 3, figsize=(7.5, 4.4), sharey=True, gridspec_kw={"width_ratios": widths})
    vmax = float(max(q.max(), k.max()))
    for ax, (title, values, labels) in zip(axes, (("queries", q, q_labels), ("keys", k, kv_labels), ("values", v, kv_labels))):
        image = _gemma.pair_heatmap(ax, values.T, labels, title, _style.HEATMAP_CMAP, vmax if title != "values" else None)
        fig.colorbar(image, ax=ax, fraction=0.15 if title != "queries" else 0.05, pad=0.04)
    axes[0].set_ylabel("frequency pair m (0 = highest frequency)")
    axes[0].set_xlabel("head (d = diagonal, p = previous, b = BOS mass)", fontsize=7)
    theta = summary["model"]["thetas"][layer]
    fig.suptitle(f"{_gemma.model_title(summary)}: layer {layer} (theta={theta:g}) per head (cf. paper Fig 4)", fontsize=9)
    fig.tight_layout()
    return _style.save(fig, out_dir, stem)


def render(out_dir: str | Path) -> list[Path]:
    """Draw from the committed Gemma 3 270M figure data (no model is run)."""
    return draw(_gemma.summary(), out_dir, stem="gemma_head_norms")
