"""Fig 8: randomised positions (Ruoss et al.) speed up the all-ones decay, not the Gaussian one.

N = 2048 tokens, d = 256, theta = 1e4; positions 0..N-1 (RoPE) or N sorted positions drawn
from 0..L-1. The last query's logits against every key, by sequence distance: (a) all-ones,
divided by d; (b) Gaussian pairs, divided by |q||k|. Thin lines: one draw; thick lines: a
running mean of |logit| (a) or the RMS over 64 pairs (b), over windows of 64 distances.
Claim: ``random_positions_speed_decay``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ropelab.checks.claims import decay_curves as dc
from ropelab.checks.claims import random_positions as rp
from ropelab.constructions import frequencies, logit_statistics, random_positions

from . import _style

__all__ = ["render"]

WINDOW = 64


def _smooth(x: np.ndarray) -> np.ndarray:
    return np.convolve(x, np.ones(WINDOW) / WINDOW, mode="valid")


def render(out_dir: str | Path) -> list[Path]:
    rng = np.random.default_rng(41)
    freqs = frequencies.rope(dc.FIG2_D, dc.FIG2_THETA)
    q, k = logit_statistics.gaussian_pairs(dc.GAUSSIAN_SEED, dc.SEEDS, dc.FIG2_D)
    norms = np.linalg.norm(q, axis=1) * np.linalg.norm(k, axis=1)
    queries = np.concatenate([np.ones((1, dc.FIG2_D)), q])
    keys = np.concatenate([np.ones((1, dc.FIG2_D)), k])
    fig, (ax_a, ax_b) = _style.plt.subplots(1, 2, figsize=(11, 4))
    r = np.arange(rp.RANDOM_TOKENS)
    centre = r[WINDOW // 2: WINDOW // 2 + rp.RANDOM_TOKENS - WINDOW + 1]
    for i, L in enumerate((None,) + rp.RANDOM_RANGES):
        pos = np.arange(rp.RANDOM_TOKENS) if L is None else random_positions.randomised_positions(
            rng, rp.RANDOM_TOKENS, L)
        logits = random_positions.last_row_logits(queries, keys, freqs, pos)
        name, colour = ("RoPE (0..N-1)", "k") if L is None else (f"L = {L:,}", f"C{i - 1}")
        ones = logits[0] / dc.FIG2_D
        ax_a.plot(r, ones, lw=0.3, color=colour, alpha=0.35)
        ax_a.plot(centre, _smooth(np.abs(ones)), lw=1.6, color=colour, label=name)
        gauss = logits[1:] / norms[:, None]
        ax_b.plot(r, gauss[0], lw=0.3, color=colour, alpha=0.3)
        ax_b.plot(centre, np.sqrt(_smooth(np.mean(gauss**2, axis=0))), lw=1.6, color=colour, label=name)
    ax_a.set_title("(a) all-ones: faster decay as L grows")
    ax_a.set_ylabel("logit / d  (thick: running mean |.|)")
    ax_b.set_title("(b) Gaussian pairs: unchanged")
    ax_b.set_ylabel("logit / (|q||k|)  (thick: RMS over pairs)")
    for ax in (ax_a, ax_b):
        ax.set_xlabel("sequence distance from the last token")
        ax.legend(fontsize=8, loc="upper right")
    fig.text(0.5, 0.01,
             f"N = {rp.RANDOM_TOKENS} tokens, d = {dc.FIG2_D}, theta = {dc.FIG2_THETA:g}. (a) all-ones logit divided by d; "
             f"(b) {dc.SEEDS} Gaussian pairs, each divided by |q||k|; running windows of {WINDOW} distances.",
             ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return _style.save(fig, out_dir, "fig8_random_positions")
