r"""When one rotating channel stops preferring its aligned key (Thm 6.1), in closed form.

One frequency ``g > 0`` (``d = 2``). The query sits at angle 0; the *target* key is aligned
with it (angle 0, norm 1); a *rival* key has angle :math:`\phi \in (-\pi, \pi]` (counter-clockwise
from the query) and norm :math:`\rho`. A context of ``N`` tokens holds the target at one
distance :math:`r_t` and copies of the rival everywhere else, so the logits at distance ``r``
are :math:`\cos(r g)` (target) and :math:`\rho\cos(\phi - r g)` (rival), times :math:`|q|`.
The *breaking context* :math:`N^*` is the smallest ``N`` in which some placement lets a rival
out-score the target; from then on the target's softmax weight is below 1/2 (Lemma A.3)
whatever the query's norm.

Closed form. The maximiser of the rival's margin over placements in a context of ``N``
tokens is one of: the two last distances (target at ``N-1``, rival at ``N-2``, or the
reverse), or the target last with the rival parked at a fixed distance ``r_p`` (0 or the
distance closest to alignment, :math:`\psi/g` with :math:`\psi = \phi \bmod 2\pi`). For a
pair at distances ``(y + s g, y)/g``, ``s = \pm 1``,

.. math:: \rho\cos(\phi - y) - \cos(y + s g) = A\cos y + B_s\sin y = R\cos(y - \beta_s),

:math:`A = \rho\cos\phi - \cos g`, :math:`B_s = \rho\sin\phi + s\sin g`,
:math:`\beta_s = \operatorname{atan2}(B_s, A)`, which first turns positive after
:math:`y^*_s = (\beta_s - \pi/2) \bmod 2\pi`. Hence

.. math:: N^* = \min\Bigl(\lfloor y^*_{+}/g\rfloor + 3,\; \lfloor y^*_{-}/g\rfloor + 2,\;
          \min_{r_p}\max\bigl(r_p + 2, \lfloor \arccos(\rho\cos(\phi - r_p g))/g\rfloor + 2\bigr)\Bigr).

With equal norms and :math:`\phi \in (0, \pi]`, :math:`y^*_\pm = (\phi \mp g)/2` and
:math:`N^* = \lfloor \phi/(2g) + 3/2\rfloor + 1 \approx \phi/(2g)`: target and rival each turn
half the angle between them. An anti-aligned rival (:math:`\phi = \pi`) breaks the channel at
:math:`\approx \pi/(2g)` tokens; a channel with ``g = 0`` never breaks.
Reference: Barbero et al. (2025), Thm 6.1; SPEC §6.
"""

from __future__ import annotations

import functools
import math

import mpmath
import sympy as sp

from .derivation import Derivation, derive

__all__ = [
    "anti_aligned_first_break",
    "breaking_condition",
    "breaking_context",
    "certified_first_break",
    "continuum_breaking_angle",
    "g",
    "overtaking_in_general",
    "phi",
    "rho",
    "semantic_channel_breaks",
    "semantic_range",
    "semantic_range_scales_inverse_frequency",
    "sinusoid_coefficients",
    "y",
]

DIGITS = 50  # floor() of thresholds near an integer needs more than float64

g = sp.Symbol("g", positive=True)
phi = sp.Symbol("phi", real=True)
rho = sp.Symbol("rho", positive=True)
y = sp.Symbol("y", real=True)


def margin(shift: sp.Expr) -> sp.Expr:
    r"""Rival minus target logit, rival at angle ``y``, target at ``y + shift``:
    :math:`\rho\cos(\phi - y) - \cos(y + \text{shift})`."""
    return rho * sp.cos(phi - y) - sp.cos(y + shift)


def sinusoid_coefficients(sign: int) -> tuple[sp.Expr, sp.Expr]:
    r""":math:`(A, B_s)` with ``margin(s g) = A cos y + B_s sin y``."""
    return rho * sp.cos(phi) - sp.cos(g), rho * sp.sin(phi) + sign * sp.sin(g)


