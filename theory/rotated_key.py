r"""Prop 3.1: the key :math:`R^r q` makes distance ``r`` the unique maximum of the logit.

With the query ``q`` at every position and the key :math:`k = R^r q` at every position, the
logit of query ``i`` and key ``j`` at distance ``t = i - j`` is

.. math:: a_{ij} = (R^i q)^\top R^j R^r q = \sum_k |q^{(k)}|^2 \cos\big((r - t) g_k\big),

so :math:`|q|^2 - a_{ij} = \sum_k 2 |q^{(k)}|^2 \sin^2\big((r - t) g_k / 2\big) \ge 0`, with
equality exactly when every :math:`(r-t) g_k` with :math:`q^{(k)} \ne 0` is a whole number of
turns, which Lemma A.1 (:mod:`ropelab.theory.full_turns`) rules out for ``t != r``. The gap
is written as a sum of squared sines so that mpmath evaluates tiny gaps without cancellation.
"""

from __future__ import annotations

import functools

import mpmath
import sympy as sp

from .derivation import Derivation, derive
from .full_turns import frequency_multiple_never_full_turn
from .rotations import g, i, j, q1, q2, rho

r = sp.Symbol("r", integer=True, nonnegative=True)
distance = sp.Symbol("t", integer=True)

# 40 significant digits resolve gaps down to 1e-35 |q|^2, far below any float64 error bound.
DIGITS = 40


def chunk_gap() -> sp.Expr:
    r"""One pair's shortfall from its bound: :math:`2 (q_1^2 + q_2^2)\sin^2((r - t) g / 2)`."""
    return 2 * (q1**2 + q2**2) * sp.sin((r - distance) * g / 2) ** 2


def rotated_key_maximises_logit_at_distance() -> Derivation:
    r"""SymPy's proof of Prop 3.1 for one pair (the logit is a sum over pairs).

    With :math:`a = ig`, :math:`b = jg`, :math:`c = rg` and :math:`\phi = b + c - a = (r - (i-j))g`:

    1. :math:`\rho(a)^\top\rho(b)\rho(c) = \rho(\phi)`, so the pair's logit is
       :math:`q^\top\rho(\phi)q` (Eq. 3 with :math:`k = \rho(rg) q`);
    2. :math:`q^\top\rho(\phi)q = (q_1^2+q_2^2)\cos\phi`;
    3. its shortfall from the Cauchy–Schwarz bound :math:`q_1^2+q_2^2` is
       :math:`2(q_1^2+q_2^2)\sin^2(\phi/2)`, a nonnegative square, 0 at :math:`i - j = r`;
    4. elsewhere the shortfall vanishes only if :math:`(r-t) g` is a whole number of turns,
       excluded by Lemma A.1 (whose derivation is rerun here).

    Reference: Barbero et al. (2025) Prop 3.1; claim ``rotated_key_maximises_logit_at_distance``.

    >>> rotated_key_maximises_logit_at_distance().holds
    True
    """
    a, b, c, phi = sp.symbols("a b c phi", real=True)
    q = sp.Matrix([q1, q2])
    norm2 = q1**2 + q2**2
    composed = rho(a).T * rho(b) * rho(c) - rho(b + c - a)
    gap = chunk_gap().subs(distance, i - j)
    shown = derive(
        "the key R^r q gives a_ij = sum_k |q^(k)|^2 cos((r - (i-j)) g_k) <= |q|^2, with equality iff i - j = r",
        [
            ("rho(a)^T rho(b) rho(c) - rho(b + c - a) = 0 (a = ig, b = jg, c = rg)", sp.expand_trig(composed)),
            ("q^T rho(phi) q - |q|^2 cos(phi) = 0", (q.T * rho(phi) * q)[0] - norm2 * sp.cos(phi)),
            ("|q|^2 - |q|^2 cos(phi) - 2 |q|^2 sin^2(phi / 2) = 0 (the shortfall is a square)",
             norm2 - norm2 * sp.cos(phi) - 2 * norm2 * sp.sin(phi / 2) ** 2),
            ("the shortfall at i - j = r is 0", gap.subs(i, j + r)),
        ],
    )
    lemma = frequency_multiple_never_full_turn()
    steps = shown.steps + (
        f"{'proved' if lemma.holds else 'NOT proved'}: sin((r-t) g / 2) = 0 needs (r-t) g in 2 pi Z, "
        "impossible for t != r (Lemma A.1, frequency_multiple_never_full_turn)",
    )
    return Derivation(shown.statement, shown.holds and lemma.holds, steps)


@functools.cache
def _gap_function():
    return sp.lambdify((q1, q2, r, distance, g), chunk_gap(), "mpmath")


def exact_gaps(query_pairs: list[tuple[float, float]], freqs: list[float], shift: int,
               distances: list[int]) -> list[mpmath.mpf]:
    r"""Exact :math:`|q|^2 - a(t)` for the key :math:`R^{r} q` at each distance ``t``.

    ``query_pairs`` are the pairs :math:`(q^{(k)}_1, q^{(k)}_2)` and ``freqs`` the :math:`g_k`,
    both taken as exact binary numbers (the float64 values a program holds); ``shift`` is
    ``r``. Evaluated from the lambdified SymPy shortfall with ``DIGITS`` significant digits,
    so the result is the exact gap to about 1e-35 relative.

    >>> [mpmath.nstr(x, 6) for x in exact_gaps([(1.0, 0.0)], [1.0], 0, [0, 710])]
    ['0.0', '1.81736e-9']
    """
    f = _gap_function()
    with mpmath.workdps(DIGITS):
        pairs = [(mpmath.mpf(a), mpmath.mpf(b), mpmath.mpf(w)) for (a, b), w in zip(query_pairs, freqs)]
        return [
            mpmath.fsum(f(a, b, shift, t, w) for a, b, w in pairs) for t in distances
        ]
