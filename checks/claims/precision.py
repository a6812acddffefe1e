"""Low-precision RoPE angles: a phase error bound per format, and the guarantees it limits (beyond)."""

from __future__ import annotations

import functools
import math

import numpy as np
import sympy as sp

from ropelab.constructions import semantic_channels, frequencies
from ropelab.constructions import precision as prec
from ropelab.theory.derivation import Derivation, is_zero

from ..claim import Claim, Evidence, Part, Shown, Symbolic, Trust, Variant
from ..laws import AtMost, Identity, Point, judge
from ..scope import NumericScope, Range

__all__ = ["CLAIMS", "PHASE"]

SECTION = "beyond: precision"
FORMATS = ("float32", "bf16", "fp16", "tf32")
BASES = (1e4, 5e5, 1e6)
POSITIONS = (1, 2, 3, 100, 255, 257, 1000, 4095, 4097, 15962, 65_504, 100_000, 2**24 + 3, 10**6, 3 * 10**6)
CITES = ("standard model of floating-point arithmetic: fl(x op y) = (x op y)(1 + delta), |delta| <= u "
         "(Higham 2002, Thm 2.2)",)
BOUND = Variant(prec.phase_error_bound, "the bound (1 + u_in)^k (1 + u_out) - 1 with k input roundings")
ONE_ROUNDING = Variant(lambda p, g, fmt: p * g * fmt.u_out if p <= fmt.max_finite else math.inf,
                       "a bound that counts only the product's rounding (forgets the rounded inputs)")

PHASE = Claim(
    id="rope_phase_error_within_format_bound",
    label="beyond (precision)",
    section=SECTION,
    statement="An angle p g formed in float32, bfloat16, float16 or TF32 is off by at most "
              "p g ((1 + u_in)^k (1 + u_out) - 1), k = 1 input rounding (2 once p is not exact in the format).",
    symbolic=Symbolic(lambda: _phase_symbolic(),
                      Shown(Trust.PROVED, "all p, g > 0, unit roundoffs 0 < u_in, u_out, k = 1 or 2 input "
                                          "roundings and one product rounding, under the cited rounding model",
                            CITES, hypotheses=("round to nearest, no overflow or underflow (fp16: p g and p "
                                               "below 65504)",))),
    parts=(Part("An angle p g formed in float32, bfloat16, float16 or TF32 is off by at most p g ((1 + u_in)^k (1 + u_out) "
                "- 1), k = 1 input rounding (2 once p is not exact in the format)", ("symbolic", "numeric")),),
    law=Identity("exact phase error / bound"),
    check=lambda bound, quick, rng: _phase(bound, quick),
    construction=BOUND,
    wrong=ONE_ROUNDING,
    numeric=Shown(Trust.CHECKED, "float32, bf16, fp16, TF32; theta in {1e4, 5e5, 1e6}; d = 128, every 8th pair; "
                                 "15 positions from 1 to 3 x 10^6 (fp16 to 65504); exact error with mpmath at "
                                 "160 bits against the simulated rounding"),
    tolerance_reason="none beyond the bound itself: the measured error is exact (mpmath), so error / bound <= 1",
    explain=lambda: _explain_phase(),
    numeric_scope=NumericScope(
        (Range.choice("format", FORMATS), Range("theta", 1e4, 1e6, "log"), Range("pair", 0, 63, "integer"),
         Range("position", 1, max(POSITIONS), "integer")),
        probe=lambda format, theta, pair, position: PHASE.law.judge([phase_at(BOUND.build, format, theta, pair,
                                                                              position)]),
        edges=tuple({"format": f, "theta": 1e4, "pair": 0, "position": p}
                    for f, p in (("float32", 2**24 - 1), ("float32", 2**24 + 1), ("float32", 2**24 + 3),
                                 ("tf32", 2**11 + 1), ("bf16", 257), ("fp16", 2049), ("fp16", 65_504))),
        requires=lambda format, theta, pair, position: position <= prec.FORMATS[format].max_finite,
        requires_text="the position is finite in the format (fp16 to 65504)", draws=40),
)

