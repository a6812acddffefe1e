"""What a diagonal or previous-token head is (Definition 5.1, corrected), and Figure 1's reversed convention (E1)."""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from ropelab.constructions import attention, positional_heads, rotary, token_heads
from ropelab.theory import positional_heads as th_ph

from .. import tolerances as tol
from ..claim import Claim, Part, Shown, Symbolic, Trust, Variant
from ..laws import Identity, Point, ZeroCount, grid, over_grid
from . import _common as c
from .nope_heads import ascent_embeddings, ascent_run
from .positional_heads import D_GEMMA, EPS_8K, TOP_BAND, gemma_frequencies

__all__ = ["CLAIMS"]

SECTION = "§5 positional heads"

PATTERN_CONTEXT = 64
PATTERN_EPS = (0.1, 0.01)
PATTERNS = {"diagonal": 0, "previous-token": 1}
FIG1_CONTEXT = 64

PATTERNS_DEFINED = Claim(
    id="positional_patterns_are_defined",
    label="Def 5.1 (erratum E3)",
    section=SECTION,
    statement="A head is eps-diagonal (eps-previous-token) when every row i puts sum_(j != i) alpha_ij < eps "
    "(sum_(j != i-1) alpha_ij < eps) off its target; for eps <= 1/2 the target is each row's largest weight "
    "and the two patterns exclude each other.",
    symbolic=Symbolic(th_ph.positional_patterns_are_defined,
                      Shown(Trust.PROVED, "every row length (the other keys' exponentials as a symbolic sum), "
                                          "every eps in (0, 1/2] (exclusion and dominance) or (0, 1) (the printed sum)")),
    parts=(Part("for eps <= 1/2 the target is each row's largest weight and the two patterns exclude each other",
                ("symbolic", "numeric")),),
    law={"classification": ZeroCount("heads classified against their construction"),
         "mass vs SymPy": Identity("relative |off-pattern mass - S/(T + S)| / (2 (N + 4) eps64 (1 + logit spread))")},
    check=lambda is_pattern, quick, rng: _patterns(is_pattern, quick),
    construction=Variant(lambda weights, distance, eps: bool(np.all(positional_heads.off_pattern_mass(weights, distance) < eps)),
                         "the corrected definition: off-target weight below eps in every row"),
    wrong=Variant(lambda weights, distance, eps: bool(np.all(_printed_sum(weights, distance) == eps)),
                  "the printed definition: the first sum without alpha_ij, '= eps'"),
    numeric=Shown(Trust.CHECKED, "N = 64, eps in {0.1, 0.01}: RoPE diagonal and previous-token heads (top 16 pairs "
                                 "of d=256) at Thm 5.3's scale and at s = 1, NoPE's best ascent head, uniform "
                                 "attention, the one-hot limit"),
    tolerance_reason="classification is exact (0 mismatches); the mass sums N weights e^(a_ij - L_i), each off "
    "by |a_ij - L_i| eps64 relative: 2 (N + 4) eps64 (1 + the row's logit spread) relative",
    explain=lambda: _explain_patterns(),
    corrected="Def 5.1 prints the first sum without alpha_ij and '= eps' for '< eps' (E3).",
    errata=("E3",),
    numeric_scope=c.fixed_instance(lambda: PATTERNS_DEFINED,
                                   "N = 64, eps in {0.1, 0.01}: RoPE diagonal and previous-token heads (top 16 pairs"
                                   " of d=256) at Thm 5.3's scale and at s = 1, NoPE's best ascent head, uniform "
                                   "attention, the one-hot limit"),
)

FIGURE_1 = Claim(
    id="figure_1_convention_attends_to_future",
    label="Fig 1 (erratum E1)",
    section=SECTION,
    statement="Figure 1's assignment q = rho(g) psi, k = psi peaks at j = i + 1 under Eq. 3: a future key.",
    symbolic=Symbolic(th_ph.figure_1_convention_attends_to_future,
                      Shown(Trust.PROVED, "one pair with symbolic frequency, weight, angle and positions; every "
                                          "pair peaks at j = i + 1, so their sum does")),
    parts=(Part("Figure 1's assignment q = rho(g) psi, k = psi peaks at j = i + 1 under Eq. 3: a future key",
                ("symbolic", "numeric")),),
    law={"argmax at i + 1": ZeroCount("rows whose unmasked argmax is not j = i + 1"),
         "closed form": Identity("|logits - SymPy's s^2 sum_k w_k cos((j - i - 1) g_k)| / 8 d (angle + 1) eps64 s^2")},
    check=lambda convention, quick, rng: _figure_1(convention),
    construction=Variant("printed", "Figure 1's assignment q = rho(g) psi, k = psi"),
    wrong=Variant("proof", "the proof's assignment q = psi, k = rho(g) psi (peaks at j = i - 1)"),
    numeric=Shown(Trust.CHECKED, "top 16 pairs of d=256, theta=1e4, 64 positions, every row, at the 0.99-sharp scale"),
    tolerance_reason="an argmax count: every row must peak at i + 1 (0 misses); logits within "
    "8 d (angle + 1) eps64 s^2 of SymPy's closed form",
    explain=lambda: _explain_figure_1(),
    corrected="Figure 1 should read q = psi, k = rho(g) psi; the package draws it that way.",
    errata=("E1",),
    figures=("positional_construction",),
    numeric_scope=c.fixed_instance(lambda: FIGURE_1,
                                   "top 16 pairs of d=256, theta=1e4, 64 positions, every row, at the 0.99-sharp "
                                   "scale"),
)

