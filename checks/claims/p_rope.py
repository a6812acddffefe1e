"""p-RoPE keeps the highest frequencies, its unrotated pairs ignore distance, and it is partial rotary with a scaled base (Sec 6.1)."""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from ropelab.constructions import frequencies, p_rope, rotary
from ropelab.theory import p_rope as th_p
from ropelab.theory import rotations as rot
from ropelab.theory.derivation import Derivation, combine

from .. import tolerances as tol
from ..claim import Claim, Part, Shown, Symbolic, Trust, Variant
from ..laws import Identity, Point, ZeroCount
from ..scope import NumericScope, Range
from . import _common as c

__all__ = ["CLAIMS"]

SECTION = "§6 semantic channels, p-RoPE, base"
P_GRID = (0.0, 0.25, 0.5, 0.58, 0.75, 1.0)
PERMUTATION_DIMS = range(2, 66, 2)  # every even d <= 64, every kept count: the finite check of the index map

KEEPS = Claim(
    id="p_rope_keeps_highest_frequencies",
    label="Sec 6.1, App D",
    section=SECTION,
    statement="p-RoPE rotates exactly the pairs g_1..g_n, n = int(p*d//2) (evaluated in binary floating point: "
              "the exact floor(p d/2) can differ), with the full d in the exponent, and leaves the rest at frequency 0; "
              "p = 1 is RoPE, p = 0 is NoPE.",
    symbolic=Symbolic(lambda: _keeps_symbolic(),
                      Shown(Trust.PROVED, "every even d = 2h, every real p in [0, 1] and pair index m (symbolic h, p, n, m; "
                                          "exact arithmetic, so the count is the exact floor(p h), not the IEEE one): "
                                          "0 <= n = floor(p h) <= h; p_rope_frequency is theta^(-2m/d) for m < n "
                                          "and 0 for m >= n; n = h at p = 1 and 0 at p = 0")),
    parts=(Part("p-RoPE rotates exactly the pairs g_1..g_n, with the full d in the exponent, and leaves the rest at "
                "frequency 0; p = 1 is RoPE, p = 0 is NoPE", ("symbolic", "numeric")),
           Part("n = int(p*d//2) (evaluated in binary floating point: the exact floor(p d/2) can differ)", ("numeric",))),
    errata=("E13",),
    law={"frequencies": Identity("frequency error / 8 x 2 x eps64 (1 rad angles)"),
         "float hazards": ZeroCount("(p, d) where the schedule does not follow the IEEE count")},
    check=lambda schedule, quick, rng: _keeps(schedule, quick),
    construction=Variant(lambda d, theta, p: frequencies.p_rope(d, theta, p), "the p-RoPE schedule"),
    wrong=Variant(lambda d, theta, p: _respread_schedule(d, theta, p),
                  "partial rotary's re-spread schedule theta^(-2m/2n) on the kept pairs"),
    numeric=Shown(Trust.CHECKED, "d in {8, 64, 100, 256} ({8, 100} quick), theta in {1e4, 5e5}, "
                                 "p in {0, 0.25, 0.5, 0.58, 0.75, 1}; every two-decimal p with even d <= 512 "
                                 "(128 quick) for the count"),
    tolerance_reason="frequencies read back from R^1 (angles <= 1 rad) within 8 x 2 x eps64 of SymPy's "
                     "p_rope_frequency; the count of rotating pairs exactly the IEEE value of int(p*d//2)",
    explain=lambda: _explain_keeps(),
    corrected="The count is int(p*d//2) evaluated in binary floating point (as Gemma and HF do): p = 0.58, "
              "d = 100 keeps 28 pairs, not 29.",
    figures=("frequency_spectra",),
    numeric_scope=NumericScope(
        (Range("d", 2, 512, "even"), Range("theta", 1e4, 5e5, "log"), Range("p", 0.0, 1.0)),
        probe=lambda d, theta, p: KEEPS.law["frequencies"].judge(
            [keeps_at(KEEPS.construction.build, _expected_frequencies(), d, theta, p)]),
        edges=({"d": 100, "theta": 1e4, "p": 0.58}, {"d": 2, "theta": 5e5, "p": 0.5}, {"d": 512, "theta": 1e4, "p": 1.0},
               {"d": 8, "theta": 1e4, "p": 0.0})),
)

