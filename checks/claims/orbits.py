"""The orbit of one rotation is dense: its largest gap tends to 0, with at most three gap lengths (Lemma A.2)."""

from __future__ import annotations

import math

import numpy as np

from ropelab.constructions import frequencies
from ropelab.constructions import orbits as orbit
from ropelab.theory import orbits as th_orbits
from ropelab.theory.derivation import Derivation, combine

from ..claim import Claim, Part, Shown, Symbolic, Trust, Variant
from ..laws import Identity, Point
from ..scope import NumericScope, Range
from . import _common as c

__all__ = ["CLAIMS"]

SECTION = "§6 semantic channels, p-RoPE, base"

ORBIT_FREQ_PAIRS = (0, 16, 64, 127)  # pairs of d = 256, theta = 1e4: g = 1 down to the slowest
SIZES = (10, 100, 1000, 10**4, 10**5, 10**6)
EXTRA_SIZE = 12_345

DENSE = Claim(
    id="rotation_orbit_is_dense",
    label="Lemma A.2",
    section=SECTION,
    statement="For g/2pi irrational (every float g != 0), the points n g mod 2 pi, 0 <= n <= N, leave arcs of at most three lengths (three-gap theorem), "
              "the largest below 2 pi / q_k, which tends to 0: the orbit is dense.",
    symbolic=Symbolic(lambda: _symbolic(),
                      Shown(Trust.PROVED, "every irrational g/2pi and every N: the convergent identities and "
                                          "q_k >= k by induction with symbolic partial quotients; the arc lengths "
                                          "themselves are the cited three-gap theorem's",
                            cites=("three-gap theorem (Sos 1958, Swierczkowski 1959)",
                                   "Weyl's equidistribution theorem"),
                            hypotheses=("g/2pi irrational (every algebraic g != 0, Lemma A.1)",))),
    parts=(Part("For g/2pi irrational (every float g != 0), the points n g mod 2 pi, 0 <= n <= N, leave arcs of at most three lengths (three-gap theorem), the largest "
                "below 2 pi / q_k, which tends to 0: the orbit is dense", ("symbolic", "numeric")),),
    law=Identity("gap error / float64 angle bound"),
    check=lambda dtype, quick, rng: _orbit(dtype, quick),
    construction=Variant(np.float64, "angles n g formed in float64"),
    wrong=Variant(np.float32, "angles n g formed in float32 (the phase is lost at large n)"),
    numeric=Shown(Trust.CHECKED, "g = g_1, g_17, g_65, g_128 of d = 256, theta = 1e4; N in {10, ..., 10^6} "
                                 "(10^5 in quick mode) and 12345, against the 60-digit three-gap prediction"),
    tolerance_reason="gap lengths within 2 (u N g + turns |fl(2 pi) - 2 pi|) + 2 pi u + |fl(2 pi) - 2 pi| of "
                     "the continued-fraction prediction (mpmath, 60 digits); multiplicities exact",
    explain=lambda: _explain(),
    numeric_scope=NumericScope(
        (Range("g", float(frequencies.rope(256, 1e4)[-1]), 1.0, "log"), Range("N", 10, 10**5, "integer")),
        probe=lambda g, N: Identity("gap error / float64 angle bound").judge([orbit_at(g, N)]),
        edges=({"g": 2 * math.pi / 7 * (1 + 2**-40), "N": 10**5}, {"g": 1.0, "N": 12_345},
               {"g": 2 * math.pi / 710 * (1 + 2**-30), "N": 10**4})),
)

CLAIMS = [DENSE]


def _symbolic() -> Derivation:
    """The general induction (every k) and the three-gap arithmetic, through the theory module."""
    return combine("the largest arc of the orbit of an irrational rotation tends to 0 (Lemma A.2)",
                   [th_orbits.largest_gap_tends_to_zero(), th_orbits.three_gap_theorem()])


def _orbit(dtype, quick: bool) -> list[Point]:
    """Measured gaps against the three-gap prediction; the largest gap never grows and stays below 2 pi/q_k."""
    sizes = SIZES[:-1] if quick else SIZES
    points = []
    for g in frequencies.rope(256, 1e4)[list(ORBIT_FREQ_PAIRS)]:
        previous_largest = math.inf
        for n in sizes + (EXTRA_SIZE,):
            points.append(orbit_at(float(g), n, dtype, previous_largest if n in sizes else None))
            if n in sizes:
                previous_largest = points[-1].extra["largest_gap"]
    return points


def orbit_at(g: float, n: int, dtype=np.float64, previous_largest: float | None = math.inf) -> Point:
    """One (g, N): the measured arcs against the three-gap prediction (lengths and counts) and, unless
    ``previous_largest`` is None, the largest below 2 pi/q_k and not above ``previous_largest`` (a
    smaller orbit's), all within the float64 bound."""
    predicted = th_orbits.three_gaps(g, n)
    gaps = orbit.orbit_gaps(g, n, dtype)
    # every arc is within the float64 error bound of its true length
    tau = orbit.gap_error_bound(g, n, np.float64)
    lengths, counts = orbit.distinct_lengths(gaps, tau)
    if len(lengths) != len(predicted.lengths) or tuple(counts) != predicted.counts:
        error = math.inf
    else:
        error = float(np.max(np.abs(lengths - np.array(predicted.lengths))))
    largest = float(gaps.max())
    # adding points only splits arcs, and the largest stays below 2 pi / q_k
    if previous_largest is not None and (largest > previous_largest + tau or largest > predicted.largest_bound + tau):
        error = math.inf
    return Point({"g": g, "N": n}, error=error, bound=tau,
                 extra={"measured_counts": counts.tolist(), "predicted_counts": list(predicted.counts),
                        "largest_gap": largest, "bound_2pi_over_qk": predicted.largest_bound})


def _explain() -> str:
    g, n = 1.0, 10
    s = th_orbits.three_gaps(g, n)
    lengths, counts = orbit.distinct_lengths(orbit.orbit_gaps(g, n), 1e-12)
    big = [(k, th_orbits.three_gaps(g, k).largest_bound, float(orbit.orbit_gaps(g, k).max())) for k in (10, 1000, 10**5)]
    return (
        f"g = {g} rad/token, n = 0..{n}: the {n + 1} points n*g mod 2 pi leave arcs of lengths "
        f"{[c.fmt(x, 4) for x in lengths]} with counts {counts.tolist()}.\n"
        f"The continued fraction of g/2pi = [0; 6, 3, 1, 1, 7, ...] predicts {[c.fmt(x, 4) for x in s.lengths]} "
        f"x {list(s.counts)}: at most three lengths, the largest the sum of the other two.\n"
        + "".join(f"N = {k}: largest arc {b:.3g} rad (bound 2 pi/q_k = {a:.3g})\n" for k, a, b in big)
        + "The largest arc shrinks to 0 (below 2 pi/q_k <= 2 pi/k, by induction on the convergents): every "
        "direction is eventually approached, which is why one rotating channel cannot keep a fixed alignment "
        "(Lemma A.2).\nComputed in float32 the angles n g lose ~N g x 6e-8 rad and the gaps no longer match "
        "(the rejected control)."
    )
