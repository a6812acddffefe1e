"""Fig 9: one fixed Gaussian query/key pair at theta = 1e4 and theta = 5e5 does not decay.

d = 256; the logit q^T R^-r k divided by |q||k|. The two windows the check compares
(r in [1, 1000] and [4000, 5000]) are shaded; titles give the 64-pair ratio of their mean
squares. Claim: ``fixed_gaussian_logit_does_not_decay``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ropelab.checks.claims import decay_curves as dc
from ropelab.constructions import frequencies, logit_statistics

from . import _style

__all__ = ["render"]

LENGTH = dc.WINDOW * dc.WINDOWS + 1


def render(out_dir: str | Path) -> list[Path]:
    q, k = logit_statistics.gaussian_pairs(dc.GAUSSIAN_SEED, dc.SEEDS, dc.FIG2_D)
    r = np.arange(LENGTH)
    fig, axes = _style.plt.subplots(1, 2, figsize=(11, 3.7), sharey=True)
    for ax, theta in zip(axes, dc.BASES):
        curve = logit_statistics.curves_at_distances(q[0], k[0], frequencies.rope(dc.FIG2_D, theta), r)
        early, late = logit_statistics.window_mean_squares(q, k, frequencies.rope(dc.FIG2_D, theta), dc.EARLY, dc.LATE)
        ratio, se = dc.ratio_with_error(late, early)
        ax.plot(r, curve / (np.linalg.norm(q[0]) * np.linalg.norm(k[0])), lw=0.6, color="C1")
        ax.axvspan(dc.EARLY[0], dc.EARLY[-1], color="0.9", zorder=0)
        ax.axvspan(dc.LATE[0], dc.LATE[-1], color="0.9", zorder=0)
        ax.set_title(f"theta = {theta:g}: late/early mean square {ratio:.2f} +- {se:.2f}", fontsize=10)
        ax.set_xlabel("relative distance r")
    axes[0].set_ylabel("logit / (|q||k|)")
    fig.text(0.5, 0.01,
             f"One Gaussian pair (q, k ~ N(0, I), d = {dc.FIG2_D}) repeated at every position; logit divided by "
             f"|q||k|. Shaded: the windows compared; ratios over {dc.SEEDS} pairs with delta-method standard errors.",
             ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return _style.save(fig, out_dir, "fig9_fixed_gaussian")