RELATIVE = Claim(
    id="relative_position_error_within_precision_bound",
    label="beyond (precision)",
    section=SECTION,
    statement="With angles formed in a format, a logit q^T R^(j-i) k moves by at most "
              "sum_m |q_m||k_m| min(beta_m(i) + beta_m(j), 2); the relative-position property holds to a "
              "logit error eps up to the first position where that sum reaches eps.",
    symbolic_reason="the bound is the phase bound (rope_phase_error_within_format_bound) through |cos a - cos b| "
                    "<= min(|a - b|, 2); only its numbers are new",
    parts=(Part("a logit q^T R^(j-i) k moves by at most sum_m |q_m||k_m| min(beta_m(i) + beta_m(j), 2)", ("numeric",)),
           Part("the relative-position property holds to a logit error eps up to the first position where that sum "
                "reaches eps", ("numeric",))),
    law=Identity("logit error / bound"),
    check=lambda bound, quick, rng: _relative(bound, quick, rng),
    construction=BOUND,
    wrong=ONE_ROUNDING,
    numeric=Shown(Trust.CHECKED, "the four formats, d = 64, theta in {1e4, 5e5}, 12 random Gaussian q, k per "
                                 "point, position pairs up to 10^6 (fp16: its finite range)"),
    tolerance_reason="the float64 reference phases (j - i) g are off by < 1e-9 rad, far below every format's bound",
    explain=lambda: _explain_relative(),
    seed=71,
    numeric_scope=NumericScope(
        (Range.choice("format", FORMATS), Range("theta", 1e4, 5e5, "log"), Range("i", 0, 10**6, "integer"),
         Range("j", 0, 10**6, "integer")),
        probe=lambda format, theta, i, j: _relative_at(format, theta, i, j),
        edges=({"format": "fp16", "theta": 1e4, "i": 0, "j": 65_504}, {"format": "bf16", "theta": 5e5, "i": 256, "j": 257},
               {"format": "float32", "theta": 1e4, "i": 0, "j": 10**6}, {"format": "tf32", "theta": 1e4, "i": 2047, "j": 2049}),
        requires=lambda format, theta, i, j: max(i, j) <= prec.FORMATS[format].max_finite,
        requires_text="both positions finite in the format (fp16 to 65504)"),
)

HEAD = Claim(
    id="positional_head_within_precision_bound",
    label="beyond (precision, Thm 5.3)",
    section=SECTION,
    statement="A Thm 5.3 diagonal head (top 16 pairs, ropelab's cheapest scale) computed with format angles has "
              "off-diagonal logits moved by at most s^2 sum_m w_m min(2 beta_m, 2) and diagonal weight at least "
              "1/(1 + sum_r exp(-(s^2 (c_0 - c_r) - that error))); it keeps its target up to where that drops to 1/2.",
    symbolic_reason="the weight bound is monotonicity of softmax in the gaps; the logit bound is the phase bound",
    parts=(Part("A Thm 5.3 diagonal head (top 16 pairs, ropelab's cheapest scale) computed with format angles has "
                "off-diagonal logits moved by at most s^2 sum_m w_m min(2 beta_m, 2) and diagonal weight at least "
                "1/(1 + sum_r exp(-(s^2 (c_0 - c_r) - that error)))", ("numeric",)),
           Part("it keeps its target up to where that drops to 1/2", ("numeric",))),
    law={"logit perturbation": Identity("off-diagonal logit change / bound"),
         "guaranteed weight": AtMost("guaranteed alpha_ii - measured alpha_ii")},
    check=lambda bound, quick, rng: _head(bound, quick),
    construction=BOUND,
    wrong=ONE_ROUNDING,
    numeric=Shown(Trust.CHECKED, "the four formats, d = 256, theta = 1e4, context 1024, rows at positions "
                                 "1023 to 10^6 (fp16: 65504)"),
    tolerance_reason="exact inequalities between float64 quantities (the reference logits are float64)",
    explain=lambda: _explain_head(),
    numeric_scope=NumericScope(
        (Range.choice("format", FORMATS), Range("row", 1023, 10**6, "integer")),
        probe=lambda format, row: judge(HEAD.law, dict(zip(HEAD.law, ([p] for p in head_at(BOUND.build, format, row))))),
        edges=tuple({"format": f, "row": r} for f, r in (("float32", 2**19 + 1), ("bf16", 15962), ("fp16", 65_504),
                                                         ("tf32", 4095), ("float32", 10**6))),
        requires=lambda format, row: row <= prec.FORMATS[format].max_finite,
        requires_text="the query position is finite in the format (fp16 to 65504)"),
)

