r"""Lemma A.1: a nonzero algebraic frequency never completes a whole number of turns.

If :math:`n g = 2\pi m` for integers :math:`n \ne 0` and ``m``, then either ``m = 0`` (so
``n g = 0``, impossible for :math:`g \ne 0`) or :math:`\pi = n g / (2m)` would be algebraic,
because algebraic numbers form a field. Lindemann (1882): :math:`\pi` is transcendental. Hence
:math:`\cos(n g) < 1` for every integer :math:`n \ne 0`. Every RoPE frequency
:math:`g_k = \theta^{-2(k-1)/d}` with integer :math:`\theta` is algebraic, and so is every
float64 number (a dyadic rational), which is why the lemma also covers the frequencies a
program actually uses. How *close* ``n g`` comes to a full turn is
:mod:`ropelab.theory.diophantine`'s business.
"""

from __future__ import annotations

import sympy as sp

from .derivation import Derivation
from . import rotations

__all__ = ["frequency_multiple_never_full_turn", "is_algebraic_frequency"]


def _step(description: str, ok: bool | None) -> tuple[str, bool]:
    # SymPy's three-valued logic: only an explicit True counts as proved.
    return (f"{'proved' if ok is True else 'NOT proved'}: {description}", ok is True)


def frequency_multiple_never_full_turn() -> Derivation:
    r"""SymPy's version of Lemma A.1, for symbolic integers and a symbolic algebraic frequency.

    Steps (each a fact SymPy's assumption system or ``solveset`` confirms):

    1. :math:`\cos x = 1` exactly on :math:`2\pi\mathbb{Z}` (``solveset`` over the reals);
    2. :math:`g_k = \theta^{-2(k-1)/d}` (:func:`ropelab.theory.rotations.frequency`) is algebraic
       for positive integers :math:`\theta`, ``k``, ``d`` (a rational power of an integer; every
       RoPE frequency, for symbolic :math:`\theta`, ``k``, ``d``);
    3. for nonzero integers ``n``, ``m`` and algebraic :math:`g \ne 0`, :math:`n g / (2m)` is
       algebraic, while :math:`\pi` is transcendental, so :math:`n g \ne 2\pi m`;
    4. :math:`n g \ne 0` (the case ``m = 0``).

    Reference: Barbero et al. (2025) Lemma A.1; claim ``frequency_multiple_never_full_turn``.

    >>> frequency_multiple_never_full_turn().holds
    True
    """
    x = sp.Symbol("x", real=True)
    n, m = sp.symbols("n m", integer=True, nonzero=True)
    theta = sp.Symbol("theta", integer=True, positive=True)
    k = sp.Symbol("k", integer=True, positive=True)
    d = sp.Symbol("d", integer=True, positive=True)
    g = sp.Symbol("g", algebraic=True, nonzero=True)
    ones = sp.solveset(sp.cos(x) - 1, x, sp.S.Reals)
    # solveset returns {2*pi*_n : _n in Z} with its own dummy variable; compare structurally
    is_full_turns = (
        isinstance(ones, sp.ImageSet)
        and ones.base_sets == (sp.S.Integers,)
        and sp.simplify(ones.lamda.expr - 2 * sp.pi * ones.lamda.variables[0]) == 0
    )
    steps = [
        _step("cos(x) = 1 exactly for x in 2*pi*Z (solveset over the reals)",
              is_full_turns),
        _step("g_k = theta^(-2(k-1)/d) is algebraic for integers theta, k, d > 0 (a rational power of an integer)",
              rotations.frequency(k, d, theta).is_algebraic),
        _step("n*g/(2*m) is algebraic for nonzero integers n, m and algebraic g",
              (n * g / (2 * m)).is_algebraic),
        _step("pi is transcendental (Lindemann), so n*g/(2*m) != pi, i.e. n*g != 2*pi*m",
              sp.pi.is_transcendental),
        _step("n*g != 0 for n != 0 and g != 0 (the case m = 0)", (n * g).is_nonzero),
    ]
    return Derivation(
        statement="for algebraic g != 0 and integer n != 0, n g is not a multiple of 2 pi, so cos(n g) < 1",
        holds=all(ok for _, ok in steps),
        steps=tuple(text for text, _ in steps),
    )


def is_algebraic_frequency(k: int, d: int, theta: int) -> bool:
    r"""True when SymPy confirms :math:`g_k = \theta^{-2(k-1)/d}` is algebraic (integer ``theta``).

    >>> is_algebraic_frequency(3, 8, 10_000), is_algebraic_frequency(1, 2, 500_000)
    (True, True)
    """
    return rotations.frequency(k, d, sp.Integer(theta)).is_algebraic is True