UNROTATED = Claim(
    id="p_rope_unrotated_channels_ignore_distance",
    label="Sec 6.1",
    section=SECTION,
    statement="Under p-RoPE, the contribution of the unrotated pairs to a_ij is q_u . k_u for every i, j.",
    symbolic=Symbolic(th_p.p_rope_unrotated_channels_ignore_distance,
                      Shown(Trust.PROVED, "a pair of frequency 0 with symbolic q, k and positions i, j")),
    parts=(Part("Under p-RoPE, the contribution of the unrotated pairs to a_ij is q_u . k_u for every i, j",
                ("symbolic", "numeric")),),
    law=Identity("error / 8 x d x eps64 x |q||k| (angle 0)"),
    check=lambda schedule, quick, rng: _unrotated(schedule, quick, rng),
    construction=Variant(lambda d, theta, p: frequencies.p_rope(d, theta, p), "the p-RoPE schedule"),
    wrong=Variant(lambda d, theta, p: _slowest_instead_of_zero(d, theta, p),
                  "the dropped pairs given the slowest standard frequency instead of 0"),
    numeric=Shown(Trust.CHECKED, "d in {8, 64, 256} ({8, 256} quick), theta in {1e4, 5e5}, p in {0.25, 0.75}, "
                                 "random q, k, positions up to 10^7"),
    tolerance_reason="8 ops x d x eps64 x |q||k| (rotation by angle 0 is exact; only the sum rounds); "
                     "positions up to 10^7",
    explain=lambda: _explain_unrotated(),
    seed=64,
    numeric_scope=NumericScope(
        (Range("d", 2, 256, "even"), Range("theta", 1e4, 5e5, "log"), Range("p", 0.0, 1.0)),
        probe=lambda d, theta, p: UNROTATED.law.judge([unrotated_at(UNROTATED.construction.build, _dot_function(), d,
                                                                    theta, p, np.random.default_rng(64), 16)]),
        edges=({"d": 256, "theta": 1e4, "p": 0.0}, {"d": 256, "theta": 5e5, "p": 1.0}, {"d": 100, "theta": 1e4, "p": 0.58})),
)

PARTIAL = Claim(
    id="p_rope_equals_partial_rotary_with_scaled_base",
    label="beyond (peers)",
    section=SECTION,
    statement="p-RoPE(p, theta) equals prefix partial rotary over 2n coordinates with base theta^(2n/d), "
              "up to an explicit coordinate permutation.",
    symbolic=Symbolic(lambda: _partial_symbolic(),
                      Shown(Trust.PROVED, "every even d = 2h and kept count n <= h (symbolic h, n, m): the scaled "
                                          "base gives pair m the frequency theta^(-2m/d) and the index map sends "
                                          "p-RoPE's pair (m, m + h) to partial rotary's (m, m + n); the permutation "
                                          "function matches the index map for every d <= 64 and n <= d/2")),
    parts=(Part("p-RoPE(p, theta) equals prefix partial rotary over 2n coordinates with base theta^(2n/d), up to an "
                "explicit coordinate permutation", ("symbolic", "numeric")),),
    law=Identity("logit error / derived tolerance"),
    check=lambda base_of, quick, rng: _partial(base_of, quick, rng),
    construction=Variant(lambda d, theta, kept: p_rope.scaled_base(d, theta, kept), "the scaled base theta^(2n/d)"),
    wrong=Variant(lambda d, theta, kept: theta, "partial rotary with the unscaled base theta"),
    numeric=Shown(Trust.CHECKED, "d in {8, 64, 256} ({8, 256} quick), theta in {1e4, 5e5}, p in {0.25, 0.5, 0.75} "
                                 "(0.75 quick), random q, k, positions up to 10^6"),
    tolerance_reason="8 ops x d x (largest angle 10^6 + 1) x eps64 x max|q||k|",
    explain=lambda: _explain_partial(),
    figures=("frequency_spectra",),
    seed=65,
    numeric_scope=NumericScope(
        (Range("d", 8, 256, "even"), Range("theta", 1e4, 5e5, "log"), Range("p", 0.25, 0.75)),
        probe=lambda d, theta, p: PARTIAL.law.judge([partial_at(PARTIAL.construction.build, d, theta, p,
                                                                np.random.default_rng(65), 8)]),
        edges=({"d": 100, "theta": 1e4, "p": 0.58}, {"d": 8, "theta": 5e5, "p": 0.25}, {"d": 256, "theta": 1e4, "p": 0.75},
               {"d": 10, "theta": 123456.0, "p": 0.7})),
)

CLAIMS = [KEEPS, UNROTATED, PARTIAL]


# --- which pairs rotate ----------------------------------------------------------------------------

