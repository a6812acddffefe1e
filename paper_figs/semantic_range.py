"""Breaking context of a semantic channel against its frequency (log-log), real models marked;
beyond the paper.

Anti-aligned rival of equal norm: the closed form floor(pi/(2g) + 3/2) + 1 (line) and the
brute-force search over every distance for the 128 pairs of d = 256, theta = 1e4 (dots); a
rival at pi/3 breaks three times sooner. Each zoo model's slowest rotating pair is marked on the
law, and a second panel sets its breaking context against the model's context length; for
p-RoPE and partial-rotary models that is the rotating band only (their unrotated pairs never
break). Claims: ``semantic_channel_breaks_at_long_context``,
``semantic_range_scales_inverse_frequency``, ``larger_base_lengthens_semantic_range``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ropelab.constructions import semantic_channels, configs, frequencies
from ropelab.theory import semantic_channels as th_sc

from . import _style

__all__ = ["render"]


def _groups(points: list[float], ratio: float = 1.5) -> list[list[int]]:
    """Indices of ``points`` (positive) grouped where neighbours lie within ``ratio`` of each other."""
    order = sorted(range(len(points)), key=points.__getitem__)
    groups: list[list[int]] = []
    for i in order:
        if groups and points[i] <= ratio * points[groups[-1][-1]]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def render(out_dir: str | Path, searched_pairs: int = 32) -> list[Path]:
    """Draw the figure; ``searched_pairs`` of the d = 256 pairs are brute-forced (dots).

    Left: the law, with each model's slowest rotating pair marked by its row number on the
    right (models that share a frequency share one marker). Right: one row per model, its
    breaking context against its context length.
    """
    fig, (ax, rows) = _style.plt.subplots(1, 2, figsize=(14.5, 5.6), gridspec_kw={"width_ratios": [1.15, 1]})
    g = np.geomspace(1e-7, 1.0, 200)
    ax.plot(g, [th_sc.semantic_range(float(x)) for x in g], color="#1f77b4", lw=1.5,
            label="anti-aligned rival: floor($\\pi$/(2g) + 3/2) + 1")
    ax.plot(g, [th_sc.breaking_context(float(x), math.pi / 3) for x in g], color="#1f77b4", lw=1, ls="--",
            label="rival at $\\pi$/3: ~ ($\\pi$/3)/(2g)")
    pairs = frequencies.rope(256, 1e4)
    chosen = pairs[np.linspace(0, pairs.size - 1, searched_pairs).astype(int)]
    found = [semantic_channels.breaking_context(float(x), math.pi, limit=10**5).context for x in chosen]
    ax.scatter(chosen, found, s=12, color="black", zorder=3, label="brute force, d=256, theta=1e4")

    models = []
    for config in configs.ZOO:
        freqs, _ = config.schedule()
        slowest = float(freqs[freqs > 0].min())
        models.append((config, slowest, th_sc.semantic_range(slowest), int((freqs == 0).sum()), freqs.size))
    for group in _groups([m[1] for m in models]):
        g_mid = float(np.exp(np.mean([np.log(models[i][1]) for i in group])))
        n_mid = th_sc.semantic_range(g_mid)
        ax.scatter([g_mid], [n_mid], s=70, facecolor="white", edgecolor="#d62728", lw=1.5, zorder=4)
        ax.annotate(", ".join(str(i + 1) for i in sorted(group)), (g_mid, n_mid), textcoords="offset points",
                    xytext=(7, 5), ha="left", va="bottom", fontsize=8, color="#d62728")
    ax.scatter([], [], s=70, facecolor="white", edgecolor="#d62728", lw=1.5,
               label="slowest rotating pair of the models (row numbers, right)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("channel frequency g (rad/token)")
    ax.set_ylabel("breaking context N* (tokens)")
    ax.set_title("(a) a semantic channel breaks after ~$\\pi$/(2g) tokens", fontsize=10)
    ax.legend(fontsize=7, loc="upper right")

    y = np.arange(len(models))
    for row, (config, slowest, n_star, unrotated, pairs_total) in enumerate(models):
        broken = n_star <= config.context
        colour = "#d62728" if broken else "#2ca02c"
        rows.plot([min(n_star, config.context), max(n_star, config.context)], [row, row], color="0.75", lw=1, zorder=1)
        rows.scatter([config.context], [row], marker="|", s=160, color="black", zorder=3)
        rows.scatter([n_star], [row], marker="o", s=36, color=colour, zorder=4)
        note = (f"breaks at {n_star:,} < context {config.context:,}" if broken
                else f"survives its context: would break at {n_star:,}")
        if unrotated:
            note += f" ({unrotated}/{pairs_total} pairs never rotate)"
        # the notes stand in a column right of the panel, so the axis spans the data only
        rows.text(1.02, row, note, transform=rows.get_yaxis_transform(), va="center", fontsize=7, color=colour)
    rows.set_yticks(y, [f"{row + 1}. {m[0].name}" for row, m in enumerate(models)], fontsize=8)
    rows.set_ylim(len(models) - 0.5, -0.5)
    rows.set_xscale("log")
    spans = [v for m in models for v in (m[2], m[0].context)]
    rows.set_xlim(min(spans) / 3, max(spans) * 3)
    rows.set_xlabel("tokens")
    rows.scatter([], [], marker="|", s=160, color="black", label="context length")
    rows.scatter([], [], marker="o", s=36, color="#d62728", label="breaks within the context")
    rows.scatter([], [], marker="o", s=36, color="#2ca02c", label="survives the whole context")
    rows.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)
    rows.set_title("(b) slowest rotating pair of each model: breaking context vs context", fontsize=10)
    fig.tight_layout()
    return _style.save(fig, out_dir, "semantic_range")
