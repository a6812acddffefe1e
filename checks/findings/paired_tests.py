"""Paired comparisons of trained variants: interval, power, family-wise adjustment, verdict.

Variants trained from the same seed share their initial weights and batches, so a seed gives a
pair and the differences within pairs are what varies. :func:`paired_difference` gives the mean
difference with its Student-t interval, two-sided p-value and :func:`minimum_detectable_difference`
(the difference a paired t-test detects with probability :data:`POWER`); :func:`holm` adjusts a
family of p-values; :func:`verdict` turns an adjusted test and the sign a paper reports into
holds / does not hold / undecided.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

__all__ = [
    "CONFIDENCE",
    "POWER",
    "detectable_difference",
    "holm",
    "minimum_detectable_difference",
    "paired_difference",
    "verdict",
]

CONFIDENCE = 0.95
POWER = 0.80
"""The minimum detectable difference is the paired difference a two-sided t-test at level
``1 - CONFIDENCE`` detects with this probability."""


def paired_difference(values: list[float], reference: list[float]) -> dict:
    """Mean of ``values - reference`` over seeds with its Student-t interval, two-sided
    p-value and :func:`minimum_detectable_difference` (``None`` with one seed)."""
    diff = np.asarray(values, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    if diff.size == 0:
        raise ValueError("values and reference must hold at least one pair")
    out = {"mean": float(diff.mean()), "per_seed": diff.tolist(), "ci_low": None, "ci_high": None,
           "sd": None, "p_value": None, "mdd": None}
    if diff.size > 1:
        sd = float(diff.std(ddof=1))
        half = stats.t.ppf(0.5 + CONFIDENCE / 2, diff.size - 1) * sd / math.sqrt(diff.size)
        out["ci_low"], out["ci_high"] = float(diff.mean() - half), float(diff.mean() + half)
        out["sd"] = sd
        if sd > 0:
            out["p_value"] = float(stats.ttest_1samp(diff, 0.0).pvalue)
            out["mdd"] = minimum_detectable_difference(sd, diff.size)
    return out


def minimum_detectable_difference(sd: float, n: int, confidence: float = CONFIDENCE,
                                  power: float = POWER) -> float:
    r"""The smallest true mean paired difference that a two-sided paired t-test detects with
    probability ``power``, for ``n`` pairs whose differences have standard deviation ``sd``:
    :func:`detectable_difference` at standard error :math:`\mathrm{sd}/\sqrt{n}`, :math:`n - 1`
    degrees of freedom.

    >>> round(minimum_detectable_difference(1.0, 10), 3)  # about one sd for 10 pairs
    0.996
    """
    if not (sd > 0 and math.isfinite(sd)) or n < 2:
        raise ValueError(f"sd must be finite and > 0 and n >= 2, got sd={sd}, n={n}")
    return detectable_difference(sd / math.sqrt(n), n - 1, confidence, power)


def detectable_difference(standard_error: float, df: int, confidence: float = CONFIDENCE,
                          power: float = POWER) -> float:
    r"""The smallest true deviation of an estimate from its null value that a two-sided t-test
    detects with probability ``power``, for an estimate with this ``standard_error`` and ``df``.

    Power at a true deviation :math:`\delta` is :math:`P(|T'| > t_{1-\alpha/2,\,\nu})` with
    :math:`T'` noncentral t on :math:`\nu` degrees of freedom and noncentrality
    :math:`\delta/\mathrm{se}` (``scipy.stats.nct``); the root in :math:`\delta` is found with
    ``scipy.optimize.brentq``. It serves a paired mean (:func:`minimum_detectable_difference`) and
    a regression slope alike.

    >>> round(detectable_difference(0.1, 6), 3)  # a slope with standard error 0.1 from 8 points
    0.337
    """
    if not (standard_error > 0 and math.isfinite(standard_error)) or df < 1:
        raise ValueError(f"standard_error must be finite and > 0 and df >= 1, got {standard_error}, {df}")
    critical = stats.t.ppf(0.5 + confidence / 2, df)

    def shortfall(delta: float) -> float:
        nc = delta / standard_error
        # the lower tail as the upper tail of -T': scipy's nct.cdf returns NaN far in its tail
        return stats.nct.sf(critical, df, nc) + stats.nct.sf(critical, df, -nc) - power

    upper = standard_error
    while shortfall(upper) < 0:
        upper *= 2
    return float(optimize.brentq(shortfall, 0.0, upper, xtol=1e-12 * standard_error))


def verdict(difference: dict, paper_change: float) -> str:
    """``holds`` / ``does not hold`` / ``undecided`` for one paired comparison.

    The paper's claim is the sign of ``paper_change``; ours is the Holm-adjusted paired test
    of ``difference`` (its ``p_holm``): significant in the paper's direction holds,
    significant against it does not hold, not significant is undecided at this power.
    """
    p = difference.get("p_holm")
    if p is None or p >= 1 - CONFIDENCE:
        return "undecided"
    return "holds" if math.copysign(1, difference["mean"]) == math.copysign(1, paper_change) else "does not hold"


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (controls the family-wise error).

    >>> [round(p, 3) for p in holm([0.01, 0.04, 0.03])]
    [0.03, 0.06, 0.06]
    """
    order = np.argsort(p_values)
    adjusted, running = np.empty(len(p_values)), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted.tolist()
