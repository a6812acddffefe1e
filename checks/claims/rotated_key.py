"""The key R^r q puts every row's maximum at distance r (Prop 3.1), and what float32 cannot see."""

from __future__ import annotations

import functools

import flint
import numpy as np
import sympy as sp

from ropelab.constructions import frequencies, logit_statistics, relative_position, rotary, rotated_key
from ropelab.theory import diophantine
from ropelab.theory import rotated_key as th_key
from ropelab.theory import rotations as th_rot

from .. import tolerances as tol
from ..claim import Certificate, Claim, Part, Evidence, Shown, Symbolic, Trust, Variant
from ..laws import Point, ZeroCount
from ..scope import NumericScope, Range
from . import _common as c

__all__ = [
    "CLAIMS",
    "LONGEST_CONTEXT",
    "PROP31",
    "SHIFTS",
    "arb_gaps",
    "certify_rotated_key_point",
    "commensurate_counterexample",
    "curve_in",
    "prop31_grid",
    "prop31_scope",
    "resolution_limit",
]

SECTION = "§3 does RoPE decay?"

SHIFTS = (0, 1, 7, 100, 4095, 10**5, 10**6)
LONGEST_CONTEXT = 2 * 10**6
ARB_BITS = 128  # ball precision: gaps down to ~1e-35 |q|^2 stay positive balls
PROP31_CHUNK = 1 << 19  # distances per certificate chunk
FEW_HUNDRED_TOKENS = 1000  # "a few hundred tokens": the low-precision limit must fall below this

DELTA_N_HYPOTHESIS = ("delta_N > 0: for each distance t != r some pair with q^(k) != 0 has (t - r) g_k not a "
                      "multiple of 2 pi")
ALGEBRAIC_HYPOTHESIS = ("g_k algebraic (every rational theta, so every float theta), which gives delta_N > 0 by "
                        "Lemma A.1; the statement fails on a measure-zero set of real theta, e.g. d = 4, "
                        "theta = (7/(2 pi))^2, g_2 = 2 pi/7 (ropelab explain rotated_key_maximises_logit_at_distance)")

PROP31 = Claim(
    id="rotated_key_maximises_logit_at_distance",
    label="Prop 3.1",
    section=SECTION,
    statement="For any nonzero q and r >= 0, the key R^r q at every position makes j = i - r the unique "
    "argmax of every row i >= r, provided delta_N > 0 (no other distance turns every weighted pair a whole "
    "number of times), which holds for every float theta.",
    symbolic=Symbolic(th_key.rotated_key_maximises_logit_at_distance,
                      Shown(Trust.PROVED, "every even d (symbolic number of pairs), every r and context, every "
                                          "frequency vector with delta_N > 0; uniqueness from Lemma A.1",
                            ("Lindemann 1882 (pi transcendental), through Lemma A.1",),
                            hypotheses=(DELTA_N_HYPOTHESIS, ALGEBRAIC_HYPOTHESIS, "q != 0"))),
    parts=(Part("For any nonzero q and r >= 0, the key R^r q at every position makes j = i - r the unique argmax of every "
                "row i >= r, provided delta_N > 0", ("symbolic", "numeric")),
           Part("delta_N > 0 holds for every float theta", ("symbolic",))),
    errata=("E6",),
    law=ZeroCount("rows whose maximum is not uniquely at t = r"),
    check=lambda key_fn, quick, rng: _prop31(key_fn, quick, rng),
    construction=Variant(rotated_key.rotated_key, "the key R^r q"),
    wrong=Variant(lambda q, shift, freqs: rotated_key.rotated_key(q, shift, -np.asarray(freqs)),
                  "the key rotated the other way, R^(-r) q"),
    numeric=Shown(Trust.CHECKED, "float64 curves: d = 2 every r in {0, 1, 7, 100, 4095, 1e5, 1e6} up to 2e6 tokens; "
                                 "d = 8, 64, 256 at theta 1e4 and 5e5 (see the grid); one Gaussian q per point"),
    certificate=Certificate(
        chunks=lambda quick: _prop31_chunks(quick),
        run=lambda chunk: certify_rotated_key_point(chunk),
        shown=Shown(Trust.CERTIFIED, "the same grid (every point, every distance t < context), for each point's "
                                     "float64 q (its exact binary value) and the exact frequencies theta^(-2m/d): "
                                     "every t != r loses to t = r, each logit of the key R^r q a 128-bit Arb ball "
                                     "(blockwise angle addition, no float64 value or library cos/sin assumed)"),
        covers=lambda quick: prop31_scope(quick)),
    tolerance_reason="0 wrong rows in the float64 curve; the certificate encloses every competitor's logit in "
    "128-bit Arb balls and needs each strictly below the peak's ball",
    explain=lambda: _explain_prop31(),
    figures=("rotated_key_argmax",),
    seed=30,
    numeric_scope=NumericScope(
        (Range("d", 2, 256, "even"), Range("theta", 1e4, 5e5, "log"), Range("r", 0, 4095, "integer")),
        probe=lambda d, theta, r: _prop31_at(d, theta, r),
        edges=({"d": 2, "theta": 1e4, "r": 710}, {"d": 8, "theta": 5e5, "r": 1}, {"d": 256, "theta": 1e4, "r": 7}),
        draws=10, slow=True),
)

