"""RoPE heads can be diagonal or previous-token: q = s psi, k = s R^t psi at a large enough scale (Thm 5.3)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import sympy as sp

from ropelab.constructions import frequencies, positional_heads, relative_position, rotary
from ropelab.theory import positional_heads as th_ph

from .. import tolerances as tol
from ..claim import Certificate, Claim, Part, Evidence, Shown, Symbolic, Trust, Variant
from ..laws import AtMost, Identity, Point, over_grid
from ..scope import NumericScope, Range
from . import _common as c

__all__ = [
    "ARB_BITS",
    "BAND_WIDTH",
    "CERTIFIED_EPS",
    "CLAIMS",
    "CONTEXT_8K",
    "D_GEMMA",
    "EPS_8K",
    "SCALE_SLACK",
    "THETA",
    "TOP_BAND",
    "certificate_chunks",
    "certificate_scope",
    "certify_row_sums",
    "gemma_frequencies",
]

SECTION = "§5 positional heads"

# The setting of the paper's Gemma 7B discussion (Fig 6) and of SPEC §5's numbers.
D_GEMMA, THETA = 256, 10_000.0
CONTEXT_8K, EPS_8K = 8192, 0.01
TOP_BAND = tuple(range(16))
BAND_WIDTH = 16
THM53_EPS = (1e-1, 1e-3, 1e-6)
CONTEXTS = (2, 10, 100, 1000, 10_000, 100_000, 1_000_000)
# the certificate: the top band at Thm 5.3's explicit scale, every row, in chunks of distances
CERTIFIED_CONTEXTS = (1000, 10_000, 100_000, 1_000_000)
CERTIFIED_QUICK_CONTEXT = 10_000  # --quick certifies the contexts up to this one
CERTIFIED_EPS = 1e-3
CERTIFIED_CHUNK = 1 << 17  # distances per certificate chunk
ARB_BITS = 128
ARB_BLOCK = 1024  # offsets per angle-addition block inside a chunk
SCALE_SLACK = 2.0**-30  # the certified scale sits this far (relatively) below the float64 explicit scale

_PROOF_SCOPE = ("every even d, any number P of pairs (symbolic index), weights w_k > 0, frequencies g_k with "
                "delta_N > 0, angles of psi, context N >= 2, eps in (0, 1), s > 0")
_HYPOTHESES = ("delta_N > 0: for each distance t != target in the context some weighted pair has t g_k (resp. "
               "(t - 1) g_k) not a multiple of 2 pi",
               "g_k algebraic (every rational theta, so every float theta), which gives delta_N > 0 by Lemma A.1; "
               "fails on a measure-zero set of real theta, e.g. d = 4, theta = (7/(2 pi))^2, g_2 = 2 pi/7 "
               "(ropelab explain rope_head_can_be_diagonal)")
_LEMMA_A1 = "Lemma A.1: delta_N > 0 (claim frequency_multiple_never_full_turn)"
_NUMERIC_SCOPE = ("three heads: one pair g = 1 (N <= 100), top 8 pairs of d=64, theta=5e5 with random weights "
                  "(N <= 10^5), top 16 pairs of d=256, theta=1e4 (N <= 10^6); N in {2, 10, ..., 10^6}, "
                  "eps in {0.1, 1e-3, 1e-6}, every row")
_CERT_SCOPE = ("top 16 pairs of d=256, theta=1e4 (exact frequencies (10^4)^(-2m/256) as Arb balls), eps = 1e-3, "
               "N in {10^3, 10^4, 10^5, 10^6} ({10^3, 10^4} with --quick), every row, at a scale shown (Arb) to be "
               "at most the exact ln((N-1)(1-eps)/eps)/delta_N (the package's float64 scale less 2^-30 of itself), "
               "so at every larger one")


def _certificate(distance: int) -> Certificate:
    return Certificate(chunks=lambda quick: certificate_chunks(distance, quick), run=lambda chunk: certify_row_sums(chunk),
                       shown=Shown(Trust.CERTIFIED, _CERT_SCOPE), covers=lambda quick: certificate_scope(distance, quick))


def single_pair_at(distance: int, g: float, context: int, eps: float) -> Evidence:
    """The numeric side's one-pair head (psi = (1, 0), frequency ``g``) at one (N, eps): every row's
    weight on its target at least 1 - eps, at the construction's explicit scale."""
    psi, freqs = np.array([1.0, 0.0]), np.array([g])
    curve = np.asarray(positional_heads.target_curve(psi, freqs, context, distance))
    s2 = positional_heads.sufficient_scale_squared(psi, freqs, context, eps, distance)
    min_weight = float(np.min(relative_position.weight_at_distance(s2 * curve, distance)))
    rounding = tol.target_weight_rounding(1, float((context - 1) * g), s2, context)
    point = Point({"g": g, "context": context, "eps": eps}, value=(1 - eps) - min_weight, limit=rounding.value,
                  extra={"scale_squared": s2, "min_weight": min_weight})
    return AtMost("1 - eps - min weight").judge([point])