def breaking_condition() -> Derivation:
    r"""The margin of a neighbouring pair is a sinusoid in ``y``; with equal norms it turns
    positive exactly at :math:`y = (\phi \mp g)/2` (half-angle identities).

    >>> breaking_condition().holds
    True
    """
    steps = []
    for sign, name in ((1, "+"), (-1, "-")):
        a, b = sinusoid_coefficients(sign)
        steps.append((f"margin(({name}1) g) = A cos y + B_{name} sin y",
                      margin(sign * g) - (a * sp.cos(y) + b * sp.sin(y))))
    r_amp, beta = sp.symbols("R beta", real=True)
    steps.append(("A cos y + B sin y = R cos(y - beta) with A = R cos beta, B = R sin beta",
                  r_amp * sp.cos(beta) * sp.cos(y) + r_amp * sp.sin(beta) * sp.sin(y) - r_amp * sp.cos(y - beta)))
    for sign, name in ((1, "+"), (-1, "-")):
        a, b = (expr.subs(rho, 1) for expr in sinusoid_coefficients(sign))
        crossing = (phi - sign * g) / 2
        # R cos(y - beta) vanishes going up at y* = beta - pi/2, i.e. where A cos y* + B sin y* = 0
        # and the derivative -A sin y* + B cos y* > 0; both follow from the half-angle forms.
        steps.append((f"rho = 1: A cos y* + B_{name} sin y* = 0 at y* = (phi {'-' if sign > 0 else '+'} g)/2",
                      sp.expand_trig(a * sp.cos(crossing) + b * sp.sin(crossing))))
        steps.append((f"rho = 1: the derivative there is 2 sin((phi {'+' if sign > 0 else '-'} g)/2) (> 0 for 0 < g < phi)",
                      sp.expand_trig(-a * sp.sin(crossing) + b * sp.cos(crossing)
                                     - 2 * sp.sin((phi + sign * g) / 2))))
    steps.append(("rho = 1: floor((phi - g)/(2g)) + 3 and floor((phi + g)/(2g)) + 2 are one threshold "
                  "phi/(2g) + 3/2",
                  ((phi - g) / (2 * g) + 3) - ((phi + g) / (2 * g) + 2)))
    return derive("the margin of a neighbouring pair is R cos(y - beta); equal norms cross at (phi -+ g)/2", steps)


def continuum_breaking_angle(phi_value: sp.Expr, ratio: sp.Expr) -> sp.Expr:
    r"""The angle :math:`x^*` at which :math:`\cos x = \rho\cos(\phi - x)` (target and rival
    both at distance :math:`x/g`): :math:`\tan x^* = (1 - \rho\cos\phi)/(\rho\sin\phi)`.

    ``g N^* -> x^*`` as ``g -> 0`` while the rival has not passed alignment.

    >>> continuum_breaking_angle(sp.pi, 1)
    pi/2
    """
    phi_value, ratio = sp.sympify(phi_value), sp.sympify(ratio)
    return sp.atan2(1 - ratio * sp.cos(phi_value), ratio * sp.sin(phi_value))


def semantic_channel_breaks() -> Derivation:
    r"""Thm 6.1 in closed form: the breaking context and its long-context limit.

    >>> semantic_channel_breaks().holds
    True
    """
    distance = sp.Symbol("r", nonnegative=True)
    t = (1 - rho * sp.cos(phi)) / (rho * sp.sin(phi))
    # cos(atan t) = 1/sqrt(1+t^2), sin(atan t) = t/sqrt(1+t^2) for phi in (0, pi)
    x_explicit = sp.atan(t)
    balance = (sp.cos(x_explicit) - rho * sp.cos(phi - x_explicit)).rewrite(sp.sqrt)
    equal = (phi / (2 * g) + sp.Rational(3, 2))
    steps = [
        ("at x* the target and the rival score alike: cos x* - rho cos(phi - x*) = 0",
         sp.simplify(sp.expand_trig(balance))),
        ("x*(phi, rho = 1) = phi/2 for phi in (0, pi): tan(phi/2) = (1 - cos phi)/sin phi",
         sp.simplify(sp.tan(phi / 2) - (1 - sp.cos(phi)) / sp.sin(phi)).rewrite(sp.exp).simplify()),
        ("g N*(rho = 1) -> phi/2 as g -> 0", sp.limit(g * equal, g, 0) - phi / 2),
        ("anti-aligned rival: N*(phi = pi) = floor(pi/(2g) + 3/2) + 1 -> pi/(2g)",
         sp.limit(g * equal.subs(phi, sp.pi), g, 0) - sp.pi / 2),
        ("g = 0: the margin rho cos(phi - r g) - cos(r g) does not depend on the distance r",
         sp.diff(margin(0).subs(y, distance * g).subs(g, 0), distance)),
    ]
    return derive("a long enough context lets a rival out-score the aligned target: N* ~ phi/(2g)", steps)


