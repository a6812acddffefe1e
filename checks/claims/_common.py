"""Helpers shared by the claim modules: grids, seeded draws, SymPy sides made numeric."""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from ropelab.theory import rotations as th

from ..reference import paper_facts, peer_vectors  # noqa: F401  (the claims read them as c.*)

__all__ = [
    "BASES",
    "HEAD_DIMS",
    "LONGEST_POSITION",
    "fmt",
    "halves",
    "pair_rotation_function",
    "paper_facts",
    "peer_vectors",
    "rng",
    "symbolic_logit",
    "theory_frequencies",
]

HEAD_DIMS = (2, 8, 64, 256)
BASES = (1e4, 5e5)
LONGEST_POSITION = 10**7


def rng(seed: int) -> np.random.Generator:
    """A NumPy generator with a fixed seed (every claim records its seed)."""
    return np.random.default_rng(seed)


def theory_frequencies(d: int, theta: float) -> np.ndarray:
    r"""The SymPy side's frequencies :math:`g_k = \theta^{-2(k-1)/d}`, evaluated to float64.

    Independent of :func:`ropelab.constructions.frequencies.rope`: SymPy evaluates the exact
    power to 20 digits and rounds once, at the float ``theta``'s exact binary value (held exactly
    by a 40-digit Float; a decimal guess such as ``nsimplify`` makes is another base, and SymPy
    factors the numerators of some exact rationals for a very long time or fails).
    """
    theta_exact = sp.Float(theta, 40)
    return np.array(
        [float(sp.N(th.frequency(k, d, theta_exact), 20)) for k in range(1, d // 2 + 1)],
        dtype=np.float64,
    )


@functools.cache
def chunk_logit_function():
    """The SymPy chunk logit ``(rho(ig) q)^T (rho(jg) k)`` lambdified for NumPy arrays.

    Arguments ``(q1, q2, k1, k2, i, j, g)``; the expression is the relative form SymPy
    derived in :func:`ropelab.theory.rotations.chunk_logit`.
    """
    expr = th.chunk_logit()
    return sp.lambdify((th.q1, th.q2, th.k1, th.k2, th.i, th.j, th.g), expr, "numpy")


@functools.cache
def pair_rotation_function():
    """SymPy's ``rho(n a) x`` lambdified: ``(n, a, x1, x2) -> (y1, y2)``."""
    x = sp.Matrix([th.q1, th.q2])
    y = th.rho(th.n * th.a) * x
    return sp.lambdify((th.n, th.a, th.q1, th.q2), (y[0], y[1]), "numpy")


def halves(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pair coordinates of the half layout: ``(x[..., :d/2], x[..., d/2:])``."""
    x = np.asarray(x)
    d = x.shape[-1]
    return x[..., : d // 2], x[..., d // 2 :]


def symbolic_logit(q: np.ndarray, k: np.ndarray, i: np.ndarray, j: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Sum over pairs of the SymPy chunk logit; ``i``, ``j`` broadcast over a leading axis."""
    f = chunk_logit_function()
    q1, q2 = halves(q)
    k1, k2 = halves(k)
    i = np.asarray(i, dtype=np.float64)[..., None]
    j = np.asarray(j, dtype=np.float64)[..., None]
    return np.sum(f(q1, q2, k1, k2, i, j, g), axis=-1)


def fmt(x: float, digits: int = 4) -> str:
    """Short numeric formatting for explain texts."""
    return np.format_float_positional(float(x), precision=digits, unique=True, trim="-")