def _single_pair_scope(distance: int) -> NumericScope:
    """The one-pair head as printed (g = 1, N <= 100); a commensurate g (2 pi/7) ties and is outside."""
    return NumericScope(
        (Range.choice("g", (1.0,)), Range("context", 2, 100, "integer"), Range("eps", 1e-6, 0.1, "log")),
        probe=lambda g, context, eps: single_pair_at(distance, g, context, eps),
        edges=({"g": 1.0, "context": 100, "eps": 1e-6}, {"g": 1.0, "context": 2, "eps": 0.1},
               {"g": 1.0, "context": 45, "eps": 1e-3}))


DIAGONAL = Claim(
    id="rope_head_can_be_diagonal",
    label="Thm 5.3",
    section=SECTION,
    statement="q = k = s psi gives a_ij = s^2 sum_k |psi_k|^2 cos((i-j) g_k) and alpha_ii -> 1 as s grows; "
    "s^2 >= ln((N-1)(1-eps)/eps)/delta_N makes every row of an N-token head >= 1 - eps, provided delta_N > 0 "
    "(every float theta).",
    symbolic=Symbolic(th_ph.rope_head_can_be_diagonal, Shown(Trust.PROVED, _PROOF_SCOPE, (_LEMMA_A1,), _HYPOTHESES)),
    parts=(Part("q = k = s psi gives a_ij = s^2 sum_k |psi_k|^2 cos((i-j) g_k) and alpha_ii -> 1 as s grows",
                ("symbolic", "numeric")),
           Part("s^2 >= ln((N-1)(1-eps)/eps)/delta_N makes every row of an N-token head >= 1 - eps, provided delta_N > 0",
                ("symbolic", "certificate", "numeric")),
           Part("delta_N > 0 (every float theta)", ("symbolic",))),
    law={"every row >= 1 - eps": AtMost("(1 - eps) - min_i alpha_ii against the derived weight rounding"),
         "closed form": Identity("|SymPy closed form - JAX curve| / 8 d (angle + 1) eps64"),
         "explicit scale": Identity("|package scale - SymPy's ln((N-1)(1-eps)/eps)/delta_N| / 8 eps64")},
    check=lambda build, quick, rng: _thm53(0, *build, quick, rng),
    construction=Variant((lambda psi, g, n: positional_heads.target_curve(psi, g, n, 0),
                          lambda psi, g, n, eps: positional_heads.sufficient_scale_squared(psi, g, n, eps, 0)),
                         "q = k = s psi at Thm 5.3's explicit scale"),
    wrong=Variant((lambda psi, g, n: positional_heads.target_curve(psi, g, n, 0), lambda psi, g, n, eps: _nearest_scale(psi, g, n, eps)),
                  "the scale sized from the nearest neighbour's gap (1 - cos g) instead of delta_N, "
                  "ignoring near-returns"),
    numeric=Shown(Trust.CHECKED, _NUMERIC_SCOPE),
    certificate=_certificate(0),
    tolerance_reason="min weight >= 1 - eps up to the derived weight rounding (s^2 x (angle + pairs) x eps64); "
    "closed form within 8 d (angle + 1) eps64",
    explain=lambda: _explain(0),
    corrected="Thm 5.3's proof writes 'sup' where the limit s -> oo is meant (E7).",
    errata=("E3", "E7"),
    figures=("positional_heads",),
    numeric_scope=_single_pair_scope(0),
    seed=55,
)

