r"""The base wavelength and the context: turns, critical pair, and Men et al.'s cosine sum.

- The slowest pair of a ``d``-dimensional head rotates at :math:`g_{d/2} = \theta^{-(d-2)/d}`
  (the paper rounds it to :math:`1/\theta`); over ``L`` tokens it makes :math:`Lg/2\pi` turns,
  and its breaking context (:mod:`.semantic_channels`) is about :math:`\pi/(2g)`, so a larger
  base lengthens the semantic range.
- The *critical pair* completes exactly one turn within ``L`` tokens:
  :math:`2\pi/g_m = L \iff m = i^* = \tfrac d2 \log_\theta(L/2\pi)` (Liu et al. 2023; YaRN;
  FoPE). Pairs below it complete at least one turn, pairs above it less than one.
- Men et al. (2024) read :math:`E[q^\top R^{-r}k] \propto B_\theta(r) = \sum_m\cos(r g_m)` off
  keys that are noisy copies of the query, and ask for :math:`B_\theta(r) \ge 0` up to ``L``.
"""

from __future__ import annotations

import itertools

import mpmath
import sympy as sp

from . import rotations
from .derivation import Derivation, derive

__all__ = [
    "certified_cosine_sums",
    "certify_cosine_sum_sign",
    "cosine_sum",
    "cosine_sum_is_expected_logit",
    "critical_dimension",
    "critical_pair_index",
    "critical_pair_turns_once",
    "larger_base_slows_slowest_pair",
    "slowest_frequency",
    "turns",
]

theta = sp.Symbol("theta", positive=True)
d_sym = sp.Symbol("d", positive=True)
context = sp.Symbol("L", positive=True)
r = sp.Symbol("r", nonnegative=True)
g = sp.Symbol("g", positive=True)


def slowest_frequency(d: int | sp.Expr, base: sp.Expr) -> sp.Expr:
    r""":math:`g_{d/2} = \theta^{-(d-2)/d}` (pair ``m = d/2 - 1``).

    >>> slowest_frequency(128, 10000)
    10**(1/16)/10000
    """
    return sp.sympify(base) ** (-sp.Rational(1) * (sp.sympify(d) - 2) / sp.sympify(d))


def turns(length: sp.Expr, freq: sp.Expr) -> sp.Expr:
    r"""Full turns a pair of frequency ``g`` makes over ``L`` tokens: :math:`L g / 2\pi`."""
    return sp.sympify(length) * sp.sympify(freq) / (2 * sp.pi)


def critical_pair_index(d: int | sp.Expr, base: sp.Expr, length: sp.Expr) -> sp.Expr:
    r""":math:`i^* = \tfrac d2 \log_\theta(L / 2\pi)`: the (0-based, fractional) pair whose
    wavelength is exactly ``L``.

    >>> round(float(critical_pair_index(128, 10000, 4096)), 4)
    45.0269
    """
    return sp.sympify(d) / 2 * sp.log(sp.sympify(length) / (2 * sp.pi)) / sp.log(sp.sympify(base))


def critical_dimension(d: int, base: sp.Expr, length: sp.Expr) -> int:
    r""":math:`2\lceil i^*\rceil`: the number of coordinates whose pairs turn at least once.

    >>> critical_dimension(128, 10000, 4096)   # Llama 2
    92
    """
    return int(2 * sp.ceiling(critical_pair_index(d, base, length)))


def larger_base_slows_slowest_pair() -> Derivation:
    r"""A larger base slows the slowest pair and lengthens its breaking context
    :math:`\approx \pi/(2 g_{d/2})`, for every ``d > 2``.

    >>> larger_base_slows_slowest_pair().holds
    True
    """
    slowest = slowest_frequency(d_sym, theta)
    breaking = sp.pi / (2 * slowest)
    e = sp.Symbol("e", positive=True)  # d = 2 + e
    slope_slowest = sp.diff(slowest, theta).subs(d_sym, 2 + e)
    slope_breaking = sp.diff(breaking, theta).subs(d_sym, 2 + e)
    return derive(
        "d g_(d/2)/d theta < 0 and d N*/d theta > 0 for d > 2",
        [
            ("d g_(d/2)/d theta = -(d-2)/d theta^(-(d-2)/d - 1)",
             sp.simplify(sp.diff(slowest, theta) + (d_sym - 2) / d_sym * theta ** (-(d_sym - 2) / d_sym - 1))),
            ("its sign is negative for d = 2 + e, e > 0 (SymPy decides the sign)",
             sp.Integer(0) if slope_slowest.is_negative else sp.Integer(1)),
            ("d/d theta of pi/(2 g_(d/2)) is positive for d = 2 + e, e > 0",
             sp.Integer(0) if slope_breaking.is_positive else sp.Integer(1)),
            ("the paper's 1/theta undercounts the slowest frequency by theta^(2/d): g_(d/2) theta = theta^(2/d)",
             sp.powsimp(slowest * theta) - theta ** (2 / d_sym)),
        ],
    )


