"""An aligned target's logit over distance, out to 10^7 tokens: RoPE 1e4, RoPE 5e5, p-RoPE;
beyond the paper.

Query and key are equal and spread evenly over the slowest quarter of the pairs of a
d = 128 head (the band a 0.75-RoPE leaves unrotated), so the logit at distance 0 is the best
the pair can score. Curves are streamed over every distance in bounded memory
(:func:`ropelab.constructions.semantic_channels.drift_envelope`): thin lines are samples, thick lines
the worst value seen within a context of that length (the target's lowest score in some
placement). Under RoPE the target drifts within 10^4 (theta = 1e4) or 10^5-10^6 (5e5) tokens;
under p-RoPE it never moves. Claims: ``p_rope_unrotated_channels_ignore_distance``,
``larger_base_lengthens_semantic_range``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ropelab.constructions import semantic_channels, frequencies

from . import _style

__all__ = ["render"]

D = 128
LENGTH = 10**7


def schedules() -> dict[str, np.ndarray]:
    return {
        "RoPE theta=1e4": frequencies.rope(D, 1e4),
        "RoPE theta=5e5": frequencies.rope(D, 5e5),
        "p-RoPE p=0.75, theta=1e4": frequencies.p_rope(D, 1e4, 0.75),
    }


def envelopes(length: int = LENGTH) -> dict[str, semantic_channels.DriftEnvelope]:
    """Each schedule's envelope; only the band's pairs are streamed (the others carry no weight)."""
    band = np.arange(D // 2 - D // 8, D // 2)  # the slowest quarter of the pairs
    psi = np.zeros(2 * band.size)
    psi[: band.size] = 1.0 / np.sqrt(band.size)
    return {name: semantic_channels.drift_envelope(psi, psi, freqs[band], length, samples=600)
            for name, freqs in schedules().items()}


def render(out_dir: str | Path, length: int = LENGTH) -> list[Path]:
    """Draw the figure (``length`` distances streamed per curve)."""
    colours = {"RoPE theta=1e4": "#1f77b4", "RoPE theta=5e5": "#9467bd", "p-RoPE p=0.75, theta=1e4": "#2ca02c"}
    fig, ax = _style.plt.subplots(figsize=(7.0, 4.0))
    for name, env in envelopes(length).items():
        r = np.maximum(env.distances, 1)
        ax.plot(r, env.values, color=colours[name], lw=0.6, alpha=0.6)
        ax.plot(r, env.running_min, color=colours[name], lw=2, label=f"{name} (thick: worst within context)")
    ax.set_xscale("log")
    ax.set_xlabel("distance r (tokens)")
    ax.set_ylabel("logit of the aligned target, c(r) / c(0)")
    ax.set_ylim(-1.05, 1.05)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_title(f"Aligned target in the slowest quarter of a d={D} head, to {length:.0e} tokens")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return _style.save(fig, out_dir, "logit_drift")
