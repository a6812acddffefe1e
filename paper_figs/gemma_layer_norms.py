"""Fig 3/13 on Gemma 3 270M: mean 2-norm of each frequency pair per layer, for q, k, v and the logit budget.

Pair 0 (the highest frequency) is on top; global layers (base 1e6) are marked ``G``. The last
panel is the per-pair logit budget ``|q^(m)||k^(m)|`` with each layer's band onset (white
marks; finding ``larger_base_starts_band_at_lower_pair_index``). Not the paper's Gemma 7B.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import _gemma, _style

__all__ = ["draw", "render"]


def draw(summary: Mapping[str, Any], out_dir: str | Path, stem: str = "layer_norms") -> list[Path]:
    """Draw the four per-layer heatmaps from a model summary."""
    labels = _gemma.layer_labels(summary)
    profiles = {name: np.asarray(summary["profiles"][name]) for name in ("q", "k", "v")}
    head_q = np.asarray(summary["head_profiles"]["q"])  # (L, H, P)
    head_k = np.asarray(summary["head_profiles"]["k"])  # (L, G, P)
    budget = head_q * np.repeat(head_k, head_q.shape[1] // head_k.shape[1], axis=1)
    panels = [
        ("queries", profiles["q"]), ("keys", profiles["k"]), ("values", profiles["v"]),
        ("logit budget |q||k| + band onset", budget.mean(axis=1)),
    ]
    fig, axes = _style.plt.subplots(1, 4, figsize=(13, 4.2), sharey=True)
    for ax, (title, values) in zip(axes, panels):
        image = _gemma.pair_heatmap(ax, values.T, labels, title, _style.HEATMAP_CMAP)
        fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02)
        ax.set_xlabel("layer (G = global)", fontsize=8)
    # one white mark per layer at its band onset, as wide as the layer's column (a marker would cross the frame)
    layers = np.arange(len(labels))
    axes[-1].hlines(summary["band_onsets"], layers - 0.4, layers + 0.4, color="white", linewidths=2)
    axes[0].set_ylabel("frequency pair m (0 = highest frequency)")
    fig.suptitle(f"{_gemma.model_title(summary)}: mean pair norm per layer (cf. paper Fig 3)", fontsize=10)
    fig.tight_layout()
    return _style.save(fig, out_dir, stem)


def render(out_dir: str | Path) -> list[Path]:
    """Draw from the committed Gemma 3 270M figure data (no model is run)."""
    return draw(_gemma.summary(), out_dir, stem="gemma_layer_norms")
