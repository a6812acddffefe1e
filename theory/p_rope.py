r"""p-RoPE in SymPy: which pairs rotate, what the others contribute, and partial rotary.

p-RoPE with fraction ``p`` keeps the ``n = int(p*d//2)`` highest standard frequencies
:math:`g_m = \theta^{-2m/d}` (``m < n``) and sets the rest to 0 (SPEC §1; Barbero et al.
2025 §6.1). GPT-NeoX "partial rotary" instead rotates a prefix of ``2n`` coordinates with the
schedule re-spread over it, :math:`\theta'^{-2m/(2n)}`; with :math:`\theta' = \theta^{2n/d}`
the two have the same frequencies and differ only by where the pairs sit.
"""

from __future__ import annotations

import math
from fractions import Fraction

import sympy as sp

from . import rotations as rot
from .derivation import Derivation, derive

__all__ = [
    "float_hazards",
    "kept_pairs_decimal",
    "kept_pairs_ieee",
    "p_rope_equals_partial_rotary_with_scaled_base",
    "p_rope_frequency",
    "p_rope_keeps_highest_frequencies",
    "p_rope_partial_permutation",
    "p_rope_unrotated_channels_ignore_distance",
    "theta",
]

theta = sp.Symbol("theta", positive=True)
h = sp.Symbol("h", positive=True, integer=True)  # d = 2h pairs... d/2 = h
m_sym = sp.Symbol("m", nonnegative=True, integer=True)
n_sym = sp.Symbol("n", positive=True, integer=True)


def kept_pairs_decimal(p: str, d: int) -> int:
    """The count a reader of the decimal ``p`` expects: :math:`\\lfloor p d / 2\\rfloor` exactly.

    >>> kept_pairs_decimal("0.58", 100)
    29
    """
    return math.floor(Fraction(p) * d / 2)


def kept_pairs_ieee(p: float, d: int) -> int:
    r"""The count ``int(p * d // 2)`` evaluated as IEEE double arithmetic does, in exact
    rationals: :math:`\lfloor \mathrm{fl}(p\,d) / 2\rfloor` where ``p`` is the exact binary value
    of the float and ``fl`` rounds the exact product to the nearest double (ties to even),
    which is what one floating-point multiplication returns.

    >>> kept_pairs_ieee(0.58, 100)   # 0.58 * 100 rounds to 57.99999999999999
    28
    """
    product = float(Fraction(p) * d)  # correctly rounded conversion of the exact product
    return math.floor(Fraction(product) / 2)


def float_hazards(max_d: int = 512) -> list[tuple[float, int, int, int]]:
    """Every (p, d) with two-decimal p and even d <= max_d where int(p*d//2) differs from the
    decimal floor(p d / 2): ``(p, d, ieee_count, decimal_count)``.

    >>> (0.58, 100, 28, 29) in float_hazards(100)
    True
    """
    out = []
    for hundredths in range(1, 100):
        p_text = f"{hundredths / 100:.2f}"
        for d in range(2, max_d + 1, 2):
            ieee, decimal = kept_pairs_ieee(float(p_text), d), kept_pairs_decimal(p_text, d)
            if ieee != decimal:
                out.append((float(p_text), d, ieee, decimal))
    return out


def p_rope_frequency(m: int | sp.Expr, d: int | sp.Expr, kept: int | sp.Expr) -> sp.Expr:
    r"""Pair ``m``'s p-RoPE frequency: :math:`\theta^{-2m/d}` if ``m < kept`` else 0."""
    return sp.Piecewise((theta ** (-2 * sp.sympify(m) / d), sp.sympify(m) < kept), (0, True))


def p_rope_keeps_highest_frequencies() -> Derivation:
    r"""p-RoPE keeps :math:`g_1 .. g_n` (full-``d`` exponent), highest first; ``p = 1`` is RoPE
    and ``p = 0`` is NoPE; re-spreading over ``2n`` coordinates changes every kept frequency
    but the first.

    >>> p_rope_keeps_highest_frequencies().holds
    True
    """
    d = 2 * h
    n_of = lambda p: sp.floor(p * d / 2)  # noqa: E731  (exact arithmetic: no rounding here)
    ratio = theta ** (-2 * (m_sym + 1) / d) / theta ** (-2 * m_sym / d)
    return derive(
        "p-RoPE rotates exactly the n = floor(p d / 2) highest standard frequencies",
        [
            ("p = 1 keeps all d/2 pairs", n_of(1) - h),
            ("p = 0 keeps none", n_of(0)),
            ("consecutive standard frequencies shrink by theta^(-2/d): the kept g_0..g_(n-1) are the highest",
             sp.powsimp(ratio) - theta ** (-1 / h)),
            ("kept pair m < n has frequency theta^(-2m/d) (the full d in the exponent)",
             p_rope_frequency(m_sym, d, n_sym).subs(m_sym, n_sym - 1) - theta ** (-2 * (n_sym - 1) / d)),
            ("pairs m >= n do not rotate", p_rope_frequency(n_sym, d, n_sym)),
            ("re-spreading over 2n coordinates scales pair m's log-frequency by d/(2n)",
             sp.expand_log(sp.log(theta ** (-2 * m_sym / (2 * n_sym))) / sp.log(theta ** (-2 * m_sym / d)), force=True)
             - d / (2 * n_sym)),
        ],
    )