SEMANTIC = Claim(
    id="semantic_preference_within_precision_bound",
    label="beyond (precision, Thm 6.1)",
    section=SECTION,
    statement="A semantic channel of frequency g preferring an aligned key over a rival at angle Delta keeps that "
              "preference while 4 beta(p) < Delta: the margin cos(phase_target) - cos(phase_rival) moves by at "
              "most 2 min(2 beta(p), 2) with angles formed in the format.",
    symbolic_reason="the margin bound is the phase bound through |cos a - cos b| <= min(|a - b|, 2)",
    parts=(Part("keeps that preference while 4 beta(p) < Delta: the margin cos(phase_target) - cos(phase_rival) moves by "
                "at most 2 min(2 beta(p), 2) with angles formed in the format", ("numeric",)),),
    law=Identity("margin change / bound"),
    check=lambda bound, quick, rng: _semantic(bound, quick, rng),
    construction=BOUND,
    wrong=ONE_ROUNDING,
    numeric=Shown(Trust.CHECKED, "the four formats, the slowest pairs of d = 256 at theta in {1e4, 1e6} and of "
                                 "Gemma 7B, query positions up to 10^6 (fp16: 65504), keys within 4096 of it"),
    tolerance_reason="the float64 reference phases are off by < 1e-9 rad, far below every format's bound",
    explain=lambda: _explain_semantic(),
    seed=73,
    numeric_scope=NumericScope(
        (Range.choice("format", FORMATS), Range.choice("theta", (1e4, 1e6)), Range("query", 4096, 10**6, "integer"),
         Range("target_back", 0, 4095, "integer"), Range("rival_back", 0, 4095, "integer")),
        probe=lambda format, theta, query, target_back, rival_back: SEMANTIC.law.judge([semantic_at(
            BOUND.build, format, float(frequencies.rope(256, theta)[-1]), query,
            np.array([query - target_back, query - rival_back]))]),
        edges=({"format": "fp16", "theta": 1e4, "query": 65_504, "target_back": 0, "rival_back": 4095},
               {"format": "bf16", "theta": 1e6, "query": 4096, "target_back": 4095, "rival_back": 0},
               {"format": "float32", "theta": 1e4, "query": 2**19 + 1, "target_back": 1, "rival_back": 2}),
        requires=lambda format, theta, query, target_back, rival_back: query <= prec.FORMATS[format].max_finite,
        requires_text="the query position is finite in the format (fp16 to 65504); keys within 4096 of it",
        draws=30),
)

CLAIMS = [PHASE, RELATIVE, HEAD, SEMANTIC]


def _positions(fmt: prec.Format, quick: bool) -> list[int]:
    chosen = [p for p in POSITIONS if p <= fmt.max_finite]
    return chosen[::2] if quick else chosen


def _phase_symbolic() -> Derivation:
    u_in, u_out = sp.symbols("u_in u_out", positive=True)
    d1, d2, d3 = sp.symbols("delta1:4", real=True)
    steps, holds = [], True

    def step(text: str, ok: bool) -> None:
        nonlocal holds
        holds = holds and bool(ok)
        steps.append(f"{'proved' if ok else 'NOT proved'}: {text}")

    for k, deltas in ((1, (d1,)), (2, (d1, d2))):
        product = sp.Mul(*[1 + d for d in deltas]) * (1 + d3)
        bound = prec.relative_phase_bound(u_in, u_out, k)
        for d in (*deltas, d3):
            others = sp.Mul(*[1 + e for e in (*deltas, d3) if e is not d])
            step(f"k={k}: d/d{d} of the rounding product is {others} > 0 on |delta| <= u < 1 (monotone; the "
                 "extremes sit at the corners)", is_zero(sp.diff(product, d) - others))
        upper = product.subs({**{d: u_in for d in deltas}, d3: u_out}) - 1
        step(f"k={k}: the upper corner gives exactly the bound (1 + u_in)^{k} (1 + u_out) - 1",
             is_zero(upper - bound))
        lower = product.subs({**{d: -u_in for d in deltas}, d3: -u_out}) - 1
        slack = sp.expand(bound + lower)
        step(f"k={k}: bound + (lower corner) = {slack} >= 0, so the lower corner is inside too",
             bool(slack.is_nonnegative))
    return Derivation("|fl(fl(p) fl(g)) - p g| <= p g ((1 + u_in)^k (1 + u_out) - 1), k = 1, 2", holds, tuple(steps))


def phase_at(bound, name: str, theta: float, pair: int, position: int) -> Point:
    """One angle ``position * g_pair`` (d = 128) formed in format ``name``: its exact error against the bound."""
    fmt = prec.FORMATS[name]
    g = float(frequencies.rope(128, theta)[pair])
    return Point({"format": name, "theta": theta, "pair": pair, "position": position},
                 error=prec.exact_phase_error(position, g, fmt), bound=bound(position, g, fmt))


def _phase(bound, quick: bool) -> list[Point]:
    pairs = range(0, 64, 16 if quick else 8)
    return [phase_at(bound, name, theta, m, p) for name in FORMATS for theta in BASES for m in pairs
            for p in _positions(prec.FORMATS[name], quick)]


