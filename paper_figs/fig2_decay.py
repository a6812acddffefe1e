"""Fig 2: the all-ones logit decays with distance (a); a fixed Gaussian pair's does not (b).

d = 256, theta = 1e4, both curves divided by |q||k| (d for all-ones), so A(0) = 1 for (a).
Claims: ``all_ones_logit_decays``, ``fixed_gaussian_logit_does_not_decay``,
``gaussian_logit_mean_is_zero``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ropelab.checks.claims import decay_curves as dc
from ropelab.constructions import frequencies, logit_statistics

from . import _style

__all__ = ["render"]

LENGTH = dc.WINDOW * dc.WINDOWS + 1


def curves() -> dict[str, np.ndarray]:
    """The all-ones curve A(r), one Gaussian pair's normalised curve, and 64 pairs' RMS."""
    distances = np.arange(LENGTH)
    q, k = logit_statistics.gaussian_pairs(dc.GAUSSIAN_SEED, dc.SEEDS, dc.FIG2_D)
    norms = np.linalg.norm(q, axis=1) * np.linalg.norm(k, axis=1)
    gauss = logit_statistics.curves_at_distances(q, k, frequencies.rope(dc.FIG2_D, dc.FIG2_THETA), distances)
    gauss = gauss / norms[:, None]
    return {
        "all_ones": logit_statistics.all_ones_curve(dc.FIG2_D, dc.FIG2_THETA, LENGTH),
        "gaussian": gauss[0],
        "gaussian_rms": np.sqrt(np.mean(gauss**2, axis=0)),
    }


def render(out_dir: str | Path) -> list[Path]:
    data = curves()
    r = np.arange(LENGTH)
    fig, (ax_a, ax_b) = _style.plt.subplots(1, 2, figsize=(11, 3.9), sharey=True)
    ax_a.plot(r, data["all_ones"], lw=0.8, color=_style.ENCODING_COLOURS["RoPE"])
    means = logit_statistics.window_means(data["all_ones"], dc.WINDOW, dc.WINDOWS)
    for w, m in enumerate(means):
        ax_a.hlines(m, 1 + w * dc.WINDOW, (w + 1) * dc.WINDOW, color="k", lw=1.6,
                    label="mean |A| per 1000 tokens" if w == 0 else None)
    for t in (500, 1000):
        ax_a.plot(t, data["all_ones"][t], "o", color="C3", ms=4)
        ax_a.annotate(f"A({t}) = {data['all_ones'][t]:.3f}", (t, data["all_ones"][t]),
                      textcoords="offset points", xytext=(8, 8), fontsize=8)
    ax_a.set_title("(a) all-ones q = k: decays")
    ax_a.set_xlabel("relative distance r")
    ax_a.set_ylabel("logit / (|q||k|)")
    ax_a.legend(fontsize=8, loc="upper right")
    ax_b.plot(r, data["gaussian"], lw=0.6, color="C1", label="one fixed Gaussian pair")
    ax_b.plot(r, data["gaussian_rms"], lw=1.6, color="k", label=f"RMS over {dc.SEEDS} pairs")
    ax_b.set_title("(b) Gaussian q, k: no decay")
    ax_b.set_xlabel("relative distance r")
    ax_b.legend(fontsize=8, loc="upper right")
    fig.text(0.5, 0.01,
             f"d = {dc.FIG2_D}, theta = {dc.FIG2_THETA:g}; every curve is the logit q^T R^-r k divided by |q||k| "
             "(= d for all-ones, so A(0) = 1).\nOf the (d, theta) grid the claim all_ones_logit_decays fits to the "
             "paper's readings, this one fits best.",
             ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return _style.save(fig, out_dir, "fig2_decay")