def p_rope_unrotated_channels_ignore_distance() -> Derivation:
    r"""A pair with frequency 0 contributes :math:`q_1k_1 + q_2k_2` to :math:`a_{ij}` for every
    ``i, j``: it cannot see distance.

    >>> p_rope_unrotated_channels_ignore_distance().holds
    True
    """
    chunk = rot.chunk_logit(rot.i, rot.j, sp.Integer(0))
    return derive(
        "an unrotated pair's share of a_ij is the plain dot product, whatever i and j",
        [
            ("(rho(0 i) q)^T (rho(0 j) k) - (q1 k1 + q2 k2) = 0", chunk - (rot.q1 * rot.k1 + rot.q2 * rot.k2)),
            ("d/di = 0", sp.diff(chunk, rot.i)),
            ("d/dj = 0", sp.diff(chunk, rot.j)),
        ],
    )


def p_rope_partial_permutation(d: int, kept: int) -> list[int]:
    """Coordinates of a p-RoPE vector in partial-rotary order: ``x_partial = x_p[perm]``.

    p-RoPE pair ``m`` is ``(m, m + d/2)``; partial rotary's pair ``m < kept`` is
    ``(m, m + kept)`` and the unrotated coordinates follow in their original order.

    >>> p_rope_partial_permutation(8, 2)
    [0, 1, 4, 5, 2, 3, 6, 7]
    """
    half = d // 2
    rotated = list(range(kept)) + [half + m for m in range(kept)]
    rest = [c for c in range(d) if c not in rotated]
    return rotated + rest


def _rotation(d: int, freqs: list[sp.Expr], position: sp.Expr, pairs: list[tuple[int, int]]) -> sp.Matrix:
    mat = sp.eye(d)
    for (a, b), freq in zip(pairs, freqs):
        t = position * freq
        mat[a, a], mat[a, b], mat[b, a], mat[b, b] = sp.cos(t), -sp.sin(t), sp.sin(t), sp.cos(t)
    return mat


def p_rope_equals_partial_rotary_with_scaled_base(d: int = 8, kept: int = 2) -> Derivation:
    r""":math:`(\theta^{2n/d})^{-2m/(2n)} = \theta^{-2m/d}`, and for ``d = 8, n = 2`` with
    symbolic base and position, :math:`P R_{p}(i) P^\top = R_{partial}(i; \theta^{2n/d})`.

    >>> p_rope_equals_partial_rotary_with_scaled_base().holds
    True
    """
    i = sp.Symbol("i", integer=True)
    half = d // 2
    p_freqs = [theta ** sp.Rational(-2 * m, d) for m in range(kept)]
    scaled = theta ** sp.Rational(2 * kept, d)
    partial_freqs = [scaled ** sp.Rational(-2 * m, 2 * kept) for m in range(kept)]
    p_matrix = _rotation(d, p_freqs, i, [(m, m + half) for m in range(kept)])
    partial_matrix = _rotation(d, partial_freqs, i, [(m, m + kept) for m in range(kept)])
    perm = p_rope_partial_permutation(d, kept)
    permute = sp.zeros(d, d)
    for row, col in enumerate(perm):
        permute[row, col] = 1
    return derive(
        "p-RoPE(p, theta) = partial rotary over 2n coordinates with base theta^(2n/d), up to a permutation",
        [
            ("(theta^(2n/d))^(-2m/(2n)) = theta^(-2m/d)",
             sp.powsimp(sp.powdenest((theta ** (2 * n_sym / (2 * h))) ** (-2 * m_sym / (2 * n_sym)), force=True))
             - theta ** (-m_sym / h)),
            (f"d = {d}, n = {kept}: P R_p(i) P^T - R_partial(i; theta^(2n/d)) = 0",
             (permute * p_matrix * permute.T - partial_matrix).applyfunc(sp.powsimp)),
        ],
    )