PREVIOUS_TOKEN = Claim(
    id="rope_head_can_be_previous_token",
    label="Thm 5.3",
    section=SECTION,
    statement="q = s psi, k = s R^1 psi (the proof's convention) puts the maximum at j = i - 1 and "
    "alpha_(i,i-1) >= 1 - eps at the same explicit scale, provided delta_N > 0 (every float theta).",
    symbolic=Symbolic(th_ph.rope_head_can_be_previous_token, Shown(Trust.PROVED, _PROOF_SCOPE, (_LEMMA_A1,), _HYPOTHESES)),
    parts=(Part("q = s psi, k = s R^1 psi (the proof's convention) puts the maximum at j = i - 1 and alpha_(i,i-1) >= 1 - eps "
                "at the same explicit scale, provided delta_N > 0", ("symbolic", "certificate", "numeric")),
           Part("delta_N > 0 (every float theta)", ("symbolic",))),
    law=DIAGONAL.law,
    check=lambda build, quick, rng: _thm53(1, *build, quick, rng),
    construction=Variant((lambda psi, g, n: positional_heads.target_curve(psi, g, n, 1),
                          lambda psi, g, n, eps: positional_heads.sufficient_scale_squared(psi, g, n, eps, 1)),
                         "q = s psi, k = s R^1 psi at Thm 5.3's explicit scale"),
    wrong=Variant((lambda psi, g, n: relative_position.logit_curve(rotary.rotation_matrix(1, g) @ psi, psi, g, n),
                   lambda psi, g, n, eps: positional_heads.sufficient_scale_squared(psi, g, n, eps, 1)),
                  "Figure 1's assignment q = rho(g) psi, k = psi at the same scale (erratum E1)"),
    numeric=Shown(Trust.CHECKED, _NUMERIC_SCOPE),
    certificate=_certificate(1),
    tolerance_reason="min weight >= 1 - eps up to the derived weight rounding; closed form within "
    "8 d (angle + 1) eps64",
    explain=lambda: _explain(1),
    corrected="Uses the proof's q = psi, k = rho(g) psi; Figure 1 prints the reverse (E1). 'sup' means the "
    "limit (E7).",
    errata=("E1", "E3", "E7"),
    figures=("positional_heads", "positional_construction"),
    numeric_scope=_single_pair_scope(1),
    seed=55,
)

CLAIMS = [DIAGONAL, PREVIOUS_TOKEN]


def gemma_frequencies() -> np.ndarray:
    """The RoPE schedule of the §5 setting: d = 256, theta = 1e4 (Gemma 7B).

    >>> gemma_frequencies()[[0, -1]].round(6).tolist()
    [1.0, 0.000107]
    """
    return frequencies.rope(D_GEMMA, THETA)


def _heads(rng: np.random.Generator) -> list[dict]:
    return [
        {"name": "one pair g = 1 (d=2)", "psi": np.array([1.0, 0.0]), "freqs": np.array([1.0]), "longest": 100},
        {"name": "top 8 pairs, random weights (d=64, theta=5e5)",
         "psi": positional_heads.band_vector(64, range(8), rng.uniform(0.2, 1.0, 8)), "freqs": frequencies.rope(64, 5e5),
         "longest": 10**5},
        {"name": "top 16 pairs, equal weights (d=256, theta=1e4)",
         "psi": positional_heads.band_vector(D_GEMMA, TOP_BAND), "freqs": gemma_frequencies(), "longest": 10**6},
    ]


def _nearest_scale(psi, g, n, eps):
    """Wrong: delta taken at distance 1 only, ignoring near-returns further away."""
    curve = positional_heads.target_curve(psi, g, n, 0)
    return math.log((n - 1) * (1 - eps) / eps) / float(curve[0] - curve[1])


