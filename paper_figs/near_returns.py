"""Near-returns of one frequency: 1 - cos(m g) for g = 1 against m, with convergents marked;
beyond the paper.

The running minimum (delta_N, the closest competitor of a diagonal head over N tokens) drops
only at the continued-fraction convergent denominators of 1/(2 pi): 6, 19, 25, 44, 333, 710,
103993, 312689. Claim: ``near_returns_at_continued_fraction_convergents``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp

from ropelab.constructions import relative_position
from ropelab.theory import near_returns

from . import _style

__all__ = ["render"]

CONTEXT = 10**6


def render(out_dir: str | Path) -> list[Path]:
    unit = np.array([1.0, 0.0])
    gaps = 1.0 - relative_position.logit_curve(unit, unit, np.array([1.0]), CONTEXT)[1:]
    m = np.arange(1, CONTEXT)
    running = np.minimum.accumulate(gaps)
    convergents = near_returns.convergent_denominators(1 / (2 * sp.pi), CONTEXT - 1)
    fig, ax = _style.plt.subplots(figsize=(7, 4))
    shown = np.unique(np.geomspace(1, CONTEXT - 1, 4000).astype(np.int64))
    ax.loglog(m[shown - 1], np.maximum(gaps[shown - 1], 1e-16), ".", ms=1.5, color="0.7", label="1 - cos(m)")
    ax.step(m, running, where="post", color=_style.ENCODING_COLOURS["RoPE"],
            label="delta_N = min over m < N (running minimum)")
    for q in convergents[1:]:
        ax.axvline(q, color=_style.ENCODING_COLOURS["reversed p-RoPE"], lw=0.6, ls=":")
        # the labels stand along the top of the axes, so the axis need not reach far below the data
        ax.text(q * 1.05, 0.98, str(q), rotation=90, fontsize=7, ha="left", va="top",
                transform=ax.get_xaxis_transform(), color=_style.ENCODING_COLOURS["reversed p-RoPE"],
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.5})
    ax.set_ylim(running.min() / 5, 3)
    ax.set_xlabel("distance m (tokens)")
    ax.set_ylabel("1 - cos(m g), g = 1")
    ax.set_title("Near-returns of the highest frequency; dotted: convergent denominators of 1/(2 pi)", fontsize=8)
    ax.legend(fontsize=7, loc="lower left", framealpha=0.95)
    fig.tight_layout()
    return _style.save(fig, out_dir, "near_returns")
