r"""Softmax bounds: a logit below another gets less than half the weight; equal logits share it.

Lemma A.3 of Barbero et al. (2025), the NoPE impossibility of Prop 5.2 on ``[bos, x, x]`` and
its generalisation to a token repeated ``c`` times. Each derivation reduces to identities
(checked by :func:`ropelab.theory.derivation.is_zero`) and sign facts that SymPy settles from
the symbols' assumptions (exponentials are positive symbols, sums of the other keys'
exponentials are non-negative symbols).
"""

from __future__ import annotations

import sympy as sp

from .derivation import Derivation, is_zero
from .rotations import rho

__all__ = [
    "derive_with_signs",
    "non_argmax_softmax_weight_below_half",
    "nope_cannot_be_diagonal_or_previous_token",
    "nope_repeated_pair_weight",
    "nope_weight_bounded_by_repeat_count",
    "sign_holds",
    "two_key_bound",
]

# exp of a logit is a positive number; the other keys' exponentials sum to R >= 0
E = sp.Symbol("E", positive=True)  # e^{a_i}
U = sp.Symbol("U", positive=True)  # e^{a_j - a_i} - 1 > 0 when a_j > a_i
R = sp.Symbol("R", nonnegative=True)
a31, a33 = sp.symbols("a_31 a_33", real=True)
c = sp.Symbol("c", positive=True, integer=True)


def sign_holds(expr: sp.Expr, kind: str = "positive") -> bool:
    """True when SymPy proves ``expr > 0`` (``kind="positive"``) or ``expr >= 0`` (``"nonnegative"``).

    The expression is brought to one fraction; the numerator is expanded so that its sign
    follows from the symbols' assumptions, and the denominator must be positive. "Could not
    prove" is False.

    >>> sign_holds(U / (2 * (U + 2)))
    True
    >>> sign_holds(U - 1)
    False
    """
    if kind not in ("positive", "nonnegative"):
        raise ValueError(f"kind must be 'positive' or 'nonnegative', got {kind!r}")
    num, den = sp.fraction(sp.factor(sp.together(sp.sympify(expr))))
    num, den = sp.expand(num), sp.expand(den)
    num_ok = num.is_positive if kind == "positive" else num.is_nonnegative
    return bool(num_ok) and bool(den.is_positive)


def derive_with_signs(
    statement: str,
    identities: list[tuple[str, sp.Expr]],
    signs: list[tuple[str, sp.Expr, str]],
) -> Derivation:
    """A derivation made of identities (residuals that must vanish) and sign facts.

    ``signs`` holds ``(description, expression, "positive" | "nonnegative")``.

    >>> derive_with_signs("1/2 > 1/(U+2)", [], [("gap", sp.Rational(1, 2) - 1 / (U + 2), "positive")]).holds
    True
    """
    steps, holds = [], True
    for description, residual in identities:
        ok = is_zero(residual)
        holds = holds and ok
        steps.append(f"{'proved' if ok else 'NOT proved'}: {description}")
    for description, expr, kind in signs:
        ok = sign_holds(expr, kind)
        holds = holds and ok
        steps.append(f"{'proved' if ok else 'NOT proved'}: {description}")
    return Derivation(statement=statement, holds=holds, steps=tuple(steps))


def two_key_bound() -> sp.Lambda:
    r"""The two-key bound :math:`1/(1 + e^{t})` on a weight whose logit sits ``t > 0`` below another's.

    >>> two_key_bound()(0)
    1/2
    """
    gap = sp.Symbol("t", positive=True)
    return sp.Lambda(gap, 1 / (1 + sp.exp(gap)))


def non_argmax_softmax_weight_below_half() -> Derivation:
    r"""Lemma A.3: if :math:`a_i < a_j` for some ``j`` then :math:`\mathrm{softmax}(a)_i < 1/2`, for any ``n``.

    With :math:`E = e^{a_i}`, :math:`e^{a_j} = E(1+U)`, ``U > 0``, and the other ``n - 2``
    keys' exponentials summing to :math:`R = \sum_{m=1}^{n-2} e^{a_m} \ge 0` (``n`` symbolic),
    :math:`\tfrac12 - \frac{E}{E + E(1+U) + R} = \frac{EU + R}{2(E(2+U) + R)} > 0`; the two-key
    bound :func:`two_key_bound` at the gap :math:`\ln(1+U) = a_j - a_i` sits in between.

    >>> non_argmax_softmax_weight_below_half().holds
    True
    """
    m = sp.Symbol("m", integer=True, positive=True)
    rest = sp.Symbol("n_rest", integer=True, positive=True)  # n - 2 >= 1 other keys (none: R = 0)
    others = sp.Sum(sp.exp(sp.IndexedBase("a", real=True)[m]), (m, 1, rest))
    weight = E / (E + E * (1 + U) + R)
    two_key = two_key_bound()(sp.log(1 + U))
    derivation = derive_with_signs(
        "a_i < a_j implies softmax(a)_i < 1/2, for any number n of logits",
        [("1/2 - softmax_i = (E U + R) / (2 (E (2 + U) + R))",
          sp.Rational(1, 2) - weight - (E * U + R) / (2 * (E * (2 + U) + R)))],
        [
            ("softmax_i <= 1/(1 + e^(a_j - a_i)) (dropping the other keys only grows it)", two_key - weight, "nonnegative"),
            ("1/(1 + e^(a_j - a_i)) < 1/2 because e^(a_j - a_i) > 1", sp.Rational(1, 2) - two_key, "positive"),
            ("hence 1/2 - softmax_i > 0", sp.Rational(1, 2) - weight, "positive"),
        ],
    )
    others_ok = bool(others.is_nonnegative)
    return Derivation(derivation.statement, derivation.holds and others_ok, (
        f"{'proved' if others_ok else 'NOT proved'}: the other n - 2 keys (n symbolic) add "
        "R = sum_(m=1)^(n-2) e^(a_m) >= 0 to the denominator (R = 0 when n = 2)",) + derivation.steps)