def _thm53(distance: int, curve_of, scale_of, quick: bool, rng: np.random.Generator) -> dict[str, list[Point]]:
    i, j, g_sym, w_sym = sp.symbols("i j g w", real=True)
    pair_logit = th_ph.chunk_head_logit(distance).subs(th_ph.s, 1).subs(
        {th_ph.i: i, th_ph.j: j, th_ph.g: g_sym, th_ph.w: w_sym})
    logit = sp.lambdify((w_sym, g_sym, i, j), pair_logit, "numpy")
    bound = sp.lambdify((th_ph.N, th_ph.eps, th_ph.delta), th_ph.sufficient_scale_squared_expr(), "numpy")
    longest = 10_000 if quick else 10**6
    cases = {}
    for head in _heads(rng):
        for n in [n for n in CONTEXTS if n <= min(head["longest"], longest)]:
            # the distances where the lambdified SymPy closed form meets the JAX curve
            sample = np.unique(np.concatenate([[0, 1, n - 1], rng.integers(0, n, 64)]))
            cases[head["name"], n] = {**head, "curve": np.asarray(curve_of(head["psi"], head["freqs"], n)),
                                      "sample": sample, "gap": positional_heads.smallest_logit_gap(head["psi"], head["freqs"], n,
                                                                                        distance)}

    def pairs_of(case: dict) -> tuple[np.ndarray, np.ndarray]:
        g = case["freqs"]
        weights = case["psi"][: g.size] ** 2 + case["psi"][g.size:] ** 2
        return weights[weights > 0], g[weights > 0]

    def closed_form(head: str, context: int) -> Point:
        case = cases[head, context]
        weights, g = pairs_of(case)
        sample = case["sample"]
        closed = np.sum(logit(weights, g, sample[:, None].astype(np.float64), 0.0), axis=1)
        form_tol = tol.rotation_identity(np.float64, 2 * g.size, float((context - 1) * g.max()))
        return Point({"head": head, "context": context}, error=float(np.max(np.abs(closed - case["curve"][sample]))),
                     bound=form_tol.value)

    def explicit_scale(head: str, context: int, eps: float) -> Point:
        case = cases[head, context]
        sympy_scale = float(bound(context, eps, case["gap"]))
        ours = positional_heads.sufficient_scale_squared(case["psi"], case["freqs"], context, eps, distance)
        return Point({"head": head, "context": context, "eps": eps}, error=abs(ours - sympy_scale),
                     bound=8 * tol.EPS64 * max(1.0, sympy_scale))

    def every_row(head: str, context: int, eps: float) -> Point:
        case = cases[head, context]
        weights, g = pairs_of(case)
        s2 = scale_of(case["psi"], case["freqs"], context, eps)
        min_weight = float(np.min(relative_position.weight_at_distance(s2 * case["curve"], distance)))
        rounding = tol.target_weight_rounding(g.size, float((context - 1) * g.max()), s2, context)
        return Point({"head": head, "context": context, "eps": eps}, value=(1 - eps) - min_weight,
                     limit=rounding.value, extra={"delta_N": case["gap"], "scale_squared": s2, "min_weight": min_weight})

    points = [{"head": head, "context": n} for head, n in cases]
    with_eps = [{**point, "eps": eps} for point in points for eps in THM53_EPS]
    return {"every row >= 1 - eps": over_grid(with_eps, every_row), "closed form": over_grid(points, closed_form),
            "explicit scale": over_grid(with_eps, explicit_scale)}


def _explain_commensurate(distance: int) -> str:
    """The hypothesis delta_N > 0 at work: the commensurate head d = 4, theta = (7/(2 pi))^2 has tied rows."""
    from .rotated_key import commensurate_counterexample

    case = commensurate_counterexample(shift=distance, length=15 + distance)
    ties = case["exact_ties"]
    return (
        f"\nWithout delta_N > 0 it fails (a measure-zero set of theta): d = 4, theta = (7/(2 pi))^2, g_2 = "
        f"{case['g2_exact']}, psi = (0, 1, 0, 0): a_ij = s^2 cos((i - j - {distance}) 2 pi/7) is largest at every "
        f"distance in {ties} (SymPy, exactly); the float64 curve finds the same ties: {case['numeric_ties']}. "
        f"Row {ties[-1]} shares its top logit among {len(ties)} keys, so its target weight is at most "
        f"1/{len(ties)} at every scale s: no head of this kind is eps-sharp for eps < {len(ties) - 1}/{len(ties)}."
    )