def _keeps_symbolic() -> Derivation:
    """p_rope_frequency against the standard frequency theta^(-m/h), for symbolic h, n and m."""
    h, n, j = sp.Symbol("h", positive=True, integer=True), sp.Symbol("n", positive=True, integer=True), \
        sp.Symbol("j", nonnegative=True, integer=True)
    theta = th_p.theta
    kept_index, dropped_index = n - 1 - j, n + j  # every m < n, every m >= n
    standard = theta ** (-kept_index / h)  # g_(m+1) = theta^(-2m/d) with d = 2h, written independently
    # every p in [0, 1] is 1/(1 + e) with e >= 0 (p = 0 is the limit e -> oo, n = 0 by the theory's own step)
    e = sp.Symbol("e", nonnegative=True)
    fraction = 1 / (1 + e)
    count = sp.floor(fraction * h)  # h - count = (h - p h) + frac(p h), both >= 0
    count_in_range = (count.is_nonnegative and sp.simplify(h - fraction * h).is_nonnegative
                      and sp.frac(fraction * h).is_nonnegative)
    return combine(
        "p-RoPE rotates exactly the n = floor(p d / 2) highest standard frequencies",
        [th_p.p_rope_keeps_highest_frequencies()],
        [
            ("every kept pair m = n - 1 - j: p_rope_frequency(m) = theta^(-m/h), the standard g_(m+1)",
             th_p.p_rope_frequency(kept_index, 2 * h, n) - standard),
            ("every dropped pair m = n + j: p_rope_frequency(m) = 0", th_p.p_rope_frequency(dropped_index, 2 * h, n)),
            ("every p in (0, 1]: 0 <= n = floor(p d/2) <= d/2, so the kept pairs are a prefix of the schedule",
             sp.Integer(0) if count_in_range else sp.Integer(1)),
            ("d = 8, theta = 100: p_rope_frequency(1) = rotations.frequency(2) (pair 2 of the standard schedule)",
             th_p.p_rope_frequency(1, 8, 2).subs(theta, 100) - rot.frequency(2, 8, 100)),
        ],
    )