FLOAT32 = Claim(
    id="float32_cannot_certify_rotated_key_argmax",
    label="beyond (Prop 3.1, Lemma A.1)",
    section=SECTION,
    statement="For d = 2 the Prop 3.1 margin |q|^2 (1 - cos n) drops below float32's resolution at 710 "
    "tokens, so float32 cannot certify the argmax beyond a few hundred tokens; float64 can, past 2*10^6 tokens.",
    symbolic_reason="a statement about floating-point formats; the exact margins come from the "
    "continued fraction of 1/(2 pi) (Lemma A.1's derivation)",
    parts=(Part("For d = 2 the Prop 3.1 margin |q|^2 (1 - cos n) drops below float32's resolution at 710 tokens, so float32 "
                "cannot certify the argmax beyond a few hundred tokens", ("numeric",)),
           Part("float64 can, past 2*10^6 tokens", ("numeric",))),
    law={"resolution lost within 1000 tokens": ZeroCount("unmet condition"),
         "float64 resolution kept beyond 2e6 tokens": ZeroCount("unmet condition"),
         "low-precision run puts some row's maximum elsewhere": ZeroCount("unmet condition"),
         "float64 run gets every row right": ZeroCount("unmet condition")},
    check=lambda dtype, quick, rng: _precision(dtype, quick, rng),
    construction=Variant(np.float32, "float32"),
    wrong=Variant(np.float64, "float64 in float32's place (it keeps the margin visible to 8*10^7 tokens)"),
    numeric=Shown(Trust.CHECKED, "d = 2, theta = 1e4, r = 7, one Gaussian q, 2e6 tokens (1e5 quick); resolution "
                                 "limits from the record lows of 1 - cos n (60-digit continued fractions)"),
    tolerance_reason="each condition holds or not: a margin of eps |q|^2 or less cannot be certified "
    "from values rounded to eps/2 each",
    explain=lambda: _explain_precision(),
    figures=("rotated_key_argmax",),
    seed=32,
    numeric_scope=c.other_seeds(lambda: FLOAT32, seed=32),
)

CLAIMS = [PROP31, FLOAT32]


def prop31_grid(quick: bool) -> list[tuple[int, float, int, int]]:
    """``(d, theta, r, context)`` points, cheapest first.

    Each curve costs ``context * d/2`` cosines, so the long contexts sit at small ``d``, where
    the margin is smallest (one or four frequencies come back close to a full turn); at
    ``d = 64, 256`` the runner-up is the neighbouring distance. Every context reaches row
    ``2r`` at least. Full: ``d = 2`` (``g_1 = 1`` for every base, so once) every ``r`` in
    ``SHIFTS``, context ``max(2e6, 2r + 1)``; ``d = 8`` both bases every ``r``, context
    ``max(2^16, 2r + 1)``; ``d = 64`` both bases ``r <= 1e5``, ``max(2^15, 2r + 1)``;
    ``d = 256`` both bases ``r`` in (0, 7, 4095), ``2^15``. Quick: one point per ``d``.

    >>> {p[0] for p in prop31_grid(True)} == {2, 8, 64, 256}
    True
    """
    if quick:
        points = [(256, 1e4, 7, 2**15), (64, 5e5, 4095, 2**15), (8, 1e4, 10**5, 2 * 10**5 + 1),
                  (2, 1e4, 10**6, LONGEST_CONTEXT + 1)]
    else:
        points = [(2, 1e4, r, max(LONGEST_CONTEXT, 2 * r + 1)) for r in SHIFTS]
        for d, shifts, floor in ((256, (0, 7, 4095), 2**15), (64, SHIFTS[:6], 2**15), (8, SHIFTS, 2**16)):
            points += [(d, theta, r, max(floor, 2 * r + 1)) for theta in c.BASES for r in shifts]
    return sorted(points, key=lambda p: p[3] * p[0])


