r"""Near-returns of a rotation: how close ``n g`` comes to a multiple of :math:`2\pi` (SPEC §10).

For :math:`\alpha = g / 2\pi`, :math:`1 - \cos(n g) = 2\sin^2(\pi\,\|n\alpha\|)` where
:math:`\|\cdot\|` is the distance to the nearest integer. The best approximations of
:math:`\alpha` (Lagrange) are attained at continued-fraction convergent denominators, so the
minimum over ``1 <= n <= N`` is found among O(log N) candidates, computed here with mpmath.
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath

__all__ = [
    "DIGITS",
    "closest_return",
    "continued_fraction",
    "convergent_denominators",
    "distance_to_integer",
    "one_minus_cos",
    "record_lows",
]

# 60 significant digits: enough to resolve ||n alpha|| ~ 1/n for n up to 10^25.
DIGITS = 60


def continued_fraction(alpha: mpmath.mpf, terms: int) -> list[int]:
    """The first ``terms`` partial quotients ``[a0; a1, a2, ...]`` of ``alpha``.

    >>> with mpmath.workdps(DIGITS):
    ...     continued_fraction(1 / (2 * mpmath.pi), 6)
    [0, 6, 3, 1, 1, 7]
    """
    quotients = []
    x = mpmath.mpf(alpha)
    for _ in range(terms):
        a = int(mpmath.floor(x))
        quotients.append(a)
        frac = x - a
        if frac == 0:
            break
        x = 1 / frac
    return quotients


def convergent_denominators(alpha: mpmath.mpf, limit: int) -> list[int]:
    """Denominators ``q_k <= limit`` of the convergents of ``alpha``, increasing.

    >>> with mpmath.workdps(DIGITS):
    ...     convergent_denominators(1 / (2 * mpmath.pi), 10**6)
    [1, 6, 19, 25, 44, 333, 710, 103993, 312689]
    """
    q_prev, q = 0, 1
    denominators = [1]
    x = mpmath.mpf(alpha)
    x = 1 / (x - mpmath.floor(x)) if x != mpmath.floor(x) else None
    while x is not None:
        a = int(mpmath.floor(x))
        q_prev, q = q, a * q + q_prev
        if q > limit:
            break
        denominators.append(q)
        frac = x - a
        x = 1 / frac if frac != 0 else None
    return denominators


def distance_to_integer(x: mpmath.mpf) -> mpmath.mpf:
    return abs(x - mpmath.nint(x))


def one_minus_cos(n: int, g: float | mpmath.mpf) -> mpmath.mpf:
    r""":math:`1 - \cos(n g) = 2\sin^2(n g / 2)`, in mpmath precision (no cancellation)."""
    with mpmath.workdps(DIGITS):
        return 2 * mpmath.sin(mpmath.mpf(n) * mpmath.mpf(g) / 2) ** 2


@dataclass(frozen=True)
class NearReturn:
    """The closest return of ``n g`` to a full turn over ``1 <= n <= N``."""

    n: int
    delta: float  # min over n of 1 - cos(n g)


def closest_return(g: float, context: int) -> NearReturn:
    r"""Exact :math:`\delta_N = \min_{1\le n\le N} (1 - \cos(n g))` and its minimiser.

    The minimiser of :math:`\|n\alpha\|` over ``n <= N`` is a convergent denominator or, at
    the end of the range, an intermediate fraction ``q_{k-1} + t q_k``; both families are
    scanned, so the result is exact (to mpmath precision) for any ``N``.
    Reference: Khinchin, *Continued Fractions*, Thm 16-17; SPEC §10.

    >>> r = closest_return(1.0, 1000)
    >>> r.n, f"{r.delta:.4e}"
    (710, '1.8174e-09')
    """
    if context < 1:
        raise ValueError(f"context must be an integer >= 1, got {context}")
    if g == 0:
        return NearReturn(1, 0.0)
    with mpmath.workdps(DIGITS):
        alpha = abs(mpmath.mpf(g)) / (2 * mpmath.pi)
        candidates = set(n for n in convergent_denominators(alpha, context))
        dens = convergent_denominators(alpha, 10 * context + 10)
        # intermediate fractions q_{k-1} + t q_k can beat the last convergent below N
        for q_prev, q in zip(dens, dens[1:]):
            t_max = (context - q_prev) // q
            for t in (t_max, t_max - 1):
                if t >= 1 and q_prev + t * q <= context:
                    candidates.add(q_prev + t * q)
        candidates = {n for n in candidates if 1 <= n <= context}
        best = min(candidates, key=lambda n: (distance_to_integer(n * alpha), n))
        return NearReturn(best, float(one_minus_cos(best, g)))


def record_lows(g: float, context: int) -> list[int]:
    r"""Every ``n <= context`` where :math:`1 - \cos(n g)` sets a new minimum (record low).

    Each record is a best approximation of the second kind, hence a convergent denominator
    (Lagrange); this enumerates the convergents and keeps those that improve the minimum.

    >>> record_lows(1.0, 10**6)
    [1, 6, 19, 25, 44, 333, 710, 103993, 312689]
    """
    with mpmath.workdps(DIGITS):
        alpha = abs(mpmath.mpf(g)) / (2 * mpmath.pi)
        records, best = [], mpmath.inf
        for n in convergent_denominators(alpha, context):
            value = distance_to_integer(n * alpha)
            if value < best:
                records.append(n)
                best = value
        return records
