"""Figs 6, 7, 12, 14-18 on Gemma 3 270M: one head of each type, its attention, raw logits and chunk norms.

One row per head type found by :mod:`ropelab.checks.findings.head_types` (diagonal,
previous-token, the head closest to content/semantic, BOS sink): the attention map, the raw
logits :math:`q_i^\\top R^{j-i} k_j` times the layer's scaling (Fig 12's view), and the 2-norm of
every frequency pair per token for the queries and the keys (pair 0, the highest frequency, on
top). Not the paper's Gemma 7B.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import _gemma, _style

__all__ = ["draw", "render"]

CAPTIONS = {"diagonal": "diagonal", "previous_token": "previous-token", "content": "closest to content (semantic)",
            "bos_sink": "BOS sink"}


LABELLED_TOKENS = 26
"""At most this many token labels along a panel's side: more would run into each other."""


def _token_axes(ax, tokens: list[str], labelled: bool) -> None:
    """Token labels on the attention panels (every token, or every few of a long prompt); the others
    mark every fifth position (tick text is slow to draw)."""
    if labelled:
        step = -(-len(tokens) // LABELLED_TOKENS)
        shown = range(0, len(tokens), step)
        ax.set_xticks(shown, [tokens[i] for i in shown], rotation=90, fontsize=4)
        ax.set_yticks(shown, [tokens[i] for i in shown], fontsize=4)
    else:
        ax.set_xticks(range(0, len(tokens), 5))
        ax.tick_params(labelsize=5)


def draw(summary: Mapping[str, Any], out_dir: str | Path, stem: str = "head_types") -> list[Path]:
    """Draw one row of four panels per head type in ``summary["head_type_views"]`` (none if it holds none)."""
    views = summary["head_type_views"]
    if not views:  # a model where no head meets any criterion: nothing to draw
        return []
    fig, axes = _style.plt.subplots(len(views), 4, figsize=(15, 3.8 * len(views)), squeeze=False)
    ordered = [kind for kind in CAPTIONS if kind in views] + [kind for kind in views if kind not in CAPTIONS]
    for row, kind in enumerate(ordered):
        view = views[kind]
        tokens = [t.replace("\n", "\\n")[:8] for t in view["tokens"]]
        logits = np.asarray(view["logits"], dtype=float)
        panels = (
            ("attention", np.asarray(view["attention"]), "Blues", True),
            ("raw logits (masked)", logits, "RdBu_r", True),
            ("query pair norms per token", np.asarray(view["q"]).T, _style.HEATMAP_CMAP, False),
            ("key pair norms per token", np.asarray(view["k"]).T, _style.HEATMAP_CMAP, False),
        )
        for col, (title, values, cmap, square) in enumerate(panels):
            ax = axes[row, col]
            if cmap == "RdBu_r":
                bound = float(np.nanmax(np.abs(values))) or 1.0
                image = ax.imshow(values, cmap=cmap, vmin=-bound, vmax=bound, interpolation="nearest")
            elif square:
                image = ax.imshow(values, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            else:
                image = ax.imshow(values, cmap=cmap, aspect="auto", vmin=0, interpolation="nearest")
                ax.set_ylabel("pair m (0 = highest frequency)", fontsize=6)
            _token_axes(ax, tokens, col == 0)
            ax.set_title(f"{CAPTIONS.get(kind, kind)}, layer {view['layer']} head {view['head']}\n{title}", fontsize=7)
            fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
    fig.suptitle(f"{_gemma.model_title(summary)}: head types (cf. paper Figs 6, 7, 12, 14-18)", fontsize=10)
    fig.tight_layout()
    return _style.save(fig, out_dir, stem)


def render(out_dir: str | Path) -> list[Path]:
    """Draw from the committed Gemma 3 270M figure data (no model is run)."""
    return draw(_gemma.summary(), out_dir, stem="gemma_head_types")