CLAIMS = [PATTERNS_DEFINED, FIGURE_1]


def _printed_sum(weights: np.ndarray, distance: int) -> np.ndarray:
    """Def 5.1's first sum as printed, without alpha_ij: the number of other keys of each row."""
    n = np.asarray(weights).shape[0]
    return np.arange(distance, n).astype(np.float64)


def _pattern_heads() -> list[tuple[str, np.ndarray, np.ndarray, set[str]]]:
    """``(name, logits, weights, patterns it has at every eps checked)`` for the heads of the check."""
    psi, g = positional_heads.band_vector(D_GEMMA, TOP_BAND), gemma_frequencies()
    n = PATTERN_CONTEXT
    out = []
    for pattern, distance in PATTERNS.items():
        sharp = positional_heads.sufficient_scale_squared(psi, g, n, min(PATTERN_EPS), distance)
        for label, s2, has in ((f"RoPE {pattern} at Thm 5.3's scale", sharp, {pattern}),
                               (f"RoPE {pattern} at s = 1", 1.0, set())):
            q, k = positional_heads.head_vectors(psi, g, math.sqrt(s2), distance)
            a = np.asarray(attention.logits(np.tile(q, (n, 1)), np.tile(k, (n, 1)), g))
            out.append((label, a, np.asarray(attention.causal_softmax(a)), has))
    run = ascent_run("NoPE")
    tokens = np.array([0] + [1] * (n - 1))
    a = np.asarray(token_heads.token_head_logits(ascent_embeddings(), tokens, run.w_q, run.w_k, np.zeros(4)))
    out.append(("NoPE's best ascent head on [bos, x, ..., x]", a, np.asarray(attention.causal_softmax(a)), set()))
    zero = np.zeros((n, n))
    out.append(("uniform attention", zero, np.asarray(attention.causal_softmax(zero)), set()))
    out.append(("one-hot diagonal (the s -> oo limit)", np.where(np.eye(n) > 0, 0.0, -np.inf), np.eye(n), {"diagonal"}))
    return out


def _patterns(is_pattern, quick: bool) -> dict[str, list[Point]]:
    t_sym, s_sym = sp.symbols("T S", nonnegative=True)
    mass_closed = sp.lambdify((t_sym, s_sym), th_ph.off_pattern_mass()(t_sym, s_sym), "numpy")
    found = _pattern_heads()

    def classify(head: int, pattern: str, eps: float) -> Point:
        name, _, weights, has = found[head]
        got = is_pattern(weights, PATTERNS[pattern], eps)
        return Point({"head": name, "pattern": pattern, "eps": eps}, violations=float(got != (pattern in has)),
                     extra={"classified": got, "expected": pattern in has})

    masses = []
    for name, logits, weights, _ in found[:-1]:  # the one-hot limit has no finite logits to compare
        for pattern, distance in PATTERNS.items():
            rows = np.arange(distance, PATTERN_CONTEXT)
            target = logits[rows, rows - distance][:, None]
            causal = np.tril(np.ones_like(logits, dtype=bool))[rows]
            off_target = causal.copy()
            off_target[np.arange(rows.size), rows - distance] = False
            others = np.where(off_target, np.exp(logits[rows] - target), 0.0).sum(axis=1)
            closed = mass_closed(1.0, others)
            mass = positional_heads.off_pattern_mass(weights, distance)
            rel = np.abs(mass - closed) / np.maximum(closed, np.finfo(np.float64).tiny)
            # each weight e^(a_ij - L_i) is off by |a_ij - L_i| eps64 relative, and N of them are summed
            spread = np.max(np.where(causal, np.abs(logits[rows] - target), 0.0), axis=1)
            bound = 2 * (PATTERN_CONTEXT + 4) * tol.EPS64 * (1.0 + spread)
            worst = int(np.argmax(rel / bound))
            masses.append(Point({"head": name, "pattern": pattern, "row": int(rows[worst])}, error=float(rel[worst]),
                                bound=float(bound[worst]), extra={"mass": float(mass[worst])}))
    return {"classification": over_grid(grid(head=range(len(found)), pattern=tuple(PATTERNS), eps=PATTERN_EPS),
                                        classify),
            "mass vs SymPy": masses}