def semantic_range_scales_inverse_frequency() -> Derivation:
    r"""The anti-aligned breaking context :math:`\pi/(2g) + 3/2` has log-log slope
    :math:`-\pi/(\pi + 3g) \to -1` and :math:`g N^* \to \pi/2`; it is infinite at ``g = 0``.

    >>> semantic_range_scales_inverse_frequency().holds
    True
    """
    n_cont = sp.pi / (2 * g) + sp.Rational(3, 2)
    slope = sp.simplify(g * sp.diff(n_cont, g) / n_cont)
    return derive(
        "N*(g) ~ pi/(2g): log-log slope -> -1 as g -> 0; no break at g = 0",
        [
            ("d ln N*/d ln g = -pi/(pi + 3g)", sp.simplify(slope + sp.pi / (sp.pi + 3 * g))),
            ("the slope tends to -1 as g -> 0", sp.limit(slope, g, 0) + 1),
            ("g N* -> pi/2", sp.limit(g * n_cont, g, 0) - sp.pi / 2),
            ("1/g -> oo as g -> 0+ (the g = 0 channel never breaks)",
             sp.Integer(0) if sp.limit(n_cont, g, 0, "+") == sp.oo else sp.Integer(1)),
        ],
    )


@functools.cache
def _threshold_functions():
    """mpmath-lambdified ``(A, B_+, B_-)`` of ``(g, phi, rho)``."""
    a, b_plus = sinusoid_coefficients(1)
    _, b_minus = sinusoid_coefficients(-1)
    return sp.lambdify((g, phi, rho), (a, b_plus, b_minus), "mpmath")


def _first_positive(a: mpmath.mpf, b: mpmath.mpf, offset: int, freq: mpmath.mpf) -> int:
    """First ``N`` with ``A cos y + B sin y > 0`` at ``y = (N - offset) g``."""
    if a > 0:
        return offset
    crossing = mpmath.fmod(mpmath.atan2(b, a) - mpmath.pi / 2 + 4 * mpmath.pi, 2 * mpmath.pi)
    return int(mpmath.floor(crossing / freq)) + 1 + offset