def prop31_at(key_fn, d: int, theta: float, shift: int, length: int, q: np.ndarray) -> Point:
    """One grid point: every row of the float64 head with the key ``key_fn(q, r)``; wrong rows counted."""
    freqs = frequencies.rope(d, theta)
    verdict = rotated_key.row_argmax(relative_position.logit_curve(q, np.asarray(key_fn(q, shift, freqs)), freqs, length),
                                     shift)
    return Point({"d": d, "theta": theta, "r": shift, "context": length}, violations=verdict.wrong_rows,
                 extra={"rows": verdict.rows, "runner_up": verdict.runner_up,
                        "margin_over_norm2": verdict.margin / float(q @ q)})


def _prop31_at(d: int, theta: float, r: int) -> Evidence:
    """The numeric side at one point of its scope: a context reaching row 2r, at least 2^12 tokens."""
    q = np.random.default_rng(PROP31.seed).standard_normal(d)
    return PROP31.law.judge([prop31_at(rotated_key.rotated_key, d, theta, r, max(2**12, 2 * r + 1), q)])


def _prop31(key_fn, quick: bool, rng: np.random.Generator) -> list[Point]:
    """Every row of every grid point's float64 head; stops at the first point with a wrong row."""
    points = []
    for d, theta, shift, length in prop31_grid(quick):
        points.append(prop31_at(key_fn, d, theta, shift, length, rng.standard_normal(d)))
        if points[-1].violations:
            break  # the count is already nonzero: the remaining (longer) points cannot change the verdict
    return points


def _prop31_chunks(quick: bool) -> list[tuple]:
    """The check's grid points with the check's queries (same seed, same order), each cut into
    pieces of ``PROP31_CHUNK`` distances: ``(d, theta, r, context, q, start, stop)``."""
    rng = np.random.default_rng(PROP31.seed)
    out = []
    for d, theta, shift, length in prop31_grid(quick):
        q = tuple(rng.standard_normal(d).tolist())
        out += [(d, theta, shift, length, q, start, min(length, start + PROP31_CHUNK))
                for start in range(0, length, PROP31_CHUNK)]
    return out


@functools.cache
def _arb_gap(expr: sp.Expr):
    # the theory's closed form, evaluated on Arb balls: sin is Arb's rigorous enclosure
    return sp.lambdify((th_rot.q1, th_rot.q2, th_key.r, th_key.distance, th_rot.g), expr,
                       modules=[{"sin": lambda x: x.sin()}])


def arb_gaps(q: np.ndarray, freqs: np.ndarray, shift: int, distances: list[int]) -> list[flint.arb]:
    """Arb balls of ``|q|^2 - c(t) = sum_k chunk_gap`` for the key ``R^r q`` at each distance ``t``.

    ``q`` and ``freqs`` are taken as the exact binary numbers a program holds.

    >>> [g.lower() > 0 for g in arb_gaps(np.array([1.0, 0.0]), np.array([1.0]), 0, [710])]
    [True]
    """
    f = _arb_gap(th_key.chunk_gap())
    half = q.size // 2
    with flint.ctx.workprec(ARB_BITS):
        pairs = [(flint.arb(float(a)), flint.arb(float(b)), flint.arb(float(w)))
                 for a, b, w in zip(q[:half], q[half:], freqs)]
        return [sum((f(a, b, shift, t, w) for a, b, w in pairs), flint.arb(0)) for t in distances]


def prop31_scope(quick: bool):
    """The stated coverage: every grid point, every competitor distance ``t`` in ``[0, context)``, ``t != r``.

    >>> prop31_scope(quick=True).cases[(256, 1e4, 7, 2**15)]
    ((0, 7), (8, 32768))
    """
    from ._certify import Coverage, ranges_without

    return Coverage.of(("d", "theta", "r", "context"), "t", [(d, theta, r, n, a, b) for d, theta, r, n in prop31_grid(quick)
                                                             for a, b in ranges_without(0, n, r)])