def measured_frequencies(freqs: np.ndarray) -> np.ndarray:
    """Rotate each pair's first basis vector by R^1 and read its angle (|g| < pi)."""
    d = 2 * freqs.size
    basis = np.eye(d)[: d // 2]
    turned = np.asarray(rotary.apply(basis, np.ones(d // 2, dtype=np.int64), freqs))
    m = np.arange(d // 2)
    return np.arctan2(turned[m, m + d // 2], turned[m, m])


def _expected_frequencies():
    # lambdified at every run, so that the check reads the theory's closed form as it is now
    return sp.lambdify((sp.Symbol("m"), sp.Symbol("d"), sp.Symbol("n"), th_p.theta),
                       th_p.p_rope_frequency(sp.Symbol("m"), sp.Symbol("d"), sp.Symbol("n")), "numpy")


def keeps_at(schedule, expected_of, d: int, theta: float, p: float) -> Point:
    """One (d, theta, p): the schedule's measured frequencies against the closed form's, kept count included."""
    bound = tol.rotation_identity(np.float64, 2, 1.0)  # one angle <= 1 rad per pair
    kept = th_p.kept_pairs_ieee(p, d)
    expected = np.asarray(expected_of(np.arange(d // 2), d, kept, theta), dtype=np.float64) * np.ones(d // 2)
    measured = measured_frequencies(schedule(d, theta, p))
    same_count = int(np.sum(measured != 0)) == int(np.sum(expected != 0))
    error = float(np.max(np.abs(measured - expected))) if same_count else float("inf")
    return Point({"d": d, "theta": theta, "p": p, "kept": kept}, error=error, bound=bound.value)


def _keeps(schedule, quick: bool) -> dict[str, list[Point]]:
    expected_of = _expected_frequencies()
    points = [keeps_at(schedule, expected_of, d, theta, p) for d in ((8, 100) if quick else (8, 64, 100, 256))
              for theta in c.BASES for p in P_GRID]
    hazards = [Point({"p": p, "d": d}, violations=float(int(np.sum(schedule(d, 1e4, p) != 0)) != ieee),
                     extra={"ieee": ieee, "decimal": decimal})
               for p, d, ieee, decimal in th_p.float_hazards(128 if quick else 512)]
    return {"frequencies": points, "float hazards": hazards}


def _respread_schedule(d: int, theta: float, p: float) -> np.ndarray:
    """Partial rotary's reading: the whole schedule re-spread over the kept pairs, theta^(-2m/2n)."""
    kept = frequencies.p_rope_pairs(d, p)
    freqs = frequencies.nope(d)
    if kept:
        freqs[:kept] = frequencies.rope(2 * kept, theta)
    return freqs


def _explain_keeps() -> str:
    f = frequencies.p_rope(8, 100.0, 0.5)
    hazards = th_p.float_hazards(512)
    return (
        f"d = 8, theta = 100, p = 0.5: n = int(0.5*8//2) = 2 pairs keep g_0 = 1 and g_1 = 100^(-2/8) = "
        f"{c.fmt(100 ** -0.25, 6)}; the others do not rotate: p_rope = {np.round(f, 6).tolist()}.\n"
        "p = 1 is RoPE, p = 0 is NoPE.\nFloat hazard: the count int(p*d//2) is computed in binary "
        f"floating point. 0.58*100 = {0.58 * 100!r}, so p = 0.58, d = 100 keeps "
        f"{frequencies.p_rope_pairs(100, 0.58)} pairs, not the 29 the decimals suggest; ropelab follows "
        "the float rule because Gemma and HF's 'proportional' type compute it that way (same pairs, same "
        f"checkpoints). Two-decimal p with even d <= 512: {len(hazards)} such (p, d), e.g. "
        f"{[(p, d) for p, d, _, _ in hazards[:5]]}.\nRe-spreading the schedule over the kept prefix "
        "(partial rotary's theta^(-2m/2n)) changes every kept frequency but the first (rejected control)."
    )


# --- unrotated pairs -------------------------------------------------------------------------------

@functools.cache
def _dot_function():
    return sp.lambdify((rot.q1, rot.q2, rot.k1, rot.k2), rot.chunk_logit(rot.i, rot.j, sp.Integer(0)), "numpy")


def _slowest_instead_of_zero(d: int, theta: float, p: float) -> np.ndarray:
    """The dropped pairs given the slowest standard frequency instead of 0."""
    f = frequencies.p_rope(d, theta, p)
    f[f == 0] = frequencies.rope(d, theta)[-1]
    return f


def unrotated_at(schedule, dot, d: int, theta: float, p: float, rng: np.random.Generator, n: int) -> Point:
    """One (d, theta, p): the unrotated pairs' share of a_ij at ``n`` position pairs below 10^7 against
    the plain dot product (SymPy's, lambdified as ``dot``)."""
    kept = frequencies.p_rope_pairs(d, p)
    freqs = schedule(d, theta, p)
    q, k = rng.standard_normal(d), rng.standard_normal(d)
    i, j = rng.integers(0, c.LONGEST_POSITION, n), rng.integers(0, c.LONGEST_POSITION, n)
    rq, rk = np.asarray(rotary.apply(q, i, freqs)), np.asarray(rotary.apply(k, j, freqs))
    idle = np.concatenate([np.arange(kept, d // 2), np.arange(kept, d // 2) + d // 2])
    share = np.sum(rq[:, idle] * rk[:, idle], axis=-1)
    (q1, q2), (k1, k2) = c.halves(q), c.halves(k)
    expected = float(np.sum(dot(q1[kept:], q2[kept:], k1[kept:], k2[kept:])))
    bound = tol.rotation_identity(np.float64, d, 0.0, float(np.linalg.norm(q) * np.linalg.norm(k)))
    return Point({"d": d, "theta": theta, "p": p}, error=float(np.max(np.abs(share - expected))), bound=bound.value)


def _unrotated(schedule, quick: bool, rng: np.random.Generator) -> list[Point]:
    dot = _dot_function()
    n = 16 if quick else 128
    return [unrotated_at(schedule, dot, d, theta, p, rng, n) for d in ((8, 256) if quick else (8, 64, 256))
            for theta in c.BASES for p in (0.25, 0.75)]


def _explain_unrotated() -> str:
    q, k = np.array([1.0, 2.0, 0.5, -1.0]), np.array([0.5, -1.0, 2.0, 1.0])
    f = frequencies.p_rope(4, 1e4, 0.5)
    vals = [float(np.asarray(rotary.apply(q, i, f))[[1, 3]] @ np.asarray(rotary.apply(k, j, f))[[1, 3]])
            for i, j in ((5, 2), (10**7, 3), (4, 4))]
    return (
        f"d = 4, p = 0.5: pair 1 = (x1, x3) does not rotate (frequency {f[1]}).\n"
        f"q = {q.tolist()}, k = {k.tolist()}: its share of a_ij at (i, j) = (5, 2), (10^7, 3), (4, 4): "
        f"{[c.fmt(v, 10) for v in vals]} -- always q1 k1 + q3 k3 = {c.fmt(q[1] * k[1] + q[3] * k[3], 10)}.\n"
        "rho(0) is the identity, so these channels compare contents only: a semantic channel no context "
        "can break. Giving them the slowest standard frequency instead of 0 brings distance back "
        "(rejected control)."
    )


# --- partial rotary ----------------------------------------------------------------------------------

def _partial_symbolic() -> Derivation:
    """The index map for symbolic h, n, m; the permutation function against it for every d <= 64."""
    f, j, e = sp.symbols("f j e", nonnegative=True, integer=True)
    m, n = f, j + 1 + f  # every pair m < n
    h = n + e  # every n <= h
    coordinate = sp.Symbol("x", integer=True)
    # position of coordinate x in partial-rotary order: the kept firsts, then the kept seconds
    position = sp.Piecewise((coordinate, coordinate < n), (coordinate - h + n, (coordinate >= h) & (coordinate < h + n)),
                            (sp.nan, True))
    mismatches = 0
    for d in PERMUTATION_DIMS:
        for kept in range(1, d // 2 + 1):
            perm = th_p.p_rope_partial_permutation(d, kept)
            half = d // 2
            mismatches += sum(perm[x] != x for x in range(kept)) + sum(perm[kept + x] != half + x for x in range(kept))
            mismatches += sorted(perm) != list(range(d))
    return combine(
        "p-RoPE(p, theta) = partial rotary over 2n coordinates with base theta^(2n/d), up to a permutation",
        [th_p.p_rope_equals_partial_rotary_with_scaled_base()],
        [
            ("p-RoPE's pair (m, m + h) lands at (m, m + n) for every m < n <= h", sp.Matrix(
                [position.subs(coordinate, m) - m, position.subs(coordinate, m + h) - (m + n)])),
            (f"p_rope_partial_permutation follows that index map for every even d <= {PERMUTATION_DIMS[-1]} and "
             "every kept count", sp.Integer(mismatches)),
        ],
    )


def partial_at(base_of, d: int, theta: float, p: float, rng: np.random.Generator, n: int) -> Point:
    """One (d, theta, p): p-RoPE logits against partial rotary over the kept coordinates with the
    base ``base_of(d, theta, kept)``, at ``n`` sorted positions below 10^6."""
    kept = frequencies.p_rope_pairs(d, p)
    perm = p_rope.to_partial_order(d, kept)
    q, k = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    pos = np.sort(rng.integers(0, 10**6, n))
    freqs = frequencies.p_rope(d, theta, p)
    ours = np.asarray(rotary.apply(q, pos, freqs)) @ np.asarray(rotary.apply(k, pos, freqs)).T
    base = base_of(d, theta, kept)
    rq = np.asarray(rotary.partial_rotary(q[:, perm], pos, 2 * kept, base))
    rk = np.asarray(rotary.partial_rotary(k[:, perm], pos, 2 * kept, base))
    scale = float(np.max(np.linalg.norm(q, axis=1)) * np.max(np.linalg.norm(k, axis=1)))
    bound = tol.rotation_identity(np.float64, d, 1e6, scale)
    return Point({"d": d, "theta": theta, "p": p}, error=float(np.max(np.abs(ours - rq @ rk.T))), bound=bound.value)


def _partial(base_of, quick: bool, rng: np.random.Generator) -> list[Point]:
    n = 8 if quick else 32
    return [partial_at(base_of, d, theta, p, rng, n) for d in ((8, 256) if quick else (8, 64, 256))
            for theta in c.BASES for p in ((0.75,) if quick else (0.25, 0.5, 0.75))]


def _explain_partial() -> str:
    d, theta, p = 256, 1e4, 0.75
    kept = frequencies.p_rope_pairs(d, p)
    base = p_rope.scaled_base(d, theta, kept)
    perm = p_rope.to_partial_order(8, 2)
    gap = np.max(np.abs(p_rope.partial_frequencies(d, theta, p) - frequencies.p_rope(d, theta, p)[:kept]))
    return (
        f"p-RoPE(p = {p}, theta = {theta:g}, d = {d}) keeps n = {kept} pairs at theta^(-2m/{d}).\n"
        f"Partial rotary over 2n = {2 * kept} coordinates re-spreads its base: base'^(-2m/{2 * kept}). "
        f"With base' = theta^(2n/d) = {c.fmt(base, 6)} the two schedules coincide "
        f"(max difference {gap:.2g}).\n"
        f"The pairs still sit elsewhere: for d = 8, n = 2 the map is x_partial = x_p[{perm.tolist()}].\n"
        "So the functions agree after permuting coordinates, but a checkpoint trained with one is not "
        "usable by the other without permuting W_Q, W_K (not weight-compatible). With the unscaled "
        "base theta the logits differ (rejected control)."
    )