def breaking_context(freq: float, rival_angle: float, ratio: float = 1.0) -> float:
    r"""The closed-form :math:`N^*(g, \phi, \rho)` of the module docstring (``inf`` at ``g = 0``).

    Exact for ``0 < g <= 1`` and :math:`\rho\cos\phi < 1` (the channel prefers its target
    when nothing has turned); arguments are taken as exact binary floats, evaluated at
    ``DIGITS`` digits so that ``floor`` is right at near-integer thresholds.

    >>> breaking_context(0.01, math.pi)   # anti-aligned rival: about pi / (2 g) = 157
    159
    >>> breaking_context(0.0, math.pi)
    inf
    """
    if freq == 0:
        return math.inf
    if not 0 < freq <= 1:
        raise ValueError(f"freq must lie in [0, 1] (radians per token), got {freq}")
    if not ratio > 0:
        raise ValueError(f"ratio (rival norm / target norm) must be > 0, got {ratio}")
    with mpmath.workdps(DIGITS):
        gm, pm, rm = mpmath.mpf(freq), mpmath.mpf(rival_angle), mpmath.mpf(ratio)
        if rm * mpmath.cos(pm) >= 1:
            raise ValueError("rho cos(phi) must be < 1: otherwise the channel never preferred its target")
        a, b_plus, b_minus = _threshold_functions()(gm, pm, rm)
        candidates = [max(2, _first_positive(a, b_plus, 2, gm)), max(2, _first_positive(a, b_minus, 1, gm))]
        psi = mpmath.fmod(pm + 2 * mpmath.pi, 2 * mpmath.pi)
        for parked in {0, int(mpmath.floor(psi / gm)), int(mpmath.ceil(psi / gm))}:
            best = rm * mpmath.cos(pm - parked * gm)
            if best <= -1:
                continue
            if best >= 1:
                candidates.append(parked + 2)
            else:
                candidates.append(max(parked + 2, int(mpmath.floor(mpmath.acos(best) / gm)) + 2))
        return min(candidates)


def semantic_range(freq: float) -> float:
    r"""Breaking context against an anti-aligned rival of equal norm:
    :math:`\lfloor \pi/(2g) + 3/2\rfloor + 1` tokens, ``inf`` for ``g = 0``.

    >>> semantic_range(10000.0 ** (-254 / 256))   # Gemma 7B's slowest channel
    14619
    """
    if freq == 0:
        return math.inf
    with mpmath.workdps(DIGITS):
        return int(mpmath.floor(mpmath.pi / (2 * mpmath.mpf(freq)) + mpmath.mpf(3) / 2)) + 1