def certify_rotated_key_point(chunk: tuple) -> Evidence:
    """Certify one grid point (or one piece of its distances): every ``t != r`` in ``[start, stop)`` loses to ``t = r``.

    ``chunk`` is ``(d, theta, r, context, q[, start, stop])`` (the whole context without a range).
    The logit of the key ``R^r q`` at distance ``t`` is enclosed in a 128-bit Arb ball blockwise
    (:func:`~ropelab.theory.rotated_key.rotated_key_logit_balls`: the exact binary ``q``, the exact
    frequencies ``theta^(-2m/d)``, exact rotations), and each ball must lie strictly below the ball
    of the logit at ``t = r``. Nothing float64 is compared and no library's cos/sin is trusted.
    The context must reach row ``2r`` (premise of the grid). Residual: competitors not certified
    (0 passes); ``certified_margin_over_norm2`` is a lower bound on the smallest gap over ``|q|^2``.

    >>> certify_rotated_key_point((2, 1e4, 3, 40, (0.6, -0.8))).passed
    True
    """
    import flint

    from ._certify import ranges_without

    d, theta, shift, length, q, *piece = chunk
    start, stop = piece if piece else (0, length)
    if not (0 <= start <= stop <= length) or len(q) != d:
        raise ValueError(f"a Prop 3.1 chunk needs 0 <= start <= stop <= context and len(q) = d, got {chunk[:4]}, "
                         f"[{start}, {stop}), {len(q)} coordinates")
    flint.ctx.prec = ARB_BITS
    freqs = th_key.exact_frequencies(d, theta, ARB_BITS)
    norm2 = sum(flint.arb(float(x)) ** 2 for x in q)
    if not norm2 > 0:
        raise ValueError("q must be a nonzero vector")
    peak = th_key.rotated_key_peak_ball(q, freqs, shift, ARB_BITS)
    far = flint.arb(2.0**-10) * norm2  # gaps above this need no individual lower bound
    below_far = peak - far
    uncertified, near, lowest, covers, compared = 0, 0, None, [], 0
    for b, balls in th_key.rotated_key_logit_balls(q, freqs, shift, start, stop, bits=ARB_BITS):
        covers += [(d, theta, shift, length, lo, hi) for lo, hi in ranges_without(b, b + len(balls), shift)]
        for j, ball in enumerate(balls):
            if b + j == shift or ball < below_far:
                continue
            if ball < peak:
                near += 1
                gap = (peak - ball).lower()
                lowest = gap if lowest is None or gap < lowest else lowest
            else:
                uncertified += 1
        compared += len(balls) - (b <= shift < b + len(balls))
    uncertified += int(length < 2 * shift + 1)  # the context must reach row 2r
    margin = lowest if lowest is not None and lowest < far.lower() else far.lower()
    return Evidence(float(uncertified), 0.0, {"d": d, "theta": theta, "r": shift, "context": length,
                                              "distances": [start, stop]}, {
        "unit": "competitors t != r not certified (+1 if the context stops before row 2r)",
        "competitors": compared, "near_competitors": near, "precision_bits": ARB_BITS,
        "peak_minus_norm2_radius": float(abs(peak - norm2).upper()),
        "certified_margin_over_norm2": float((margin / norm2).lower()) if uncertified == 0 else None,
        "covers": covers})


def resolution_limit(dtype) -> tuple[int, float]:
    """First distance n (g = 1) whose shortfall 1 - cos(n) is at or below ``eps(dtype)``.

    A logit near |q|^2 stored in ``dtype`` is rounded by up to eps/2 |q|^2, and so is its
    competitor: a shortfall of eps |q|^2 or less cannot be certified from ``dtype`` values.

    >>> resolution_limit(np.float32)[0]
    710
    """
    e = tol.eps(dtype)
    for n in diophantine.record_lows(1.0, 10**12):
        value = float(diophantine.one_minus_cos(n, 1.0))
        if value <= e:
            return n, value
    raise AssertionError("no record low below eps within 10^12")


def curve_in(dtype, q: np.ndarray, shift: int, length: int) -> np.ndarray:
    """The d = 2 rotated-key curve evaluated in ``dtype`` (angles still formed in float64).

    The same evaluation for every precision (the rotary map, then the logits), so that only
    the dtype differs between the float32 and the float64 runs.
    """
    freqs = frequencies.rope(2, 1e4)
    q_low = np.asarray(q).astype(dtype)
    key = np.asarray(rotary.apply(q_low, shift, freqs))
    curve = logit_statistics.logits_at_distances(q_low, key, freqs, np.arange(length))
    return np.asarray(curve).astype(np.float64)