def _explain_patterns() -> str:
    psi, g = positional_heads.band_vector(D_GEMMA, TOP_BAND), gemma_frequencies()
    s2 = positional_heads.sufficient_scale_squared(psi, g, PATTERN_CONTEXT, 0.01, 0)
    q, k = positional_heads.head_vectors(psi, g, math.sqrt(s2), 0)
    weights = np.asarray(attention.attention_weights(np.tile(q, (PATTERN_CONTEXT, 1)), np.tile(k, (PATTERN_CONTEXT, 1)), g))
    mass = positional_heads.off_pattern_mass(weights, 0)
    return (
        "Definition 5.1, corrected (E3): a head is eps-diagonal when every row i has sum_(j != i) alpha_ij < eps, and "
        "eps-previous-token when sum_(j != i-1) alpha_ij < eps.\n"
        f"The top-16-pair diagonal head at Thm 5.3's scale s^2 = {c.fmt(s2, 5)} (N = {PATTERN_CONTEXT}, eps = 0.01) "
        f"puts at most {mass.max():.2e} off the diagonal: an 0.01-diagonal head, and no row can then be "
        "previous-token too (two weights above 1 - eps >= 1/2 would exceed 1).\n"
        "As printed, the first sum lacks alpha_ij: sum_(j != i) 1 = i counts keys and is never below eps past "
        "row 0, and '= eps' would reject the sharper head; the printed reading classifies no constructed head."
    )


def _figure_1(convention: str) -> dict[str, list[Point]]:
    psi, g = positional_heads.band_vector(D_GEMMA, TOP_BAND), gemma_frequencies()
    # the previous-token head at its smallest 0.99-sharp scale over this window
    scale = math.sqrt(positional_heads.smallest_sharp_scale(psi, g, FIG1_CONTEXT, EPS_8K, 1).scale_squared)
    if convention == "printed":  # Figure 1: queries rho(g) psi, keys psi
        q, k = rotary.rotation_matrix(1, g) @ psi * scale, psi * scale
    else:  # the proof of Thm 5.3: queries psi, keys rho(g) psi
        q, k = positional_heads.head_vectors(psi, g, scale, 1)
    a = np.asarray(attention.logits(np.tile(q, (FIG1_CONTEXT, 1)), np.tile(k, (FIG1_CONTEXT, 1)), g))  # unmasked
    rows = np.arange(FIG1_CONTEXT - 1)
    argmax = np.argmax(a[rows], axis=1)
    i, j, g_sym, w_sym = sp.symbols("i j g w", real=True)
    printed = th_ph.figure_1_printed_logit()
    closed = sp.lambdify((w_sym, g_sym, i, j), printed.subs({th_ph.w: w_sym, th_ph.g: g_sym, th_ph.i: i, th_ph.j: j}),
                         "numpy")
    weights = psi[: g.size] ** 2
    ii, jj = np.meshgrid(np.arange(FIG1_CONTEXT), np.arange(FIG1_CONTEXT), indexing="ij")
    expected = scale**2 * np.sum(closed(weights, g, ii[..., None].astype(float), jj[..., None].astype(float)), axis=-1)
    form_tol = tol.rotation_identity(np.float64, 2 * len(TOP_BAND), float(FIG1_CONTEXT), scale**2)
    causal = np.asarray(attention.causal_softmax(a))
    return {"argmax at i + 1": [Point({"convention": convention, "row": int(r)}, violations=float(argmax[r] != r + 1),
                                      extra={"argmax": int(argmax[r])}) for r in rows],
            "closed form": [Point({"convention": convention, "scale_squared": scale**2},
                                  error=float(np.max(np.abs(a - expected))), bound=form_tol.value,
                                  extra={"mean_causal_weight_on_previous_token": float(np.mean(causal[rows + 1, rows]))})]}


def _explain_figure_1() -> str:
    g = 1.0
    printed = [math.cos((j - 1) * g) for j in (-1, 0, 1)]
    proof = [math.cos((j + 1) * g) for j in (-1, 0, 1)]
    return (
        "One pair, g = 1, |psi| = 1, query at i = 0, keys at j = -1, 0, +1 (j = -1 is the previous token).\n"
        f"Figure 1 (q = rho(g) psi, k = psi): logit cos((j - i - 1) g) = {np.round(printed, 4).tolist()} -> peak at "
        "j = i + 1, a future token the causal mask hides.\n"
        f"Proof of Thm 5.3 (q = psi, k = rho(g) psi): cos((j + 1 - i) g) = {np.round(proof, 4).tolist()} -> peak at "
        "j = i - 1, the previous token.\n"
        "Under Eq. 3 a key rotated ahead by one step lines up with the query one step later, so the rotation must "
        "sit on the key. The package draws Figure 1 with the proof's convention."
    )
