"""Fig 5-style attention maps: constructed RoPE diagonal and previous-token heads beside NoPE's best.

The RoPE heads use the top 16 pairs of d = 256, theta = 1e4 at their smallest eps-sharp scale
for N = 8192, eps = 0.01 (and are therefore sharp on this shorter window too). NoPE's best
attempt is the head gradient ascent found for alpha_33 on [bos, x, x], run on
[bos, x, x, ..., x]: copies of x share every row's weight. Claims:
``rope_head_can_be_diagonal``, ``rope_head_can_be_previous_token``,
``nope_cannot_be_diagonal_or_previous_token``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ropelab.checks.claims import nope_heads
from ropelab.checks.claims import positional_heads as rope_heads
from ropelab.constructions import attention, token_heads
from ropelab.constructions import positional_heads as heads

from . import _style

__all__ = ["render"]

WINDOW = 20


def attention_maps() -> dict[str, np.ndarray]:
    """The three ``WINDOW x WINDOW`` causal attention matrices, by panel title."""
    psi, g = heads.band_vector(rope_heads.D_GEMMA, rope_heads.TOP_BAND), rope_heads.gemma_frequencies()
    maps = {}
    for distance, name in ((0, "RoPE diagonal head"), (1, "RoPE previous-token head")):
        sharp = heads.smallest_sharp_scale(psi, g, rope_heads.CONTEXT_8K, rope_heads.EPS_8K, distance)
        q, k = heads.head_vectors(psi, g, sharp.scale, distance)
        maps[f"{name}\n|q| = {sharp.scale:.2f}"] = np.asarray(
            attention.attention_weights(np.tile(q, (WINDOW, 1)), np.tile(k, (WINDOW, 1)), g))
    run = nope_heads.ascent_run("NoPE")
    emb = nope_heads.ascent_embeddings()
    tokens = np.array([0] + [1] * (WINDOW - 1))
    maps["NoPE: best head from gradient ascent\non [bos, x, ..., x]"] = np.asarray(
        token_heads.token_head_weights(emb, tokens, run.w_q, run.w_k, np.zeros(nope_heads.ASCENT_D // 2)))
    return maps


def render(out_dir: str | Path) -> list[Path]:
    maps = attention_maps()
    # constrained layout packs the square panels and the colour bar without empty margins
    fig, axes = _style.plt.subplots(1, 3, figsize=(9.6, 3.4), layout="constrained")
    ticks = np.arange(0, WINDOW, 5)
    for ax, (title, weights) in zip(axes, maps.items()):
        image = ax.imshow(weights, cmap=_style.HEATMAP_CMAP, vmin=0.0, vmax=1.0)
        ax.set_title(title, fontsize=8)
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        ax.set_xlabel("key position j")
    axes[0].set_ylabel("query position i")
    fig.colorbar(image, ax=axes, fraction=0.02, aspect=30, label="attention weight")
    return _style.save(fig, out_dir, "positional_heads")