def overtaking_in_general() -> Derivation:
    r"""Thm 6.1 for any frequency, target angle, norms and number of rivals.

    One pair of frequency ``g``; the query at angle 0, the target key at angle :math:`\alpha`
    with norm :math:`\tau`, a rival at angle :math:`\phi` with norm :math:`\rho`, any further
    keys contributing :math:`S \ge 0` to the softmax denominator. With the rival at angle
    ``y`` and the target ``s`` tokens further,

    .. math:: \rho\cos(\phi - y) - \tau\cos(\alpha - y - sg) = A\cos y + B\sin y,

    a sinusoid of squared amplitude :math:`\rho^2 + \tau^2 - 2\rho\tau\cos(\phi - \alpha + sg)
    \ge (\rho - \tau)^2`; at :math:`\alpha = 0, \tau = 1` its coefficients are
    :func:`sinusoid_coefficients`. The proof's overtaking case: where the orbit of the rotation
    (dense by Lemma A.2) brings the rival within :math:`\varepsilon` of the query's direction and
    the target within :math:`\varepsilon` of the opposite one, the rival leads by
    :math:`(\rho + \tau)(1 - \varepsilon) > 0`, and a target out-scored by one key has softmax
    weight below 1/2 whatever the other keys (Lemma A.3).

    >>> overtaking_in_general().holds
    True
    """
    alpha, shift = sp.Symbol("alpha", real=True), sp.Symbol("s", integer=True)
    tau, lead, other = sp.Symbol("tau", positive=True), sp.Symbol("Delta", positive=True), sp.Symbol("S", nonnegative=True)
    keep = sp.Symbol("delta", positive=True)  # 1 - eps, eps in [0, 1)
    excess = sp.Symbol("e", positive=True)
    logit_t = sp.Symbol("a_t", real=True)
    general = rho * sp.cos(phi - y) - tau * sp.cos(alpha - y - shift * g)
    a_gen = rho * sp.cos(phi) - tau * sp.cos(alpha - shift * g)
    b_gen = rho * sp.sin(phi) - tau * sp.sin(alpha - shift * g)
    steps = []
    for sign, name in ((1, "+"), (-1, "-")):
        a_s, b_s = sinusoid_coefficients(sign)
        steps.append((f"alpha = 0, tau = 1, s = {name}1: A and B are sinusoid_coefficients({name}1)",
                      sp.Matrix([a_gen - a_s, b_gen - b_s]).subs({alpha: 0, tau: 1, shift: sign})))
    weight = sp.exp(logit_t) / (sp.exp(logit_t) + sp.exp(logit_t + lead) + other)
    half_gap = sp.simplify(sp.Rational(1, 2) - weight)
    numerator = sp.exp(logit_t) * (sp.exp(lead) - 1) + other
    steps += [
        ("the margin at any target angle and norm is A cos y + B sin y",
         sp.expand_trig(general - (a_gen * sp.cos(y) + b_gen * sp.sin(y)))),
        ("A^2 + B^2 = rho^2 + tau^2 - 2 rho tau cos(phi - alpha + s g)",
         sp.expand_trig(sp.expand(a_gen**2 + b_gen**2 - (rho**2 + tau**2 - 2 * rho * tau * sp.cos(phi - alpha + shift * g))))),
        ("A^2 + B^2 - (rho - tau)^2 = 2 rho tau (1 - cos(phi - alpha + s g)) >= 0",
         sp.expand_trig(sp.expand(a_gen**2 + b_gen**2 - (rho - tau)**2
                                  - 2 * rho * tau * (1 - sp.cos(phi - alpha + shift * g))))),
        ("overtaking: rival at cos >= 1 - eps, target at cos <= -(1 - eps) leads by (rho + tau)(1 - eps)",
         rho * keep - (-tau * keep) - (rho + tau) * keep),
        ("(rho + tau)(1 - eps) > 0 for every rho, tau > 0 and eps < 1",
         sp.Integer(0) if ((rho + tau) * keep).is_positive else sp.Integer(1)),
        ("one key leading by Delta: 1/2 - alpha_target = (e^a_t (e^Delta - 1) + S) / (2 denominator)",
         sp.simplify(half_gap - numerator / (2 * (sp.exp(logit_t) + sp.exp(logit_t + lead) + other)))),
        # every lead Delta > 0 is ln(1 + e) for one e > 0, and then e^Delta - 1 = e
        ("e^Delta - 1 > 0 for Delta = ln(1 + e) > 0 (so alpha_target < 1/2 with any number of other keys)",
         sp.Integer(0) if numerator.subs(lead, sp.log(1 + excess)).is_positive else sp.Integer(1)),
    ]
    return derive("a rotating channel (g != 0) is out-scored at some placement whatever the target's angle, the "
                  "norms and the other keys; the target's weight is then below 1/2", steps)


def certified_first_break(freq: float, rival_angle: float, ratio: float, context: int, bits: int = 128) -> dict:
    r"""Arb-ball brute force: no placement breaks the channel in ``context - 1`` tokens, one
    does in ``context`` tokens (python-flint, ``bits`` of precision).

    Every logit :math:`\cos(rg)` and :math:`\rho\cos(\phi - rg)` is a ball containing the
    true value, for the exact binary values of ``freq``, ``rival_angle`` and ``ratio``. With
    running extrema taken over the balls' endpoints, ``"no_break_before"`` is True only if
    every rival logit is certainly below every target logit at another distance within
    ``context - 1`` tokens, and ``"breaks_at"`` only if the last distance certainly creates a
    winning placement: together they certify that ``context`` is the first breaking context.

    >>> certified_first_break(0.01, math.pi, 1.0, 159)["certified"]
    True
    >>> certified_first_break(0.01, math.pi, 1.0, 160)["certified"]
    False
    """
    import flint

    old = flint.ctx.prec
    flint.ctx.prec = bits
    try:
        gb, pb, rb = flint.arb(freq), flint.arb(rival_angle), flint.arb(ratio)
        top_rival = low_target = None  # exact endpoints: the largest rival, the smallest target so far
        best_rival = best_target = None  # the balls with those midpoints (for the breaking placement)
        no_break = True
        for r in range(context - 1):
            angle = r * gb
            t, o = angle.cos(), rb * (pb - angle).cos()
            if r:
                no_break = no_break and bool(t > top_rival) and bool(o < low_target)
            if top_rival is None or o.upper() > top_rival:
                top_rival = o.upper()
            if low_target is None or t.lower() < low_target:
                low_target = t.lower()
            if best_rival is None or o.mid() > best_rival.mid():
                best_rival = o
            if best_target is None or t.mid() < best_target.mid():
                best_target = t
        last = (context - 1) * gb
        t, o = last.cos(), rb * (pb - last).cos()
        breaks = context >= 2 and (bool(o - best_target > 0) or bool(best_rival - t > 0))
        return {"no_break_before": no_break, "breaks_at": breaks, "certified": no_break and breaks, "bits": bits,
                "distances_checked": max(context - 1, 0) + 1}
    finally:
        flint.ctx.prec = old


