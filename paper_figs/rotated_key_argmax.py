"""Prop 3.1: the key R^r q puts every row's maximum at distance r; how thin the margin can get;
beyond the paper (which states it without a figure).

(a) d = 64, theta = 1e4, one Gaussian q: the logit c(t) = q^T R^-t R^r q divided by |q|^2
against distance t, for several r, argmax marked (it is 1, at t = r). (b) d = 2 (g = 1): the
shortfall 1 - c(t)/|q|^2 = 1 - cos(t - r) at each record-low distance n = |t - r| (exact,
continued fractions), against float32 and float64 resolution. Claims:
``rotated_key_maximises_logit_at_distance``, ``frequency_multiple_never_full_turn``,
``float32_cannot_certify_rotated_key_argmax``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ropelab.checks import tolerances as tol
from ropelab.constructions import frequencies, rotated_key
from ropelab.theory import diophantine

from . import _style

__all__ = ["render"]

D, THETA, LENGTH = 64, 1e4, 5000
SHIFTS = (0, 1000, 2500, 4000)


def render(out_dir: str | Path) -> list[Path]:
    q = np.random.default_rng(42).standard_normal(D)
    freqs = frequencies.rope(D, THETA)
    fig, (ax_a, ax_b) = _style.plt.subplots(1, 2, figsize=(11, 4))
    t = np.arange(LENGTH)
    for i, r in enumerate(SHIFTS):
        curve = rotated_key.rotated_key_curve(q, r, freqs, LENGTH) / float(q @ q)
        best = int(np.argmax(curve))
        ax_a.plot(t, curve, lw=0.7, color=f"C{i}", label=f"r = {r}")
        ax_a.plot(best, curve[best], "v", color=f"C{i}", ms=7)
        ax_a.annotate(f"argmax t = {best}", (best, curve[best]), textcoords="offset points", xytext=(0, 8),
                      ha="center", fontsize=7, color=f"C{i}")
    ax_a.set_ylim(None, 1.2)
    ax_a.set_xlabel("distance t = i - j")
    ax_a.set_ylabel("logit / |q|^2")
    ax_a.set_title("(a) key R^r q: maximum exactly at t = r")
    ax_a.legend(fontsize=8, loc="lower right")

    lows = diophantine.record_lows(1.0, 10**9)[1:]
    shortfall = [float(diophantine.one_minus_cos(n, 1.0)) for n in lows]
    ax_b.loglog(lows, shortfall, "o-", ms=4, color="C0", label="1 - cos(n) at record lows (exact)")
    for e, name, colour in ((tol.EPS32, "float32 eps", "C3"), (tol.EPS64, "float64 eps", "C2")):
        ax_b.axhline(e, color=colour, ls="--", lw=1)
        first = next(n for n, v in zip(lows, shortfall) if v <= e)
        ax_b.annotate(f"{name}: lost at n = {first:,}", (lows[0], e), textcoords="offset points",
                      xytext=(2, 4), fontsize=8, color=colour)
    ax_b.axvline(2 * 10**6, color="0.5", lw=0.8)
    ax_b.annotate("2*10^6 tokens", (2 * 10**6, shortfall[0]), textcoords="offset points", xytext=(3, -10),
                  fontsize=7, color="0.4")
    ax_b.set_xlabel("distance from the peak n = |t - r|")
    ax_b.set_ylabel("shortfall 1 - c/|q|^2")
    ax_b.set_title("(b) d = 2, g = 1: the margin can be tiny")
    ax_b.legend(fontsize=8, loc="lower left")
    fig.text(0.5, 0.01,
             f"(a) d = {D}, theta = {THETA:g}, one Gaussian q; logit divided by |q|^2 (the Cauchy-Schwarz bound). "
             "(b) d = 2 (g_1 = 1 for every base): record-low shortfalls, continued fraction of 1/(2 pi).",
             ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return _style.save(fig, out_dir, "rotated_key_argmax")
