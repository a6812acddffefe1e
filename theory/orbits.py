r"""The orbit :math:`\{n g \bmod 2\pi : 0 \le n \le N\}` of one rotation: its gaps (Lemma A.2).

With :math:`\alpha = g / 2\pi \bmod 1` irrational, the ``N + 1`` points cut the circle into
``N + 1`` arcs of at most three lengths (the three-gap theorem of Sós, Świerczkowski and
Surányi), given exactly by the continued fraction of :math:`\alpha`. Write
:math:`p_k/q_k` for its convergents, :math:`\eta_k = |q_k\alpha - p_k|` (with
:math:`q_{-1} = 0`, :math:`\eta_{-1} = 1`), take the ``k`` with
:math:`q_k + q_{k-1} \le N < q_{k+1} + q_k` and write :math:`N = m q_k + q_{k-1} + r`,
:math:`1 \le m \le a_{k+1}`, :math:`0 \le r < q_k`. Then (in turns)

- :math:`N + 1 - q_k` arcs have length :math:`\eta_k`,
- :math:`r + 1` arcs have length :math:`\eta_{k-1} - m\eta_k`,
- :math:`q_k - r - 1` arcs have length :math:`\eta_{k-1} - (m-1)\eta_k` (the sum of the other two).

The largest arc is below :math:`\eta_{k-1} = (1 - q_{k-1}\eta_k)/q_k < 1/q_k`, and
:math:`q_k \to \infty` with ``N``, so the orbit is dense (Lemma A.2 of Barbero et al. 2025).
Reference: Alessandri & Berthé, *Three distance theorems and combinatorics on words* (1998).
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import sympy as sp

from .derivation import Derivation, derive

__all__ = ["convergent_step", "largest_gap_tends_to_zero", "three_gap_theorem", "three_gaps"]

# Enough digits to resolve eta_k ~ 1/q_{k+1} for q up to 1e25, like theory.diophantine.
DIGITS = 60


@dataclass(frozen=True)
class GapStructure:
    """The predicted arcs of the orbit ``n g mod 2 pi``, ``n = 0 .. N``: lengths in radians."""

    points: int
    lengths: tuple[float, ...]  # radians, increasing; 2 or 3 entries
    counts: tuple[int, ...]
    largest_bound: float  # 2 pi / q_k: the largest arc is below it
    q_k: int


def convergent_step(a, previous, before):
    r"""One step of the convergent recursion: :math:`p_k = a_k p_{k-1} + p_{k-2}` (the same for ``q``).

    Works on integers and on SymPy expressions alike.

    >>> convergent_step(2, 3, 1)
    7
    """
    return a * previous + before


def _convergent_table(alpha: mpmath.mpf, limit: int) -> list[tuple[int, int, int]]:
    """``(a_k, p_k, q_k)`` for ``k = 0, 1, ...`` until ``q_k`` exceeds ``limit`` (one past it)."""
    table = []
    p_prev, q_prev, p, q = 0, 1, 1, 0  # (p_{-2}, q_{-2}, p_{-1}, q_{-1})
    x = alpha
    while True:
        a = int(mpmath.floor(x))
        p_prev, q_prev, p, q = p, q, convergent_step(a, p, p_prev), convergent_step(a, q, q_prev)
        table.append((a, p, q))
        frac = x - a
        if q > limit or frac == 0:
            return table
        x = 1 / frac


def three_gaps(g: float, points: int) -> GapStructure:
    r"""Lengths and multiplicities of the arcs between :math:`\{n g \bmod 2\pi\}_{n=0}^{N}`.

    ``g`` is taken as the exact binary value of the float given; ``points`` is ``N``. The
    formula is the one of the module docstring, evaluated with mpmath at ``DIGITS`` digits.

    >>> s = three_gaps(1.0, 10)
    >>> s.counts, [round(x, 6) for x in s.lengths]
    ((5, 4, 2), [0.283185, 0.716815, 1.0])
    """
    if points < 1:
        raise ValueError(f"points must be an integer >= 1, got {points}")
    with mpmath.workdps(DIGITS):
        alpha = mpmath.mpf(g) / (2 * mpmath.pi)
        alpha -= mpmath.floor(alpha)
        if alpha == 0:
            raise ValueError("g must not be a multiple of 2 pi: the orbit is a single point")
        table = _convergent_table(alpha, 2 * points + 2)
        qs = [0] + [q for _, _, q in table]  # qs[k + 1] = q_k, qs[0] = q_{-1}
        ps = [1] + [p for _, p, _ in table]
        etas = [mpmath.mpf(1)] + [abs(q * alpha - p) for p, q in zip(ps[1:], qs[1:])]
        # the k with q_k + q_{k-1} <= N < q_{k+1} + q_k (index shifted by one in the lists)
        k = max(i for i in range(1, len(qs)) if qs[i] + qs[i - 1] <= points)
        q_k, q_km1, eta_k, eta_km1 = qs[k], qs[k - 1], etas[k], etas[k - 1]
        m, r = divmod(points - q_km1, q_k)
        arcs = [
            (eta_k, points + 1 - q_k),
            (eta_km1 - m * eta_k, r + 1),
            (eta_km1 - (m - 1) * eta_k, q_k - r - 1),
        ]
        arcs = sorted((length, count) for length, count in arcs if count > 0)
        two_pi = 2 * mpmath.pi
        return GapStructure(
            points=points,
            lengths=tuple(float(two_pi * length) for length, _ in arcs),
            counts=tuple(int(count) for _, count in arcs),
            largest_bound=float(two_pi / q_k),
            q_k=int(q_k),
        )


def three_gap_theorem() -> Derivation:
    r"""The arithmetic behind the three-gap theorem and the density of the orbit (Lemma A.2).

    With symbolic partial quotients, the convergent recursion gives
    :math:`p_kq_{k-1} - p_{k-1}q_k = (-1)^{k-1}`; with the alternating signs of
    :math:`q_k\alpha - p_k` this makes :math:`q_k\eta_{k-1} + q_{k-1}\eta_k = 1`. Substituting
    :math:`N = mq_k + q_{k-1} + r` shows the three multiplicities add up to ``N + 1`` arcs,
    the arcs fill exactly one turn, the third length is the sum of the other two, and the
    largest arc is :math:`\eta_{k-1} - (m-1)\eta_k \le \eta_{k-1} = (1 - q_{k-1}\eta_k)/q_k`,
    below :math:`1/q_k`, which tends to 0 as ``N`` (hence ``k``) grows.

    >>> three_gap_theorem().holds
    True
    """
    a1, a2, a3, a4 = sp.symbols("a1:5", positive=True, integer=True)
    alpha = sp.Symbol("alpha", positive=True)
    # convergents of [0; a1, a2, a3, a4] from the matrix recursion (p_k q_k) = (p_{k-1} q_{k-1}) a_k + (p_{k-2} q_{k-2})
    p = [sp.Integer(1), sp.Integer(0)]  # p_{-1}, p_0
    q = [sp.Integer(0), sp.Integer(1)]  # q_{-1}, q_0
    for a in (a1, a2, a3, a4):
        p.append(convergent_step(a, p[-1], p[-2]))
        q.append(convergent_step(a, q[-1], q[-2]))
    # k = 0..4 sits at list index k + 1
    determinant_steps = [
        (f"p_{k} q_{k - 1} - p_{k - 1} q_{k} = (-1)^{k - 1}",
         sp.expand(p[k + 1] * q[k] - p[k] * q[k + 1] - sp.Integer(-1) ** (k - 1)))
        for k in range(0, 5)
    ]
    # signed errors e_k = q_k alpha - p_k alternate in sign: eta_k = (-1)^k e_k
    eta = [sp.Integer(-1) ** k * (q[k + 1] * alpha - p[k + 1]) for k in range(-1, 5)]  # eta[k + 1] = eta_k
    eta[0] = sp.Integer(1)  # eta_{-1} = 1 by convention (q_{-1} = 0, p_{-1} = 1 gives -(-1) = 1 too)
    identity_steps = [
        (f"q_{k} eta_{k - 1} + q_{k - 1} eta_{k} = 1",
         sp.expand(q[k + 1] * eta[k] + q[k] * eta[k + 1] - 1))
        for k in range(0, 5)
    ]
    n_pts, m, r, qk, qkm1, ek = sp.symbols("N m r q_k q_km1 eta_k", positive=True)
    ekm1 = (1 - qkm1 * ek) / qk  # the identity just proved, solved for eta_{k-1}
    counts = [n_pts + 1 - qk, r + 1, qk - r - 1]
    lengths = [ek, ekm1 - m * ek, ekm1 - (m - 1) * ek]
    on_n = {n_pts: m * qk + qkm1 + r}
    return derive(
        "N+1 points n*alpha mod 1 leave arcs of at most three lengths that fill the circle; "
        "the largest is below 1/q_k -> 0",
        determinant_steps
        + identity_steps
        + [
            ("the multiplicities add up to N + 1 arcs", sum(counts) - (n_pts + 1)),
            ("the arcs fill one turn: sum(count x length) = 1 when N = m q_k + q_{k-1} + r",
             sp.simplify((sum(c * x for c, x in zip(counts, lengths)) - 1).subs(on_n))),
            ("the third length is the sum of the other two", lengths[2] - lengths[0] - lengths[1]),
            ("largest arc = eta_{k-1} - (m-1) eta_k, and eta_{k-1} = 1/q_k - q_{k-1} eta_k / q_k",
             lengths[2] - (ekm1 - (m - 1) * ek) + (ekm1 - (1 / qk - qkm1 * ek / qk))),
        ],
    )


def largest_gap_tends_to_zero() -> Derivation:
    r"""Lemma A.2 for every irrational :math:`\alpha = g/2\pi` and every ``k``, by induction.

    With symbolic partial quotient :math:`a \ge 1` and symbolic convergents, one step of the
    recursion :math:`p_{k+1} = a p_k + p_{k-1}`, :math:`q_{k+1} = a q_k + q_{k-1}`,
    :math:`\eta_{k+1} = \eta_{k-1} - a\eta_k` flips the sign of the determinant
    :math:`p_kq_{k-1} - p_{k-1}q_k` and keeps :math:`q_k\eta_{k-1} + q_{k-1}\eta_k` (both hold at
    ``k = 0``), so both hold for every ``k``; :math:`q_{k+1} \ge q_k + q_{k-1}` gives
    :math:`q_k \ge k`. The three-gap theorem (cited: it gives the arcs' lengths) puts the largest
    arc below :math:`\eta_{k-1} = (1 - q_{k-1}\eta_k)/q_k < 1/q_k \le 1/k`, which tends to 0.

    >>> largest_gap_tends_to_zero().holds
    True
    """
    a = sp.Symbol("a", positive=True, integer=True)
    p_k, p_km1, q_k, q_km1 = sp.symbols("p_k p_km1 q_k q_km1", integer=True)
    eta_k, eta_km1, alpha = sp.symbols("eta_k eta_km1 alpha", real=True)
    k = sp.Symbol("k", positive=True, integer=True)
    i, j = sp.symbols("i j", nonnegative=True, integer=True)
    p_next, q_next = convergent_step(a, p_k, p_km1), convergent_step(a, q_k, q_km1)
    eta_next = eta_km1 - a * eta_k
    sign = sp.Integer(-1) ** k
    # signed errors e_k = q_k alpha - p_k alternate: eta_k = (-1)^k e_k
    e_next = q_next * alpha - p_next
    return derive(
        "for every irrational alpha the largest arc of {n alpha mod 1}_(n <= N) is below 1/q_k <= 1/k -> 0",
        [
            ("k = 0: p_0 q_(-1) - p_(-1) q_0 = -1 (p_(-1) = 1, q_(-1) = 0, q_0 = 1)",
             (p_k * q_km1 - p_km1 * q_k).subs({p_km1: 1, q_km1: 0, q_k: 1}) + 1),
            ("step: p_(k+1) q_k - p_k q_(k+1) = -(p_k q_(k-1) - p_(k-1) q_k), for every a",
             sp.expand(p_next * q_k - p_k * q_next + (p_k * q_km1 - p_km1 * q_k))),
            ("step: e_(k+1) = a e_k + e_(k-1), so eta_(k+1) = eta_(k-1) - a eta_k with eta_k = (-1)^k e_k",
             sp.expand(sign * (-1) * e_next
                       - ((sign * (-1) * (q_km1 * alpha - p_km1)) - a * sign * (q_k * alpha - p_k)))),
            ("k = 0: q_0 eta_(-1) + q_(-1) eta_0 = 1 (eta_(-1) = 1)",
             (q_k * eta_km1 + q_km1 * eta_k).subs({q_k: 1, eta_km1: 1, q_km1: 0}) - 1),
            ("step: q_(k+1) eta_k + q_k eta_(k+1) = q_k eta_(k-1) + q_(k-1) eta_k, for every a",
             sp.expand(q_next * eta_k + q_k * eta_next - (q_k * eta_km1 + q_km1 * eta_k))),
            ("q_(k+1) - q_k - q_(k-1) = (a - 1) q_k >= 0 for a >= 1",
             # a = 1 + j and q_k = 1 + i with i, j >= 0: (a - 1) q_k = j (1 + i)
             sp.Integer(0) if sp.expand(q_next - q_k - q_km1 - (a - 1) * q_k) == 0
             and ((a - 1) * q_k).subs({a: 1 + j, q_k: 1 + i}).is_nonnegative else sp.Integer(1)),
            ("q_k >= k, q_(k-1) >= 1 imply q_(k+1) >= q_k + q_(k-1) >= k + 1",
             # q_k = k + i, q_(k-1) = 1 + j with i, j >= 0
             sp.Integer(0) if ((k + i) + (1 + j) - (k + 1)).is_nonnegative else sp.Integer(1)),
            ("largest arc < eta_(k-1) = (1 - q_(k-1) eta_k)/q_k <= 1/q_k <= 1/k -> 0 (three-gap theorem)",
             sp.limit(1 / k, k, sp.oo)),
        ],
    )
