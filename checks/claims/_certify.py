"""Arb (python-flint) certificates of §2 statements, run in worker processes by ``--certify``.

Each ``run`` is a module-level function of a picklable chunk, so that a spawned process can
import it; each returns the :class:`~ropelab.checks.claim.Evidence` of its chunk.
"""

from __future__ import annotations

import flint
import numpy as np

from ropelab.constructions import frequencies, rotary

from .. import tolerances as tol
from ..claim import Evidence
from . import _common as c

CERTIFY_BITS = 128
"""Arb working precision: far beyond float64, so the balls are tight and every comparison decides."""


def certificate_chunks(quick: bool, seed: int) -> list[tuple[int, float, int, int]]:
    """One chunk per (d, theta): ``(d, theta, seed, pairs of positions)``, picklable."""
    return [(d, theta, seed + n, 4 if quick else 16)
            for n, (d, theta) in enumerate((d, t) for d in c.HEAD_DIMS for t in c.BASES)]


def certify_composition(chunk: tuple[int, float, int, int]) -> Evidence:
    """Certify one (d, theta): every entry of the float64 ``R^j R^i x`` is, as an Arb ball, within
    the derived tolerance of the exact ``rho((i+j) g_k) x`` (the residual is inf if any comparison
    cannot be decided). Runs in a worker process of ``ropelab verify --certify``.
    """
    d, theta, seed, n_pairs = chunk
    flint.ctx.prec = CERTIFY_BITS
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(d)
    positions = rng.integers(0, c.LONGEST_POSITION // 2, (n_pairs, 2))
    positions[0] = (c.LONGEST_POSITION // 2, c.LONGEST_POSITION // 2 - 1)  # the largest angle is a case
    freqs = frequencies.rope(d, theta)
    bound = tol.rotation_identity(np.float64, d, float(c.LONGEST_POSITION), np.linalg.norm(x))
    limit = flint.arb(bound.value)
    exact_g = [flint.arb(int(theta)) ** (flint.arb(-2 * m) / d) for m in range(d // 2)]
    worst, undecided, where = 0.0, 0, {}
    for i, j in positions:
        ours = np.asarray(rotary.apply(np.asarray(rotary.apply(x, int(i), freqs)), int(j), freqs))
        for m, g in enumerate(exact_g):
            angle = int(i + j) * g
            cos, sin = angle.cos(), angle.sin()
            x1, x2 = flint.arb(float(x[m])), flint.arb(float(x[m + d // 2]))
            for got, exact in ((ours[m], cos * x1 - sin * x2), (ours[m + d // 2], sin * x1 + cos * x2)):
                gap = abs(flint.arb(float(got)) - exact)
                undecided += not bool(gap <= limit)
                upper = float(gap.upper())
                if upper > worst:
                    worst, where = upper, {"i": int(i), "j": int(j), "pair": m}
    return Evidence(worst if undecided == 0 else float("inf"), bound.value, {"d": d, "theta": theta, **where},
                    {"entries": int(n_pairs * d), "undecided": undecided, "precision_bits": CERTIFY_BITS})
