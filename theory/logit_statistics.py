r"""Moments of the RoPE logit at distance ``r`` for random queries and keys (Prop 3.2 and beyond).

For one pair with frequency ``g`` the logit at distance ``r`` is the relative form of
:func:`ropelab.theory.rotations.chunk_logit`,

.. math:: x = (q_1k_1 + q_2k_2)\cos(rg) + (q_1k_2 - q_2k_1)\sin(rg),

a polynomial in the coordinates with coefficients in :math:`\cos(rg), \sin(rg)`. For
independent standard normal coordinates, the expectation of a monomial is a product of
one-dimensional moments :math:`E[z^a] = (a-1)!!` (``a`` even) or 0 (``a`` odd) — Isserlis'
theorem for a diagonal covariance — so every expectation below is exact moment algebra with
symbolic ``r`` and ``g``. The logit of a ``d``-dimensional head is a sum of ``d/2`` such
pairs in disjoint coordinates.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import sympy as sp

from .derivation import Derivation, derive
from .rotations import chunk_logit, g, i, j, k1, k2, q1, q2

__all__ = [
    "R1",
    "R2",
    "all_ones_closed_form",
    "all_ones_pair_logit",
    "correlated_logit_mean_is_cosine_sum",
    "fixed_gaussian_logit_does_not_decay",
    "g",
    "gaussian_expectation",
    "gaussian_logit_covariance_is_cosine_sum",
    "gaussian_logit_mean_is_zero",
    "gaussian_logit_variance_is_dimension",
    "pair_logit",
    "pair_logit_covariance",
    "pair_logit_product_moment",
    "pair_symbols",
    "r",
]

r = sp.Symbol("r", integer=True)
R1, R2 = sp.symbols("r1 r2", integer=True)  # two distances, for covariances


def gaussian_expectation(expr: sp.Expr, variables: Sequence[sp.Symbol]) -> sp.Expr:
    r""":math:`E[\text{expr}]` for independent standard normal ``variables``.

    ``expr`` must be a polynomial in ``variables``; other symbols (``r``, ``g``, trigonometric
    factors) are constants. Each monomial :math:`\prod z_i^{a_i}` has expectation
    :math:`\prod (a_i-1)!!` when every :math:`a_i` is even, else 0.

    >>> z, w, c = sp.symbols("z w c")
    >>> gaussian_expectation(c * z**2 * w**2 + z**3 + z**4, [z, w])
    c + 3
    """
    poly = sp.Poly(sp.expand(expr), *variables)
    total = sp.Integer(0)
    for powers, coeff in poly.terms():
        if any(a % 2 for a in powers):
            continue
        moment = sp.Integer(1)
        for a in powers:
            moment *= sp.factorial2(a - 1) if a else 1
        total += coeff * moment
    return sp.simplify(total)


def pair_symbols(index: int) -> tuple[sp.Symbol, sp.Symbol, sp.Symbol, sp.Symbol]:
    """Fresh real symbols ``(q1, q2, k1, k2)`` for pair ``index`` (disjoint across pairs)."""
    return sp.symbols(f"q1_{index} q2_{index} k1_{index} k2_{index}", real=True)


def pair_logit(index: int, freq: sp.Expr, key: tuple[sp.Expr, sp.Expr] | None = None) -> sp.Expr:
    r"""Pair ``index``'s logit at distance ``r``: :math:`q^\top\rho(-r g)k` in its own symbols.

    ``key`` replaces ``(k1, k2)`` (e.g. ``q + noise`` for a correlated key).
    """
    a, b, c, e = pair_symbols(index)
    k_first, k_second = key if key is not None else (c, e)
    # query at position r, key at position 0: distance r, in the relative form SymPy derived
    return _relative_pair_logit().subs(
        {i: r, j: 0, g: freq, q1: a, q2: b, k1: k_first, k2: k_second}, simultaneous=True
    )


@functools.cache
def _relative_pair_logit() -> sp.Expr:
    # chunk_logit confirms the relative form with a SymPy simplification: do it once
    return chunk_logit()


def gaussian_logit_mean_is_zero() -> Derivation:
    r"""Prop 3.2: :math:`E[q^\top R^{-r} k] = 0` for independent zero-mean ``q``, ``k`` (every ``d``, ``r``).

    Isotropy (or Gaussianity) is not needed:

    1. one pair's logit is bilinear in ``(q, k)`` (a polynomial of degree 1 in each), so for
       independent ``q``, ``k`` its expectation is the logit of the means
       :math:`\mu_q^\top\rho(-rg)\mu_k` (linearity and :math:`E[q_a k_b] = E[q_a]E[k_b]`);
    2. with zero means that is 0, for symbolic ``r`` and ``g``;
    3. a head's logit is the sum over its ``n = d/2`` pairs; with a symbolic ``n`` and symbolic
       frequencies :math:`g_k`, :math:`\sum_{k \le n} E[x_k] = \sum_{k \le n} 0 = 0`.

    The Gaussian moment algebra (:func:`gaussian_expectation`) agrees for one pair.

    >>> gaussian_logit_mean_is_zero().holds
    True
    """
    g_ = sp.Symbol("g", positive=True)
    one = pair_logit(1, g_)
    q_a, q_b, k_a, k_b = pair_symbols(1)
    mq1, mq2, mk1, mk2 = sp.symbols("mu_q1 mu_q2 mu_k1 mu_k2", real=True)
    degrees = (sp.Poly(one, q_a, q_b).total_degree(), sp.Poly(one, k_a, k_b).total_degree())
    of_means = one.subs({q_a: mq1, q_b: mq2, k_a: mk1, k_b: mk2}, simultaneous=True)
    index, pairs = sp.symbols("k n", integer=True, positive=True)
    freq = sp.IndexedBase("g", positive=True)
    summed = sp.Sum(of_means.subs({mq1: 0, mq2: 0, mk1: 0, mk2: 0}).subs(g_, freq[index]), (index, 1, pairs))
    shown = derive(
        "q, k independent with zero mean: E[q^T R^-r k] = 0 for every r, every d",
        [
            ("the pair logit is bilinear in (q, k): degree 1 in q and degree 1 in k", sp.Integer(degrees != (1, 1))),
            ("E[pair logit] = mu_q^T rho(-r g) mu_k for independent q, k: zero at mu = 0, symbolic r, g",
             of_means.subs({mq1: 0, mq2: 0, mk1: 0, mk2: 0})),
            ("sum over n = d/2 pairs with symbolic n and frequencies g_k: sum_k E[x_k] = 0", summed.doit()),
            ("Gaussian moment algebra agrees: E[pair logit] = 0 for q, k ~ N(0, I)",
             gaussian_expectation(one, pair_symbols(1))),
        ],
    )
    return shown


def pair_logit_covariance() -> sp.Expr:
    r"""One pair's :math:`E[x(r_1) x(r_2)]` for independent :math:`q, k \sim N(0, I)`, symbolic ``r1, r2, g``.

    SymPy reduces it to :math:`2\cos((r_1 - r_2) g)`; a head sums it over its pairs (disjoint
    coordinates are uncorrelated), so :math:`\mathrm{Cov}[c(r_1), c(r_2)] = 2\sum_k\cos((r_1-r_2)g_k)`.

    >>> sp.simplify(pair_logit_covariance() - 2 * sp.cos((R1 - R2) * g))
    0
    """
    return _product_expectation(pair_logit(1, g), 1, gaussian_expectation)


def pair_logit_product_moment() -> sp.Expr:
    r"""One pair's :math:`E[x(r_1)^2 x(r_2)^2]` for independent :math:`q, k \sim N(0, I)`: :math:`16 + 8\cos(2(r_1-r_2)g)`.

    The fourth moment that sets the standard error of a sample covariance under the hypothesis.

    >>> sp.simplify(pair_logit_product_moment() - 16 - 8 * sp.cos(2 * (R1 - R2) * g))
    0
    """
    return _product_expectation(pair_logit(1, g), 2, gaussian_expectation)


@functools.cache
def _product_expectation(pair: sp.Expr, power: int, expectation) -> sp.Expr:
    # keyed by the pair logit and the expectation used, so a changed one is never answered from the cache
    return expectation(pair.subs(r, R1) ** power * pair.subs(r, R2) ** power, pair_symbols(1))


def gaussian_logit_covariance_is_cosine_sum() -> Derivation:
    r""":math:`\mathrm{Cov}[c(r_1), c(r_2)] = 2\sum_k\cos((r_1 - r_2) g_k)` for independent :math:`q, k \sim N(0, I)`.

    The rotation shows in the covariance (the mean is 0 with or without it): per pair
    :func:`pair_logit_covariance` is :math:`2\cos((r_1-r_2)g)`, distinct pairs are uncorrelated.

    >>> gaussian_logit_covariance_is_cosine_sum().holds
    True
    """
    h = sp.Symbol("h", positive=True)
    one, two = pair_logit(1, g), pair_logit(2, h)
    variables = pair_symbols(1) + pair_symbols(2)
    return derive(
        "q, k ~ N(0, I) independent: Cov[c(r1), c(r2)] = 2 sum_k cos((r1 - r2) g_k)",
        [
            ("E[x(r1) x(r2)] - 2 cos((r1 - r2) g) = 0 for one pair", pair_logit_covariance() - 2 * sp.cos((R1 - R2) * g)),
            ("E[pair 1 (r1) pair 2 (r2)] = 0 (disjoint coordinates)",
             gaussian_expectation(one.subs(r, R1) * two.subs(r, R2), variables)),
        ],
    )


def gaussian_logit_variance_is_dimension() -> Derivation:
    r""":math:`\mathrm{Var}[q^\top R^{-r} k] = d` for independent :math:`q, k \sim N(0, I)`.

    One pair: :math:`E[x^2] = 2(\cos^2 + \sin^2) = 2` for every ``r``; two pairs in disjoint
    coordinates are uncorrelated, so the ``d/2`` pairs of a head add up to ``d``.

    >>> gaussian_logit_variance_is_dimension().holds
    True
    """
    g, h = sp.symbols("g h", positive=True)
    one, two = pair_logit(1, g), pair_logit(2, h)
    variables = pair_symbols(1) + pair_symbols(2)
    var_one = gaussian_expectation(one**2, pair_symbols(1)) - gaussian_expectation(one, pair_symbols(1)) ** 2
    covariance = gaussian_expectation(one * two, variables)
    var_sum = gaussian_expectation((one + two) ** 2, variables)
    return derive(
        "q, k ~ N(0, I) independent: Var[q^T R^-r k] = d for every r",
        [
            ("Var[pair logit] - 2 = 0 for symbolic r, g", var_one - 2),
            ("Cov[pair 1, pair 2] = 0 (disjoint coordinates)", covariance),
            ("Var[pair 1 + pair 2] - 4 = 0, i.e. d = 4; d/2 pairs give d", var_sum - 4),
        ],
    )


def correlated_logit_mean_is_cosine_sum() -> Derivation:
    r"""Men et al.'s :math:`B(r)`: with :math:`k = q + \sigma\,n`, :math:`E[q^\top R^{-r} k] = 2\sum_k\cos(r g_k)`.

    Proved for one pair with symbolic ``r``, ``g`` and noise scale :math:`\sigma` (the noise
    is independent of ``q`` and drops out), then summed over two pairs.

    >>> correlated_logit_mean_is_cosine_sum().holds
    True
    """
    g, h = sp.symbols("g h", positive=True)
    sigma = sp.Symbol("sigma", nonnegative=True)
    q1a, q2a, n1a, n2a = pair_symbols(1)
    q1b, q2b, n1b, n2b = pair_symbols(2)
    one = pair_logit(1, g, key=(q1a + sigma * n1a, q2a + sigma * n2a))
    two = pair_logit(2, h, key=(q1b + sigma * n1b, q2b + sigma * n2b))
    return derive(
        "k = q + sigma * noise: E[q^T R^-r k] = 2 sum_k cos(r g_k) (unit variance)",
        [
            ("E[pair logit] - 2 cos(r g) = 0", gaussian_expectation(one, pair_symbols(1)) - 2 * sp.cos(r * g)),
            ("E[two pairs] - 2 (cos(r g) + cos(r h)) = 0",
             gaussian_expectation(one + two, pair_symbols(1) + pair_symbols(2))
             - 2 * (sp.cos(r * g) + sp.cos(r * h))),
        ],
    )


def fixed_gaussian_logit_does_not_decay() -> Derivation:
    r"""For one fixed Gaussian pair ``q, k`` the squared logit keeps its size at every distance.

    1. :math:`E[c(r)^2] = d` at every ``r`` (the variance above): any window of distances has
       expected mean square ``d``, so the ratio of two windows' expected mean squares is 1;
    2. for a fixed pair, the average of :math:`c(r)^2 = (A\cos rg + B\sin rg)^2` over a full
       period is :math:`(A^2 + B^2)/2` — no factor shrinks with ``r``;
    3. :math:`E[(A^2 + B^2)/2] = 2` per pair, consistent with 1.

    >>> fixed_gaussian_logit_does_not_decay().holds
    True
    """
    g = sp.Symbol("g", positive=True)
    a, b = sp.symbols("A B", real=True)
    x = sp.Symbol("x", real=True)
    q1a, q2a, k1a, k2a = pair_symbols(1)
    one = pair_logit(1, g)
    # over one period 2 pi / g in the continuous variable x standing for r
    period_mean = sp.integrate((a * sp.cos(x * g) + b * sp.sin(x * g)) ** 2, (x, 0, 2 * sp.pi / g)) * g / (2 * sp.pi)
    coeff_a = q1a * k1a + q2a * k2a
    coeff_b = q1a * k2a - q2a * k1a
    return derive(
        "one fixed Gaussian (q, k): E[c(r)^2] = d for every r and the period mean of c^2 is (A^2 + B^2)/2",
        [
            ("E[pair logit^2] - 2 = 0 for symbolic r", gaussian_expectation(one**2, pair_symbols(1)) - 2),
            ("period mean of (A cos(r g) + B sin(r g))^2 - (A^2 + B^2)/2 = 0", period_mean - (a**2 + b**2) / 2),
            ("E[(A^2 + B^2)/2] - 2 = 0 with A = q.k, B = q1 k2 - q2 k1",
             gaussian_expectation((coeff_a**2 + coeff_b**2) / 2, pair_symbols(1)) - 2),
        ],
    )


def all_ones_pair_logit() -> sp.Expr:
    r"""One pair's share of Fig 2a's logit: the pair logit with :math:`q = k = (1, 1)`.

    SymPy reduces it to :math:`2\cos(r g)`, so the all-ones head has
    :math:`A(r) = \frac{1}{d}\mathbf{1}^\top R^{-r}\mathbf{1} = \frac{2}{d}\sum_k\cos(r g_k)`
    (the frequency ``g`` stays a symbol; sum the lambdified expression over :math:`g_k`).

    >>> all_ones_pair_logit()
    2*cos(g*r)
    """
    pair = pair_logit(1, g)
    return sp.simplify(pair.subs({s: 1 for s in pair_symbols(1)}))


def all_ones_closed_form() -> Derivation:
    r"""Fig 2a's curve in closed form: :math:`A(r) = \frac{2}{d}\sum_k \cos(r g_k)`, :math:`A(0) = 1`.

    The pair logit with :math:`q = k = (1, 1)` reduces to :math:`2\cos(rg)` (so the sum over
    ``d/2`` pairs divided by :math:`|q||k| = d` is the cosine average) and equals 2 at ``r = 0``.
    The decay itself is a property of the frequencies, measured numerically.

    >>> all_ones_closed_form().holds
    True
    """
    pair = all_ones_pair_logit()
    return derive(
        "all-ones q = k: A(r) = (1/d) 1^T R^-r 1 = (2/d) sum_k cos(r g_k), A(0) = 1",
        [
            ("pair logit with q = k = (1, 1) minus 2 cos(r g) = 0", pair - 2 * sp.cos(r * g)),
            ("pair logit at r = 0 minus 2 = 0 (so A(0) = (d/2) 2 / d = 1)", pair.subs(r, 0) - 2),
        ],
    )