def _explain(distance: int) -> str:
    psi, g = positional_heads.band_vector(D_GEMMA, TOP_BAND), gemma_frequencies()
    n, eps = 1000, 1e-3
    gap = positional_heads.smallest_logit_gap(psi, g, n, distance)
    s2 = positional_heads.sufficient_scale_squared(psi, g, n, eps, distance)
    sharp = positional_heads.smallest_sharp_scale(psi, g, n, eps, distance)
    name = "diagonal" if distance == 0 else "previous-token"
    target = "i" if distance == 0 else "i-1"
    key = "k = s psi" if distance == 0 else "k = s R^1 psi"
    text = (
        f"{name} head: psi = top 16 pairs of d=256, theta=1e4, equal weights 1/16; q = s psi, {key}.\n"
        f"Logit a_ij = s^2 sum_k w_k cos((i - j - {distance}) g_k), largest at j = {target}. Over N = {n} tokens the "
        f"closest competitor sits delta_N = {c.fmt(gap, 6)} below (unit scale).\n"
        f"Thm 5.3's scale s^2 = ln((N-1)(1-eps)/eps)/delta_N = {c.fmt(s2, 6)} (eps = {eps}) gives every row "
        f"weight >= {c.fmt(positional_heads.min_target_weight(psi, g, math.sqrt(s2), n, distance), 8)} on {target};\n"
        f"the exact smallest scale (bisection on the last row) is s^2 = {c.fmt(sharp.scale_squared, 6)}, "
        f"|q| = {c.fmt(sharp.scale, 4)}.\n"
        "Corrected reading: the proof writes 'sup' for the limit alpha -> 1 (E7)."
    )
    text += _explain_commensurate(distance)
    if distance == 0:
        single = np.array([1.0, 0.0]), np.array([1.0])
        naive = _nearest_scale(*single, 100, 1e-3)
        return text + (
            "\nWhat breaks it: sizing s from the nearest neighbour only. One pair g = 1 over 100 tokens: "
            f"1 - cos(1) = {c.fmt(1 - math.cos(1), 4)} suggests s^2 = {c.fmt(naive, 4)}, but 1 - cos(44) = "
            f"{1 - math.cos(44):.3e} (a near-return) leaves row 99 with weight "
            f"{positional_heads.min_target_weight(*single, math.sqrt(naive), 100):.3f} on the diagonal."
        )
    s = math.sqrt(s2)
    curve = relative_position.logit_curve(rotary.rotation_matrix(1, g) @ psi * s, psi * s, g, n)
    return text + (
        "\nErratum E1: Figure 1's q = rho(g) psi, k = psi at the same scale puts "
        f"{float(np.min(relative_position.weight_at_distance(curve, 1))):.2e} (worst row) on i-1: its maximum is the "
        "future token i+1, hidden by the causal mask."
    )


# --- the certificate: every row's target weight with Arb balls ------------------------------

def certificate_chunks(distance: int, quick: bool) -> list[tuple]:
    r"""``(distance, N, eps, s^2, pairs, start, stop, nearest)`` for each piece of the distances ``0 .. N-1``.

    ``s^2`` is the float64 explicit scale the package computes, less ``SCALE_SLACK`` of itself so
    that it lies below the exact :math:`\ln((N-1)(1-\varepsilon)/\varepsilon)/\delta_N` (each chunk
    shows that with an Arb ball of the gap at ``nearest``, the float64 curve's runner-up: any
    competitor's gap bounds :math:`\delta_N` from above); a chunk certifies the competitors at
    distances ``start <= r < stop``.
    """
    psi, g = positional_heads.band_vector(D_GEMMA, TOP_BAND), gemma_frequencies()
    out = []
    for n in _certified_contexts(quick):
        s2 = positional_heads.sufficient_scale_squared(psi, g, n, CERTIFIED_EPS, distance) * (1 - SCALE_SLACK)
        curve = np.array(positional_heads.target_curve(psi, g, n, distance))
        curve[distance] = -np.inf
        nearest = int(np.argmax(curve))
        for start in range(0, n, CERTIFIED_CHUNK):
            out.append((distance, n, CERTIFIED_EPS, s2, TOP_BAND, start, min(n, start + CERTIFIED_CHUNK), nearest))
    return out


def _certified_contexts(quick: bool) -> list[int]:
    return [n for n in CERTIFIED_CONTEXTS if not quick or n <= CERTIFIED_QUICK_CONTEXT]


def certificate_scope(distance: int, quick: bool):
    """The stated coverage: for each certified ``N``, every competitor distance ``r`` in ``[0, N)``, ``r != t``.

    >>> certificate_scope(1, quick=True).cases[(1, 1000)]
    ((0, 1), (2, 1000))
    """
    from ._certify import Coverage, ranges_without

    return Coverage.of(("distance", "N"), "r", [(distance, n, a, b) for n in _certified_contexts(quick)
                                               for a, b in ranges_without(0, n, distance)])


