"""Breaking context of a semantic channel against its frequency (log-log), real models marked.

Anti-aligned rival of equal norm: the closed form floor(pi/(2g) + 3/2) + 1 (line) and the
brute-force search over every distance for the 128 pairs of d = 256, theta = 1e4 (dots); a
rival at pi/3 breaks three times sooner. Each zoo model's slowest rotating pair is marked at
its breaking context, joined to the model's context length: above the marker, the channel
survives the whole context. Claims: ``semantic_channel_breaks_at_long_context``,
``semantic_range_scales_inverse_frequency``, ``larger_base_lengthens_semantic_range``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ropelab.constructions import channels, configs, frequencies
from ropelab.theory import semantic_channels as th_sc

from . import _style


def render(out_dir: str | Path, searched_pairs: int = 32) -> list[Path]:
    """Draw the figure; ``searched_pairs`` of the d = 256 pairs are brute-forced (dots)."""
    fig, ax = _style.plt.subplots(figsize=(7.2, 4.8))
    g = np.geomspace(1e-7, 1.0, 200)
    ax.plot(g, [th_sc.semantic_range(float(x)) for x in g], color="#1f77b4", lw=1.5,
            label="anti-aligned rival: floor(pi/(2g) + 3/2) + 1")
    ax.plot(g, [th_sc.breaking_context(float(x), math.pi / 3) for x in g], color="#1f77b4", lw=1, ls="--",
            label="rival at pi/3: ~ (pi/3)/(2g)")
    pairs = frequencies.rope(256, 1e4)
    chosen = pairs[np.linspace(0, pairs.size - 1, searched_pairs).astype(int)]
    found = [channels.breaking_context(float(x), math.pi, limit=10**5).context for x in chosen]
    ax.scatter(chosen, found, s=12, color="black", zorder=3, label="brute force, d=256, theta=1e4")
    markers = "os^vD<>phX*"
    for i, config in enumerate(configs.ZOO):
        freqs, _ = config.schedule()
        slowest = float(freqs[freqs > 0].min())
        n_star = th_sc.semantic_range(slowest)
        colour = _style.plt.cm.tab10(i % 10)
        ax.plot([slowest, slowest], [config.context, n_star], color=colour, lw=0.8, ls=":")
        ax.scatter([slowest], [n_star], marker=markers[i % len(markers)], color=colour, s=36, zorder=4,
                   label=f"{config.name}: breaks {n_star:,} / context {config.context:,}")
        ax.scatter([slowest], [config.context], marker="_", color=colour, s=120, zorder=4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("channel frequency g (rad/token)")
    ax.set_ylabel("breaking context N* (tokens)")
    ax.set_title("Semantic channels break after ~pi/(2g) tokens\n"
                 "(markers: slowest rotating pair of each model; dashes: its context)", fontsize=9)
    ax.legend(fontsize=6, loc="upper right", ncol=1)
    fig.tight_layout()
    return _style.save(fig, out_dir, "semantic_range")
