"""A key below the row's maximum logit gets less than half the attention (Lemma A.3)."""

from __future__ import annotations

import jax
import numpy as np
import sympy as sp

from ropelab.theory import softmax_bounds as th_sb

from .. import tolerances as tol
from ..claim import Claim, Evidence, Part, Shown, Symbolic, Trust, Variant
from ..laws import AtMost, Point, judge
from ..scope import NumericScope, Range
from . import _common as c

__all__ = ["CLAIMS"]

SECTION = "§5 positional heads"

LEMMA_WIDTH = 64  # keys per logit vector at most (absent keys are -inf)

NON_ARGMAX_BELOW_HALF = Claim(
    id="non_argmax_softmax_weight_below_half",
    label="Lemma A.3",
    section=SECTION,
    statement="If a_i < a_j for some j, then softmax(a)_i < 1/2.",
    symbolic=Symbolic(th_sb.non_argmax_softmax_weight_below_half,
                      Shown(Trust.PROVED, "any number n >= 2 of real logits (the n - 2 other keys as a symbolic sum), "
                                          "any gap a_j - a_i > 0")),
    parts=(Part("If a_i < a_j for some j, then softmax(a)_i < 1/2", ("symbolic", "numeric")),),
    law={"below one half": AtMost("weight - 1/2 over non-maximal keys (negative: strictly below)"),
         "two-key bound": AtMost("weight / ((1 + n x 16 eps64) / (1 + e^gap)) - 1")},
    check=lambda weights_of, quick, rng: _lemma_a3(weights_of, quick, rng),
    construction=Variant(lambda a: np.asarray(jax.nn.softmax(a, axis=-1)), "JAX's softmax"),
    wrong=Variant(lambda a: np.exp(a - np.max(a, axis=-1, keepdims=True)),
                  "exponentials divided by the largest one instead of their sum"),
    numeric=Shown(Trust.CHECKED, "5000 random logit vectors of 2..64 keys at scales 1e-2..1e2 and 12 near-ties "
                                 "(top two 10^-k apart, k = 1..12), float64"),
    tolerance_reason="weight - 1/2 must be negative (float64 resolves it for gaps above ~1e-15) and the "
    "weight within n x 16 eps64 (relative) of the two-key bound",
    explain=lambda: _explain(),
    errata=("E8",),
    seed=50,
    numeric_scope=NumericScope(
        (Range("n", 2, LEMMA_WIDTH, "integer"), Range("scale", 1e-2, 1e2, "log"), Range("gap", 1e-12, 1e-1, "log"),
         Range("seed", 0, 2**31, "integer")),
        probe=lambda n, scale, gap, seed: _lemma_a3_at(n, scale, gap, seed),
        edges=({"n": 2, "scale": 1e-2, "gap": 1e-12, "seed": 1}, {"n": 64, "scale": 1e2, "gap": 0.1, "seed": 2})),
)

CLAIMS = [NON_ARGMAX_BELOW_HALF]


def _logit_vectors(quick: bool, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """Random logit vectors (rows, padded with -inf to 64 keys) plus near-ties approaching 1/2."""
    rows, kinds = [], []
    for _ in range(200 if quick else 5000):
        n = int(rng.integers(2, LEMMA_WIDTH + 1))
        rows.append(rng.standard_normal(n) * 10.0 ** rng.uniform(-2, 2))
        kinds.append("random")
    for k in range(1, 13):  # top two 10^-k apart, the rest far below: the weight nears 1/2 from below
        a = np.full(8, -60.0)
        a[:2] = (5.0, 5.0 + 10.0**-k)
        rows.append(a)
        kinds.append(f"near-tie 1e-{k}")
    return _padded(rows), kinds


def _padded(rows: list[np.ndarray]) -> np.ndarray:
    out = np.full((len(rows), LEMMA_WIDTH), -np.inf)
    for i, a in enumerate(rows):
        out[i, : a.size] = a
    return out


def _lemma_a3_at(n: int, scale: float, gap: float, seed: int) -> Evidence:
    """The numeric side at one point of its scope: a seeded vector of ``n`` logits at ``scale``, and
    a near-tie whose top two logits are ``gap`` apart."""
    tie = np.full(8, -60.0)
    tie[:2] = (5.0, 5.0 + gap)
    rows = [np.random.default_rng(seed).standard_normal(n) * scale, tie]
    weights = NON_ARGMAX_BELOW_HALF.construction.build
    return judge(NON_ARGMAX_BELOW_HALF.law, lemma_a3_rows(weights, _padded(rows), ["random", f"near-tie {gap:g}"]))


def _lemma_a3(weights_of, quick: bool, rng: np.random.Generator) -> dict[str, list[Point]]:
    a, kinds = _logit_vectors(quick, rng)
    return lemma_a3_rows(weights_of, a, kinds)


def lemma_a3_rows(weights_of, a: np.ndarray, kinds: list[str]) -> dict[str, list[Point]]:
    """Each row of logits ``a`` (absent keys -inf): every non-maximal weight below 1/2 and within the two-key bound."""
    w = weights_of(a)
    top = np.max(a, axis=-1, keepdims=True)
    below = np.isfinite(a) & (a < top)
    gap = np.where(below, top - a, 1.0)
    gap_symbol = sp.Symbol("t", positive=True)
    two_key = sp.lambdify(gap_symbol, th_sb.two_key_bound()(gap_symbol), "numpy")(gap)
    n = np.sum(np.isfinite(a), axis=-1, keepdims=True)
    over_half = np.where(below, w - 0.5, -np.inf)
    over_bound = np.where(below, w / (two_key * (1 + n * tol.SOFTMAX_ROUNDING.value)) - 1.0, -np.inf)
    half_points, bound_points = [], []
    for row, kind in enumerate(kinds):
        col = int(np.argmax(over_half[row]))
        params = {"vector": row, "kind": kind, "n": int(n[row, 0]), "gap_to_max": float(gap[row, col])}
        half_points.append(Point(params, value=float(over_half[row, col]), limit=0.0,
                                 extra={"weight": float(w[row, col])}))
        col = int(np.argmax(over_bound[row]))
        bound_points.append(Point({**params, "gap_to_max": float(gap[row, col])}, value=float(over_bound[row, col]),
                                  limit=0.0, extra={"two_key_bound": float(two_key[row, col])}))
    return {"below one half": half_points, "two-key bound": bound_points}


def _explain() -> str:
    a = np.array([2.0, 2.3, -1.0])
    w = np.asarray(jax.nn.softmax(a))
    wrong = np.exp(a - a.max())
    return (
        f"Logits a = {a.tolist()}: softmax = {np.round(w, 4).tolist()}.\n"
        f"a_0 = 2.0 < a_1 = 2.3, so softmax_0 <= 1/(1 + e^0.3) = {c.fmt(1 / (1 + np.exp(0.3)), 6)} < 1/2: "
        f"it is {c.fmt(w[0], 6)}.\n"
        "Whatever the other keys do, a key that is not the unique maximum cannot take half the "
        "attention (proof: 1/2 - softmax_i = (E U + R)/(2(E(2+U) + R)) > 0, for any number of keys).\n"
        f"Forgetting the normalisation (dividing by the largest exponential) gives {np.round(wrong, 4).tolist()}, "
        "a non-maximal weight above 1/2: the check rejects it."
    )