def _precision(dtype, quick: bool, rng: np.random.Generator) -> dict[str, list[Point]]:
    q = rng.standard_normal(2)
    shift, length = 7, (10**5 if quick else LONGEST_CONTEXT)
    limit_low, shortfall_low = resolution_limit(dtype)
    limit_64, shortfall_64 = resolution_limit(np.float64)
    low = rotated_key.row_argmax(curve_in(dtype, q, shift, length), shift)
    high = rotated_key.row_argmax(curve_in(np.float64, q, shift, length), shift)
    name = np.dtype(dtype).name

    def condition(ok: bool, **measured) -> list[Point]:
        return [Point({"dtype": name, "context": length, "r": shift}, violations=float(not ok), extra=measured)]

    return {
        "resolution lost within 1000 tokens": condition(limit_low <= FEW_HUNDRED_TOKENS, resolution_limit=limit_low,
                                                        shortfall_at_limit=shortfall_low),
        "float64 resolution kept beyond 2e6 tokens": condition(limit_64 > LONGEST_CONTEXT, float64_limit=limit_64,
                                                               float64_shortfall_at_limit=shortfall_64),
        "low-precision run puts some row's maximum elsewhere": condition(
            low.wrong_rows > 0, wrong_rows=low.wrong_rows, first_wrong_row=low.first_wrong_row),
        "float64 run gets every row right": condition(high.wrong_rows == 0, float64_wrong_rows=high.wrong_rows,
                                                      float64_margin_over_norm2=high.margin / float(q @ q)),
    }


COMMENSURATE = {"d": 4, "theta": "(7/(2 pi))^2", "q": (0.0, 1.0, 0.0, 0.0), "r": 3, "length": 18}
"""The commensurate counterexample: g_2 = theta^(-1/2) = 2 pi/7, only pair 2 weighted, key R^3 q."""


def commensurate_counterexample(shift: int = COMMENSURATE["r"], length: int = COMMENSURATE["length"],
                                theta: sp.Expr | None = None) -> dict:
    """Prop 3.1 (and Thm 5.3) without its hypothesis: d = 4, theta = (7/(2 pi))^2, q = (0, 1, 0, 0), key R^r q.

    Only pair 2 (frequency g_2 = 2 pi/7) carries weight, so the logit at distance t is
    cos((t - r) 2 pi/7): for r = 3 exactly 1 at t = 3, 10, 17 (r = 0 is Thm 5.3's diagonal head,
    r = 1 its previous-token head). The numeric side (the float64 curve of the
    construction) finds every distance within twice its proven error bound of the peak; the exact
    side evaluates the same logits in SymPy. Both must list 3, 10 and 17. ``theta`` (exact) replaces
    the base, e.g. to see that a generic base has no tie.

    >>> commensurate_counterexample()["exact_ties"]
    [3, 10, 17]
    """
    d = COMMENSURATE["d"]
    theta_exact = (sp.Rational(7) / (2 * sp.pi)) ** 2 if theta is None else sp.sympify(theta)
    freqs = frequencies.rope(d, float(theta_exact))
    q = np.asarray(COMMENSURATE["q"], dtype=np.float64)
    curve = relative_position.logit_curve(q, np.asarray(rotated_key.rotated_key(q, shift, freqs)), freqs, length)
    bound = relative_position.logit_curve_error_bound(q, q)
    numeric_ties = sorted([shift, *rotated_key.near_competitors(curve, shift, 2 * bound).tolist()])
    g2 = sp.simplify(theta_exact ** sp.Rational(-1, 2))
    exact = [sp.cos((t - shift) * g2) for t in range(length)]
    exact_ties = [t for t, value in enumerate(exact) if sp.simplify(value - 1) == 0]
    return {"g2": float(freqs[1]), "g2_exact": str(g2), "curve": curve, "error_bound": bound,
            "numeric_ties": numeric_ties, "exact_ties": exact_ties,
            "verdict": rotated_key.row_argmax(curve, shift)}