def certify_row_sums(chunk: tuple) -> Evidence:
    r"""Certify with Arb balls that one chunk's competitors stay within its share of the budget.

    Row ``i`` puts :math:`1/(1 + S_i)` on its target with :math:`S_i = \sum_{r \le i, r \ne t} e^{-s^2 D_r}`
    (position-only logits: every row is a prefix of one curve). :math:`S_i \le \varepsilon/(1-\varepsilon)`
    gives :math:`\alpha \ge 1 - \varepsilon`; the budget is split over the chunks in proportion to
    their number of competitors, and every term is positive, so a chunk whose ball sum is within
    its share bounds every prefix of it: together the chunks certify every row.
    Each :math:`D_r = 1 - \sum_k w_k \cos((r - t) g_k)` comes from an Arb matrix product (angle
    addition over blocks of ``ARB_BLOCK`` offsets) with the frequencies as balls of
    :math:`\theta^{-2m/d}`.

    >>> certify_row_sums((0, 100, 0.01, 40.0, TOP_BAND, 0, 100)).passed  # N = 100, s^2 = 40, eps = 0.01
    True
    >>> certify_row_sums((0, 100, 0.01, 10.0, TOP_BAND, 0, 100)).passed  # s^2 = 10 is too small
    False
    """
    import flint

    from ._certify import ranges_without

    distance, n, eps, s2, pairs, start, stop, *nearest = chunk
    flint.ctx.prec = ARB_BITS
    eps_exact = Fraction(repr(float(eps)))  # eps as the decimal the statement prints (1e-3 is 1/1000)
    theta = flint.arb(THETA)
    g = [theta ** (flint.arb(-2 * m) / D_GEMMA) for m in pairs]
    w = flint.arb(1) / len(pairs)
    offsets = flint.arb_mat([[(flint.arb(j) * gk).cos() for j in range(ARB_BLOCK)] for gk in g]
                            + [[(flint.arb(j) * gk).sin() for j in range(ARB_BLOCK)] for gk in g])
    block_starts = list(range(start, stop, ARB_BLOCK))
    # cos((b + j - t) g) = cos((b - t) g) cos(j g) - sin((b - t) g) sin(j g)
    coeffs = flint.arb_mat([[w * (flint.arb(b - distance) * gk).cos() for gk in g]
                            + [-w * (flint.arb(b - distance) * gk).sin() for gk in g] for b in block_starts])
    curve = coeffs * offsets
    scale = flint.arb(s2)
    total, smallest_gap, competitors, covers = flint.arb(0), None, 0, []
    for row, b in enumerate(block_starts):
        length = min(ARB_BLOCK, stop - b)
        covers += [(distance, n, lo, hi) for lo, hi in ranges_without(b, b + length, distance)]
        for j in range(length):
            if b + j == distance:
                continue
            gap = 1 - curve[row, j]  # D_r: sum w = 1
            smallest_gap = gap if smallest_gap is None or gap.upper() < smallest_gap.upper() else smallest_gap
            total += (-scale * gap).exp()
            competitors += 1
    eps_ball = flint.arb(flint.fmpq(eps_exact.numerator, eps_exact.denominator))
    budget = eps_ball / (1 - eps_ball) * competitors / (n - 1)
    ratio = total / budget
    certain = bool(smallest_gap is None or smallest_gap > 0) and bool(ratio < 1)
    # s^2 <= ln((N-1)(1-eps)/eps) / D_r at one competitor r means s^2 <= the exact explicit scale
    # (delta_N <= D_r): the certified scale is then no larger than the statement's, and every larger s^2
    # does at least as well (each D_r > 0, so every competitor's share falls as s^2 grows)
    log_term = (flint.arb(n - 1) * (1 - eps_ball) / eps_ball).log()
    below_exact = None
    if nearest:
        near_gap = 1 - sum((w * (flint.arb(nearest[0] - distance) * gk).cos() for gk in g), flint.arb(0))
        below_exact = bool(nearest[0] != distance and near_gap > 0 and scale <= log_term / near_gap.upper())
        certain = certain and below_exact
    return Evidence(float(ratio.upper()) - 1.0 if certain else math.inf, 0.0,
                    {"N": n, "distances": [start, stop], "eps": eps, "distance": distance},
                    {"unit": "upper end of (competitor ball sum / budget share) - 1", "competitors": competitors,
                     "scale_squared": s2, "budget": float(budget.upper()), "sum_upper": float(total.upper()),
                     "margin": float((budget - total).lower()),
                     "smallest_gap_lower": float(smallest_gap.lower()) if smallest_gap is not None else None,
                     "eps_exact": str(eps_exact), "scale_at_or_below_exact_scale": below_exact,
                     "covers": covers})
