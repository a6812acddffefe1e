r"""Near-returns of one rotation in SymPy: exact continued fractions of :math:`g/2\pi` and the
identity that turns ``1 - cos(n g)`` into a distance to the nearest integer.

The worst competitor of a single-frequency diagonal head within ``N`` tokens is the ``n < N``
minimising :math:`1 - \cos(ng) = 2\sin^2(\pi\|n g/2\pi\|)`, a best approximation of the second
kind of :math:`g/2\pi`, hence (Lagrange) a continued-fraction convergent denominator. This
module computes those denominators from SymPy's exact :math:`\pi`, independently of the mpmath
routines in :mod:`ropelab.theory.diophantine`.
"""

from __future__ import annotations

import itertools

import sympy as sp

from .derivation import Derivation, derive

__all__ = ["convergent_denominators", "frequency_ratio", "near_return_identity", "return_gap"]


def convergent_denominators(alpha: sp.Expr, limit: int, terms: int = 64) -> list[int]:
    r"""Denominators ``<= limit`` of the convergents of the exact real ``alpha`` (increasing).

    Uses SymPy's continued-fraction iterator on the exact expression (e.g. ``1/(2*pi)``), so
    every partial quotient is decided by exact comparison, not by a float.

    >>> convergent_denominators(1 / (2 * sp.pi), 10**6)
    [1, 6, 19, 25, 44, 333, 710, 103993, 312689]
    """
    if limit < 1:
        raise ValueError(f"limit must be an integer >= 1, got {limit}")
    out = []
    convergents = sp.continued_fraction_convergents(sp.continued_fraction_iterator(sp.sympify(alpha)))
    for convergent in itertools.islice(convergents, terms):
        q = int(sp.fraction(sp.Rational(convergent))[1])
        if q > limit:
            break
        if not out or q > out[-1]:  # q_0 = q_1 = 1 when the first partial quotient is 1
            out.append(q)
    return out


def frequency_ratio(g: float) -> sp.Expr:
    r""":math:`g / 2\pi` with the float ``g`` taken as the exact binary number it is.

    >>> frequency_ratio(1.0)
    1/(2*pi)
    """
    return sp.Rational(g) / (2 * sp.pi)


def return_gap(angle: sp.Expr) -> sp.Expr:
    r"""How far a rotation by ``angle`` stays from a full turn: :math:`1 - \cos(\text{angle})`.

    >>> return_gap(sp.pi / 3)
    1/2
    """
    return 1 - sp.cos(angle)


def near_return_identity() -> Derivation:
    r""":math:`1 - \cos(2\pi(p + x)) = 2\sin^2(\pi x)` for every integer ``p``: only the distance of
    :math:`n g / 2\pi` to the nearest integer matters.

    >>> near_return_identity().holds
    True
    """
    p = sp.Symbol("p", integer=True)
    x = sp.Symbol("x", real=True)
    return derive(
        "1 - cos(n g) = 2 sin^2(pi ||n g / 2 pi||)",
        [("1 - cos(2 pi (p + x)) - 2 sin^2(pi x) = 0 for integer p",
          return_gap(2 * sp.pi * (p + x)) - 2 * sp.sin(sp.pi * x) ** 2)],
    )