def relative_error_at(bound, name: str, theta: float, i: int, j: int, q: np.ndarray, k: np.ndarray) -> Point:
    """Rows of ``q``, ``k`` (d = 64) with angles formed in format ``name`` at positions i <= j: the worst
    logit error against sum_m |q_m||k_m| min(beta_m(i) + beta_m(j), 2)."""
    fmt, d = prec.FORMATS[name], q.shape[1]
    g = frequencies.rope(d, theta)
    exact = np.array([(j - i) * gm for gm in g])
    formed = np.array([prec.format_phases(np.array([j]), gm, fmt)[0]
                       - prec.format_phases(np.array([i]), gm, fmt)[0] for gm in g])
    qa, qb, ka, kb = q[:, : d // 2], q[:, d // 2:], k[:, : d // 2], k[:, d // 2:]

    # pair logit (R^i q)^T (R^j k) = (qa ka + qb kb) cos(phase) + (qa kb - qb ka) sin(phase)
    def logit(phase):
        return np.sum((qa * ka + qb * kb) * np.cos(phase) + (qa * kb - qb * ka) * np.sin(phase), axis=1)

    errors = np.abs(logit(formed) - logit(exact))
    beta = np.array([bound(i, gm, fmt) + bound(j, gm, fmt) for gm in g])
    allowed = np.sum(np.hypot(qa, qb) * np.hypot(ka, kb) * np.minimum(beta, 2.0), axis=1)
    worst = int(np.argmax(errors / np.where(allowed > 0, allowed, np.inf)))
    return Point({"format": name, "theta": theta, "i": i, "j": j}, error=float(errors[worst]),
                 bound=float(allowed[worst]) if allowed[worst] > 0 else math.inf)


def _relative_at(format: str, theta: float, i: int, j: int) -> Evidence:
    """The numeric side at one point of its scope (12 seeded q, k of d = 64)."""
    rng = np.random.default_rng(RELATIVE.seed)
    q, k = rng.standard_normal((12, 64)), rng.standard_normal((12, 64))
    return RELATIVE.law.judge([relative_error_at(BOUND.build, format, theta, min(i, j), max(i, j), q, k)])


def _relative(bound, quick: bool, rng: np.random.Generator) -> list[Point]:
    d, n = 64, 12
    points = []
    for name in FORMATS:
        top = min(10**6, int(prec.FORMATS[name].max_finite))
        for theta in BASES[:2]:
            q, k = rng.standard_normal((n, d)), rng.standard_normal((n, d))
            for _ in range(3 if quick else 8):
                i, j = sorted(int(x) for x in rng.integers(0, top, 2))
                points.append(relative_error_at(bound, name, theta, i, j, q, k))
    return points


@functools.cache
def _head_setting() -> tuple:
    d, theta, context = 256, 1e4, 1024
    g = frequencies.rope(d, theta)
    band = semantic_channels.top_band(g, 16)
    curve = semantic_channels.diagonal_head_curve(g, band, context)
    return g, band, curve, semantic_channels.cheapest_scale_sq(curve, 0.01), context


def head_at(bound, name: str, row: int) -> tuple[Point, Point]:
    """The Thm 5.3 head (d = 256, theta = 1e4, context 1024) at query position ``row`` with angles formed in
    format ``name``: its off-diagonal logit change against the bound, and its guaranteed diagonal weight
    against the measured one."""
    g, band, curve, scale_sq, context = _head_setting()
    fmt = prec.FORMATS[name]
    keys = np.arange(row - context + 1, row + 1)
    exact = np.array([np.cos((row - keys) * g[m]) for m in band]).mean(axis=0) * scale_sq
    formed_phase = [prec.format_phases(np.array([row]), g[m], fmt)[0] - prec.format_phases(keys, g[m], fmt)
                    for m in band]
    formed = np.array([np.cos(ph) for ph in formed_phase]).mean(axis=0) * scale_sq
    change = float(np.max(np.abs(formed[:-1] - exact[:-1])))
    allowed = scale_sq * float(np.mean([min(2 * bound(row, g[m], fmt), 2.0) for m in band]))
    where = {"format": name, "row": row}
    alpha = float(np.exp(formed[-1] - formed.max()) / np.sum(np.exp(formed - formed.max())))
    guaranteed = prec.head_weight_lower_bound(curve, scale_sq, allowed)
    return (Point(where, error=change, bound=allowed if allowed > 0 else math.inf),
            Point(where, value=guaranteed, limit=alpha))


def _head(bound, quick: bool) -> dict[str, list[Point]]:
    context = _head_setting()[-1]
    logits, weights = [], []
    for name in FORMATS:
        fmt = prec.FORMATS[name]
        for row in [p for p in (context - 1, 4095, 15962, 65_504, 300_000, 10**6) if p <= fmt.max_finite][
                :: 2 if quick else 1]:
            logit, weight = head_at(bound, name, row)
            logits.append(logit)
            weights.append(weight)
    return {"logit perturbation": logits, "guaranteed weight": weights}


SEMANTIC_RIVAL = 0.1  # rad: the rival key's angle beyond the aligned target


def semantic_at(bound, name: str, g: float, query: int, keys: np.ndarray) -> Point:
    """A channel of frequency ``g`` with angles formed in format ``name``: the query at ``query``, the aligned
    target at ``keys[0]`` and the rival at ``keys[1]``; the margin's change against its bound."""
    fmt = prec.FORMATS[name]
    keys = np.asarray(keys)
    formed = prec.format_phases(np.array([query]), g, fmt)[0] - prec.format_phases(keys, g, fmt)
    exact = (query - keys) * g
    # target aligned after rotation, rival at SEMANTIC_RIVAL beyond it: margin cos(0) - cos(rival)
    offsets = np.array([0.0, SEMANTIC_RIVAL]) - exact
    margin_formed = np.cos(formed[0] + offsets[0]) - np.cos(formed[1] + offsets[1])
    margin_exact = 1.0 - math.cos(SEMANTIC_RIVAL)
    allowed = sum(min(bound(query, g, fmt) + bound(int(k), g, fmt), 2.0) for k in keys)
    return Point({"format": name, "g": g, "query": query, "keys": keys.tolist()},
                 error=float(abs(margin_formed - margin_exact)), bound=allowed if allowed > 0 else math.inf)


def _semantic(bound, quick: bool, rng: np.random.Generator) -> list[Point]:
    slowest = [float(frequencies.rope(256, t)[-1]) for t in (1e4, 1e6)]
    points = []
    for name in FORMATS:
        top = min(10**6, int(prec.FORMATS[name].max_finite))
        for g in slowest:
            for _ in range(4 if quick else 12):
                query = int(rng.integers(4096, top))
                keys = query - rng.integers(0, 4096, 2)
                points.append(semantic_at(bound, name, g, query, keys))
    return points


def _threshold_lines() -> list[str]:
    g = frequencies.rope(256, 1e4)
    lines = []
    for name in FORMATS:
        fmt = prec.FORMATS[name]
        t = prec.thresholds(g, fmt, 8192)
        text = [prec.describe_position(v, fmt) for v in (t.relative_position, t.head, t.semantic)]
        lines.append(f"  {name:8s} (a) logit error 0.1: {text[0]}; (b) head loses its target: {text[1]}; "
                     f"(c) rival at 0.1 rad: {text[2]}")
    return lines


def _explain_phase() -> str:
    fmt = prec.FORMATS["bf16"]
    return (
        "bfloat16 keeps 8 significand bits: position 15962 is stored as 15936, and at position 4095 an angle\n"
        f"with g = 1 is off by {prec.exact_phase_error(4095, 1.0, fmt):g} rad (bound "
        f"{prec.phase_error_bound(4095, 1.0, fmt):.4g}).\n"
        "First positions for Gemma 7B's schedule (d = 256, theta = 1e4, context 8192), worst case:\n"
        + "\n".join(_threshold_lines())
        + "\nA bound counting only the product's rounding is violated (rejected control)."
    )


def _explain_relative() -> str:
    return ("Shift invariance a(i+s, j+s) = a(i, j) holds exactly in real arithmetic; with angles formed in a\n"
            "format each position's angle is rounded on its own, so the logit drifts with the absolute position.\n"
            + "\n".join(_threshold_lines()))


def _explain_head() -> str:
    return ("The diagonal logit is exact (query and key share a position); every other logit may rise by\n"
            "s^2 sum w_m min(2 beta_m, 2). At ropelab's cheapest scale the margins are thin, so bf16 angles\n"
            "can cost the head its target within a few dozen tokens:\n" + "\n".join(_threshold_lines()))


def _explain_semantic() -> str:
    fmt = prec.FORMATS["bf16"]
    return (f"Gemma 7B's slowest channel (g = {frequencies.rope(256, 1e4)[-1]:.3g}) against a rival 0.1 rad away: "
            f"in bf16 the preference is guaranteed below {prec.semantic_threshold(frequencies.rope(256, 1e4)[-1], 0.1, fmt):,} "
            "tokens (4 beta(p) < 0.1); float32 keeps it beyond 10^9.")