def _sign(value: sp.Expr) -> int:
    """The sign of a closed-form real number, from an evaluation whose accuracy SymPy guarantees."""
    number = sp.N(value, 30, strict=True)
    if number == 0:
        raise ValueError(f"cannot decide the sign of {value}: it evaluates to 0")
    return 1 if number > 0 else -1


def anti_aligned_first_break(freqs: list[float]) -> list[tuple[str, sp.Expr]]:
    r"""Steps proving that ``semantic_range(g)`` is the first context in which an anti-aligned rival
    of equal norm out-scores the target, at each of the exact binary frequencies ``freqs``.

    With :math:`\rho = 1, \phi = \pi` a placement (target at ``a``, rival at ``b``) has
    :func:`margin` :math:`-(\cos ag + \cos bg)`. While :math:`(N - 2) g \le \pi`, cosine decreases
    along every distance of a context of ``N - 1`` tokens, so its best placement is the two last
    distances; hence ``N = semantic_range(g)`` is the first breaking context iff the adjacent
    placement ``(N - 2, N - 1)`` wins (margin > 0) and ``(N - 3, N - 2)`` does not (margin <= 0).
    Each sign is read from :func:`margin` itself at the exact ``g`` (a residual counts the
    frequencies where it fails), so a wrong margin or a wrong closed form fails the step.

    >>> from ropelab.theory.derivation import derive
    >>> derive("first break", anti_aligned_first_break([0.01, 0.3])).holds
    True
    """
    anti = {rho: 1, phi: sp.pi}
    adjacent = margin(-g).subs(anti)  # rival at y, target one token earlier
    x = sp.Symbol("x", real=True)
    not_first, wins_late, wins_early = 0, 0, 0
    for value in freqs:
        exact = sp.Rational(value)  # the float's exact binary value
        n = sp.Integer(semantic_range(value))
        # the distances of a context of N - 1 tokens lie where cosine decreases
        not_first += int(n < 3 or not (n - 2) * exact <= sp.pi)
        # margin of (N-2, N-1) in N tokens > 0; margin of (N-3, N-2) in N - 1 tokens <= 0
        wins_late += int(_sign(adjacent.subs({g: exact, y: (n - 1) * exact})) <= 0)
        last_before = adjacent.subs({g: exact, y: (n - 2) * exact})
        wins_early += int(_sign(last_before) > 0)
    return [
        ("rho = 1, phi = pi: the margin of a placement (target a, rival b) is -(cos a g + cos b g)",
         margin(x - y).subs(anti) + sp.cos(x) + sp.cos(y)),
        ("cos decreases on [0, pi], so in N - 1 tokens with (N - 2) g <= pi the best placement is the last two",
         sp.Integer(0) if sp.is_decreasing(sp.cos(x), sp.Interval(0, sp.pi)) else sp.Integer(1)),
        (f"(N - 2) g <= pi for N = semantic_range(g), at {len(freqs)} stated g", sp.Integer(not_first)),
        (f"the adjacent placement (N - 2, N - 1) wins in N = semantic_range(g) tokens, at {len(freqs)} stated g",
         sp.Integer(wins_late)),
        (f"no placement wins in N - 1 tokens (the last two do not), at {len(freqs)} stated g",
         sp.Integer(wins_early)),
    ]
