"""RoFormer's Abel-summation bound holds, and says nothing for Gaussian queries and keys (RoFormer §3.4.3)."""

from __future__ import annotations

import functools

import numpy as np

from ropelab.constructions import frequencies, logit_statistics
from ropelab.theory import abel_bound

from .. import tolerances as tol
from ..claim import Claim, Part, Shown, Symbolic, Trust, Variant
from ..laws import AtMost, Point
from . import _common as c
from .decay_curves import FIG2_D, FIG2_THETA, WINDOW, WINDOWS

__all__ = ["CLAIMS"]

SECTION = "§3 does RoPE decay?"

ABEL_DISTANCES = np.arange(0, WINDOW * WINDOWS + 1)

ABEL = Claim(
    id="abel_bound_is_vacuous_for_gaussian_logits",
    label="beyond (RoFormer §3.4.3)",
    section=SECTION,
    statement="RoFormer's Abel-summation bound |sum h_k e^(i r g_k)| <= max|h_(k+1) - h_k| sum_j |S_j| holds "
    "for every q, k, but for Gaussian q, k (8 seeded pairs) it exceeds |q||k| at every r <= 5000 (d = 256), "
    "so it shows no decay.",
    symbolic=Symbolic(abel_bound.summation_by_parts,
                      Shown(Trust.PROVED, "the summation-by-parts identity for every n >= 1 (induction, symbolic n) "
                                          "and RoFormer's form with h_n = 0; the bound then follows from it",
                            ("the triangle inequality |sum a_j b_j| <= max|a_j| sum|b_j|",))),
    parts=(Part("RoFormer's Abel-summation bound |sum h_k e^(i r g_k)| <= max|h_(k+1) - h_k| sum_j |S_j| holds for every q, k",
                ("symbolic", "numeric")),
           Part("for Gaussian q, k (8 seeded pairs) it exceeds |q||k| at every r <= 5000 (d = 256)", ("numeric",))),
    law={"bound holds": AtMost("(|sum| - bound) / rounding slack - 1"),
         "vacuous for Gaussian q, k": AtMost("|q||k| / smallest bound over r - 1")},
    check=lambda bound_fn, quick, rng: _abel(bound_fn, quick, rng),
    construction=Variant(logit_statistics.abel_bound, "RoFormer's bound (with h_(d/2) = 0)"),
    wrong=Variant(functools.partial(logit_statistics.abel_bound, boundary=False),
                  "the bound without RoFormer's h_(d/2) = 0 (interior steps only): 0 for all-ones"),
    numeric=Shown(Trust.CHECKED, "d = 256, theta = 1e4, every r = 0..5000 (every 5th quick); all-ones and 8 "
                                 "Gaussian pairs (2 quick), seed 38"),
    tolerance_reason="violation measured against rounding slack 8 d (r + 1) eps64 x bound; vacuous "
    "means the smallest Gaussian bound is at least |q||k|",
    explain=lambda: _explain_abel(),
    figures=("fig2_decay",),
    seed=38,
    numeric_scope=c.other_seeds(lambda: ABEL, seed=38),
)

CLAIMS = [ABEL]


def _abel(bound_fn, quick: bool, rng: np.random.Generator) -> dict[str, list[Point]]:
    freqs = frequencies.rope(FIG2_D, FIG2_THETA)
    distances = ABEL_DISTANCES[:: 5 if quick else 1]
    pairs = [("all-ones", np.ones(FIG2_D), np.ones(FIG2_D))]
    pairs += [(f"gaussian {s}", *rng.standard_normal((2, FIG2_D))) for s in range(2 if quick else 8)]
    holds, vacuous = [], []
    for name, q, k in pairs:
        modulus, bound = bound_fn(q, k, freqs, distances)
        # the bound is a sum of d/2 moduli of partial sums: rounding of order d * eps * bound
        slack = tol.rotation_identity(np.float64, FIG2_D, float(distances[-1]), 1.0).value * np.maximum(bound, 1.0)
        excess = (modulus - bound) / slack
        worst = int(np.argmax(excess))
        holds.append(Point({"pair": name, "r": int(distances[worst])}, value=float(excess[worst]), limit=1.0,
                           extra={"modulus": float(modulus[worst]), "bound": float(bound[worst])}))
        if name != "all-ones":
            cauchy_schwarz = float(np.linalg.norm(q) * np.linalg.norm(k))
            lowest = int(np.argmin(bound))
            vacuous.append(Point({"pair": name, "r": int(distances[lowest])},
                                 value=cauchy_schwarz / float(bound[lowest]) if bound[lowest] > 0 else np.inf,
                                 limit=1.0, extra={"cauchy_schwarz": cauchy_schwarz, "smallest_bound": float(bound[lowest])}))
    return {"bound holds": holds, "vacuous for Gaussian q, k": vacuous}


def _explain_abel() -> str:
    freqs = frequencies.rope(FIG2_D, FIG2_THETA)
    q, k = c.rng(ABEL.seed).standard_normal((2, FIG2_D))
    lines = []
    for name, a, b in (("all-ones", np.ones(FIG2_D), np.ones(FIG2_D)), ("Gaussian", q, k)):
        modulus, bound = logit_statistics.abel_bound(a, b, freqs, [500, 1000, 5000])
        cs = np.linalg.norm(a) * np.linalg.norm(b)
        lines.append(f"{name:9s} |q||k| = {cs:7.1f}; at r = 500, 1000, 5000: |sum| = {np.round(modulus, 1).tolist()}, "
                     f"bound = {np.round(bound, 1).tolist()}")
    return (
        "RoFormer (Su et al. 2021, §3.4.3): with h_k = q^(k) conj(k^(k)), S_j = sum_(k<j) e^(i r g_k) and "
        "h_(d/2) = 0, summation by parts gives |sum h_k e^(i r g_k)| <= max|h_(k+1) - h_k| sum_j |S_j|; "
        "SymPy proves the identity for every number of pairs by induction. The factor (2/d) sum_j |S_j| decays "
        "with r, which RoFormer reads as long-term decay.\n"
        "d = 256, theta = 1e4:\n  " + "\n  ".join(lines) + "\n"
        "The bound holds, but it sits far above the trivial Cauchy-Schwarz bound |q||k| at every distance up to "
        "5000 for Gaussian q, k (and here even for all-ones): it proves nothing about their logits, which "
        "indeed do not decay (fixed_gaussian_logit_does_not_decay).\n"
        "Dropping the convention h_(d/2) = 0 (interior steps only) gives bound 0 for all-ones, which the "
        "logit exceeds: the check rejects that variant."
    )