def nope_repeated_pair_weight() -> sp.Lambda:
    r"""Prop 5.2's closed form :math:`\alpha_{33} = 1/(e^{a_{31} - a_{33}} + 2)` as a function of
    ``(a_31, a_33)`` (``a_32 = a_33`` under NoPE)."""
    return sp.Lambda((a31, a33), 1 / (sp.exp(a31 - a33) + 2))


def nope_cannot_be_diagonal_or_previous_token() -> Derivation:
    r"""Prop 5.2: on ``[bos, x, x]`` every NoPE head has :math:`\alpha_{33} < 1/2`, :math:`\alpha_{32} < 1/2`.

    Without rotation the keys of the two ``x`` tokens are one vector, so :math:`a_{32} = a_{33}`
    and :math:`\alpha_{32} = \alpha_{33} = e^{a_{33}}/(e^{a_{31}} + 2e^{a_{33}})
    = 1/(e^{a_{31}-a_{33}} + 2)`; with :math:`e^{a_{31}-a_{33}} = V > 0` this is below 1/2 by
    :math:`V / (2(V+2))`.

    >>> nope_cannot_be_diagonal_or_previous_token().holds
    True
    """
    q1, q2, k1, k2 = sp.symbols("q1 q2 k1 k2", real=True)
    i, j = sp.symbols("i j", integer=True)
    q, k_x = sp.Matrix([q1, q2]), sp.Matrix([k1, k2])
    # NoPE: every pair has frequency 0, so R^i = rho(i * 0) = I for every position
    nope_logit = lambda pos_q, pos_k: ((rho(pos_q * 0) * q).T * (rho(pos_k * 0) * k_x))[0]  # noqa: E731
    alpha33 = sp.exp(a33) / (sp.exp(a31) + 2 * sp.exp(a33))
    closed = nope_repeated_pair_weight()(a31, a33)
    V = sp.Symbol("V", positive=True)  # e^{a_31 - a_33}
    # every head dimension: each of the P pairs has frequency 0, so each pair's logit is q_k . k_k
    kk, P = sp.symbols("k P", integer=True, positive=True)
    qa, qb, ka, kb = (sp.IndexedBase(name, real=True) for name in ("qa", "qb", "ka", "kb"))
    pair_q, pair_k = sp.Matrix([qa[kk], qb[kk]]), sp.Matrix([ka[kk], kb[kk]])
    pair_term = ((rho(i * 0) * pair_q).T * (rho(j * 0) * pair_k))[0] - (pair_q.T * pair_k)[0]
    every_d = sp.Sum(sp.simplify(pair_term), (kk, 1, P)).doit()
    return derive_with_signs(
        "on [bos, x, x] a NoPE head has alpha_33 = alpha_32 = 1/(exp(a_31 - a_33) + 2) < 1/2",
        [
            ("a_32 = a_33: the two x keys are one vector under NoPE", nope_logit(3, 2) - nope_logit(3, 3)),
            ("the logit of a repeated token does not depend on its position", nope_logit(i, j) - (q.T * k_x)[0]),
            ("every d (P pairs, P symbolic): a_ij = sum_k q_k . k_k at every pair of positions", every_d),
            ("alpha_33 = 1/(exp(a_31 - a_33) + 2)", alpha33 - closed),
        ],
        [("1/2 - 1/(V + 2) = V/(2(V + 2)) > 0, so alpha_33 = alpha_32 < 1/2", sp.Rational(1, 2) - 1 / (V + 2), "positive")],
    )


def nope_weight_bounded_by_repeat_count() -> Derivation:
    r"""A token present ``c`` times up to row ``i`` gets :math:`\alpha_{ii} \le 1/c` under NoPE.

    Its ``c`` copies share one logit ``a`` (no rotation), so each gets
    :math:`e^a / (c e^a + R)` with ``R >= 0`` the other keys, and
    :math:`1/c - e^a/(c e^a + R) = R / (c(c e^a + R)) \ge 0`.

    >>> nope_weight_bounded_by_repeat_count().holds
    True
    """
    weight = E / (c * E + R)
    return derive_with_signs(
        "a token repeated c times up to row i has alpha_ii <= 1/c under NoPE",
        [("1/c - alpha_ii = R / (c (c E + R))", 1 / c - weight - R / (c * (c * E + R)))],
        [("R / (c (c E + R)) >= 0", 1 / c - weight, "nonnegative")],
    )