def critical_pair_turns_once() -> Derivation:
    r"""The pair at :math:`i^* = \tfrac d2\log_\theta(L/2\pi)` has wavelength exactly ``L``;
    wavelengths grow with ``m``, so pairs ``m <= i*`` turn at least once within ``L`` tokens.

    >>> critical_pair_turns_once().holds
    True
    """
    m = sp.Symbol("m", nonnegative=True)
    wavelength = 2 * sp.pi / theta ** (-2 * m / d_sym)
    i_star = critical_pair_index(d_sym, theta, context)
    return derive(
        "wavelength(i*) = L, and the wavelength grows by theta^(2/d) per pair",
        [
            ("ln(2 pi / g_(i*)) = ln L", sp.simplify(sp.expand_log(sp.log(wavelength.subs(m, i_star)), force=True)
                                                     - sp.log(context))),
            ("wavelength(m + 1) / wavelength(m) = theta^(2/d)",
             sp.powsimp(wavelength.subs(m, m + 1) / wavelength) - theta ** (2 / d_sym)),
        ],
    )


def cosine_sum_is_expected_logit() -> Derivation:
    r"""Men et al.'s :math:`B`: with :math:`q \sim N(0, I)` and :math:`k = q + \varepsilon`
    (independent zero-mean noise), :math:`E[q^\top\rho(-rg)k] = 2\cos(rg)` for one pair, so
    :math:`E[q^\top R^{-r}k] = 2B_\theta(r)`.

    The expectation is taken by expanding the polynomial in ``q1, q2, e1, e2`` and replacing
    each monomial by its moment (:math:`E q_i^2 = 1`, every other monomial of degree <= 2 has
    mean 0 by independence and symmetry).

    >>> cosine_sum_is_expected_logit().holds
    True
    """
    q1, q2, e1, e2 = sp.symbols("q1 q2 e1 e2", real=True)
    rot = rotations.rho(-r * g)
    logit = sp.expand((sp.Matrix([[q1, q2]]) * rot * sp.Matrix([q1 + e1, q2 + e2]))[0])
    variables = (q1, q2, e1, e2)
    moments = {}
    for powers in itertools.product(range(3), repeat=4):
        if sum(powers) == 0 or sum(powers) > 2:
            continue
        monomial = sp.Mul(*(v**k for v, k in zip(variables, powers)))
        moments[monomial] = 1 if powers in ((2, 0, 0, 0), (0, 2, 0, 0)) else 0
    expected = sp.Add(*(coeff * moments.get(mono, sp.nan) for mono, coeff in
                        logit.as_coefficients_dict(*variables).items()))
    return derive("E[q^T R^-r (q + eps)] = 2 sum_m cos(r g_m)",
                  [("E[chunk logit] - 2 cos(r g) = 0", expected - 2 * sp.cos(r * g))])


def cosine_sum(distance: int, base: float, d: int, digits: int = 40) -> mpmath.mpf:
    r""":math:`B_\theta(r) = \sum_{m<d/2} \cos(r\theta^{-2m/d})` in mpmath at ``digits`` digits,
    the base taken as the exact binary value of the float (certifies a sign found in float64).

    >>> round(float(cosine_sum(1, 100.0, 4)), 6)   # cos(1) + cos(0.1)
    1.535306
    """
    with mpmath.workdps(digits):
        b = mpmath.mpf(base)
        return mpmath.fsum(mpmath.cos(distance * b ** (-mpmath.mpf(2 * m) / d)) for m in range(d // 2))


def certified_cosine_sums(base: float, d: int, distances: range | list[int], bits: int = 128) -> list:
    r"""Arb balls containing :math:`B_\theta(r) = \sum_{m<d/2}\cos(r\theta^{-2m/d})` at each distance
    (python-flint, ``bits`` of precision; the base taken as the exact binary value of the float).

    >>> ball = certified_cosine_sums(100.0, 4, [1])[0]
    >>> bool(ball > 1.5353) and bool(ball < 1.5354)   # cos(1) + cos(0.1)
    True
    """
    import flint

    old = flint.ctx.prec
    flint.ctx.prec = bits
    try:
        b = flint.arb(base)
        freqs = [b ** (flint.arb(-2 * m) / d) for m in range(d // 2)]
        return [sum(((r * g).cos() for g in freqs), flint.arb(0)) for r in distances]
    finally:
        flint.ctx.prec = old


def certify_cosine_sum_sign(base: float, d: int, distances: range | list[int], negative: bool) -> dict:
    r"""Certify :math:`B_\theta(r) < 0` at one of ``distances`` (``negative``) or :math:`B_\theta(r) > 0`
    at all of them; reports the deciding distance (the most negative, or the smallest) and its ball.

    >>> certify_cosine_sum_sign(100.0, 128, [59], negative=True)["certified"]
    True
    """
    balls = certified_cosine_sums(base, d, distances)
    mids = [float(ball.mid()) for ball in balls]
    index = min(range(len(balls)), key=mids.__getitem__)
    if negative:
        certified = any(bool(ball < 0) for ball in balls)
    else:
        certified = all(bool(ball > 0) for ball in balls)
    deciding = balls[index]
    return {"certified": certified, "distances_checked": len(balls), "deciding_distance": list(distances)[index],
            "lower": float(deciding.lower()), "upper": float(deciding.upper()), "mpmath": float(
                cosine_sum(list(distances)[index], base, d))}
