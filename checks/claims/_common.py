"""Helpers shared by the claim modules: grids, seeded draws, SymPy sides made numeric."""

from __future__ import annotations

import functools
from collections.abc import Callable
from statistics import NormalDist
from typing import Any

import numpy as np
import sympy as sp

from ropelab.theory import rotations as th

from ..laws import StandardErrors, judge
from ..scope import NumericScope, Range
from ..reference import paper_facts, peer_vectors  # noqa: F401  (the claims read them as c.*)

__all__ = [
    "BASES",
    "HEAD_DIMS",
    "LONGEST_POSITION",
    "family_standard_errors",
    "fixed_instance",
    "fmt",
    "halves",
    "other_seeds",
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


# Monte Carlo scopes: the chance that any of the scope's comparisons (every point of every probe)
# leaves k standard errors by chance alone, under the hypothesis, is at most this.
FAMILY_FALSE_ALARM = 1e-3


def run_at_seed(claim: Any, seed: int, quick: bool = False, standard_errors: float | None = None) -> Any:
    """The claim's numeric side with its own construction, drawn from seed ``seed``, judged by its law.

    ``run_at_seed(claim, claim.seed, quick)`` is what the runner measures. ``standard_errors``
    replaces the ``k`` of every :class:`~ropelab.checks.laws.StandardErrors` law (for a family of
    seeds, where more comparisons need a wider band to keep the same false-alarm rate).
    """
    measured = claim.check(claim.construction.build, quick, rng(seed))
    law = claim.law
    if standard_errors is not None:
        swap = lambda one: StandardErrors(standard_errors) if isinstance(one, StandardErrors) else one  # noqa: E731
        law = {name: swap(one) for name, one in law.items()} if isinstance(law, dict) else swap(law)
    return judge(law, measured)


def family_standard_errors(comparisons: int, least: float) -> float:
    """The two-sided normal quantile that keeps ``comparisons`` tests' false alarms below
    :data:`FAMILY_FALSE_ALARM` together (Bonferroni), and never below ``least``.

    >>> round(family_standard_errors(1000, 5.0), 2)
    5.0
    >>> round(family_standard_errors(10**6, 5.0), 2)
    6.11
    """
    return max(least, NormalDist().inv_cdf(1 - FAMILY_FALSE_ALARM / (2 * comparisons)))


def other_seeds(claim: Callable[[], Any], seed: int, draws: int = 6, slow: bool = False) -> NumericScope:
    """A Monte Carlo claim's scope: its printed grid under any seed in [0, 2^31 - 1], its own ``seed`` pinned.

    Every probe runs the full printed check (its draws, its grid) at one seed. Its standard-error
    band is derived for the number of comparisons the whole scope makes: (``draws`` + the two
    corners + the pinned seed) probes times the points of one probe, so the test stays
    deterministic and its false-alarm rate below :data:`FAMILY_FALSE_ALARM`.
    """
    probes = draws + 3

    def probe(seed: int) -> Any:
        one = claim()
        measured = one.check(one.construction.build, False, rng(seed))
        laws = one.law if isinstance(one.law, dict) else {"": one.law}
        parts = measured if isinstance(measured, dict) else {"": measured}
        least = max((law.k for law in laws.values() if isinstance(law, StandardErrors)), default=0.0)
        points = sum(len(parts[name]) for name, law in laws.items() if isinstance(law, StandardErrors))
        k = family_standard_errors(max(points, 1) * probes, least)
        swap = lambda law: StandardErrors(k) if isinstance(law, StandardErrors) else law  # noqa: E731
        return judge({n: swap(law) for n, law in one.law.items()} if isinstance(one.law, dict) else swap(one.law),
                     measured)

    return NumericScope((Range("seed", 0, 2**31 - 1, "integer"),), probe=probe, edges=({"seed": seed},),
                        draws=draws, slow=slow,
                        notes="the printed grid and number of draws under other seeds; any band in standard "
                              "errors derived for every comparison of the scope together")


def fixed_instance(claim: Callable[[], Any], what: str, slow: bool = False) -> NumericScope:
    """A claim whose printed numeric scope is one fixed instance (``what``): a scope of that one point.

    Its probe is the claim's full check (not ``--quick``) at the claim's own seed.
    """
    return NumericScope((Range("instance", 0, 0, "integer"),),
                        probe=lambda instance: run_at_seed(claim(), claim().seed),
                        draws=1, slow=slow, notes=f"one fixed instance: {what}")