def _explain_commensurate() -> str:
    case = commensurate_counterexample()
    return (
        f"Without the hypothesis it fails (a measure-zero set of theta): d = 4, theta = (7/(2 pi))^2 gives "
        f"g_2 = theta^(-1/2) = {case['g2_exact']} = {case['g2']:.6f}; q = (0, 1, 0, 0) weights pair 2 only, "
        f"key R^3 q. Logit at t = 0..17: {np.round(case['curve'], 4).tolist()}\n"
        f"Exactly (SymPy) the logit is cos((t - 3) 2 pi/7) = 1 at t = {case['exact_ties']}; the float64 curve "
        f"finds the same ties within twice its error bound {case['error_bound']:.2g}: t = {case['numeric_ties']}. "
        "No unique maximum: the gap delta_N is 0 once the context reaches distance 10. Every float theta is "
        "rational, so its g_k are algebraic and Lemma A.1 rules an exact tie out; the float theta nearest "
        "(7/(2 pi))^2 keeps a gap far below float64 resolution, which only exact or Arb arithmetic can see."
    )


def _explain_prop31() -> str:
    freqs = frequencies.rope(4, 100.0)
    q = np.array([1.0, 2.0, 0.5, -1.0])
    shift = 4
    curve = rotated_key.rotated_key_curve(q, shift, freqs, 9)
    back = relative_position.logit_curve(q, np.asarray(PROP31.wrong.build(q, shift, freqs)), freqs, 9)
    cr = diophantine.closest_return(1.0, LONGEST_CONTEXT)
    return (
        f"d=4, theta=100 (g = 1, 0.1), q = {q.tolist()}: pairs (1, 0.5) and (2, -1), so "
        f"|q^(1)|^2 = 1.25, |q^(2)|^2 = 5, |q|^2 = 6.25.\n"
        f"Key k = R^{shift} q at every position. Logit at distance t = 0..8: {np.round(curve, 4).tolist()}\n"
        f"= 1.25 cos({shift} - t) + 5 cos(0.1 ({shift} - t)); the maximum {c.fmt(curve.max(), 6)} = |q|^2 sits at "
        f"t = {int(curve.argmax())}: every row i >= {shift} attends hardest to j = i - {shift}.\n"
        f"The shortfall elsewhere is sum_k 2 |q^(k)|^2 sin^2(({shift} - t) g_k / 2) > 0 (Lemma A.1 keeps it "
        "nonzero); SymPy proves this for a symbolic number of pairs. It can be tiny: with d = 2 (g = 1) the "
        f"closest competitor within {LONGEST_CONTEXT:,} tokens is {cr.n:,} tokens away and loses by only "
        f"{cr.delta:.3g} |q|^2; `verify --certify` settles such near-ties with 128-bit Arb balls, so what it "
        "certifies holds for the float64 query and the exact frequencies: every other distance loses by at least the margin.\n"
        f"Negative control R^-{shift} q: logits {np.round(back, 4).tolist()} peak at t = {int(back.argmax())} "
        f"with {c.fmt(back.max(), 6)} < |q|^2 (the true peak, t = -{shift}, is in the future). "
        "A zero query is refused: every logit would be 0.\n" + _explain_commensurate()
    )


def _explain_precision() -> str:
    n32, v32 = resolution_limit(np.float32)
    n64, v64 = resolution_limit(np.float64)
    delta = diophantine.closest_return(1.0, LONGEST_CONTEXT)
    cos32 = float(np.cos(np.float32(710.0)))
    return (
        "d = 2, g = 1, key R^r q: the logit at distance t falls short of |q|^2 by |q|^2 (1 - cos(t - r)).\n"
        f"float32 stores numbers near 1 to eps32 = {tol.EPS32:.3g}; the shortfall at distance {n32} is "
        f"{v32:.3g}, far smaller. Indeed float32 cos(710) = {cos32!r}: the logit 710 tokens from the peak "
        f"equals the peak. So no float32 evaluation can certify Prop 3.1 in a context of {n32 + 1} tokens or more.\n"
        f"float64 (eps64 = {tol.EPS64:.3g}) keeps the shortfall visible until distance {n64:,} "
        f"({v64:.3g}); within {LONGEST_CONTEXT:,} tokens the smallest shortfall is {delta.delta:.3g} "
        f"at distance {delta.n:,}, about {delta.delta / tol.EPS64:.0f} eps64.\n"
        "The check runs both precisions on one query through the same evaluation: float32 picks a wrong row, "
        "float64 none. Running it with float64 in float32's place is the rejected control."
    )
