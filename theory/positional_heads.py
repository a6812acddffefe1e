r"""Positional heads from rotating pairs (Thm 5.3): closed forms, limits and the scales they need.

With every token carrying ``q = s psi`` and ``k = s R^t psi`` (``psi`` a fixed vector whose
pair ``k`` has squared norm ``w_k``), the logit depends on the distance ``r = i - j`` only,

.. math:: a_{ij} = s^2 \sum_k w_k \cos((r - t) g_k),

maximal at ``r = t``: ``t = 0`` is the diagonal head, ``t = 1`` the previous-token head (the
proof's convention; Figure 1 prints the query and key the other way round, erratum E1).
Row ``i`` puts :math:`1/(1 + \sum_{r \ne t} e^{-s^2 D_r})` on its target, with
:math:`D_r = \sum_k w_k (1 - \cos((r - t) g_k)) \ge \delta_N > 0`, which tends to 1 as ``s``
grows and reaches ``1 - eps`` once :math:`s^2 \ge \ln((N-1)(1-\varepsilon)/\varepsilon)/\delta_N`.
"""

from __future__ import annotations

import functools

import sympy as sp

from .derivation import Derivation
from .rotations import rho
from .softmax_bounds import derive_with_signs

i, j, r = sp.symbols("i j r", integer=True)
g, phi = sp.symbols("g phi", real=True)
s, w, x = sp.symbols("s w x", positive=True)  # scale, a pair's squared norm, x = s^2
delta, eps = sp.symbols("delta epsilon", positive=True)
M = sp.Symbol("M", positive=True)  # M = N - 1 >= 1 competitors in the longest row
N = sp.Symbol("N", positive=True, integer=True)


def _pair(weight: sp.Expr, angle: sp.Expr) -> sp.Matrix:
    """A 2-vector of squared norm ``weight`` at angle ``angle``."""
    return sp.sqrt(weight) * sp.Matrix([sp.cos(angle), sp.sin(angle)])


@functools.cache
def chunk_head_logit(distance: int) -> sp.Expr:
    r"""One pair's logit :math:`(\rho(ig)\, s\psi)^\top \rho(jg) \rho(tg)\, s\psi` in closed form.

    Returns :math:`s^2 w \cos((i - j - t) g)` after checking it equals the product of rotations
    (``t = distance``; ``psi``'s pair has squared norm ``w`` and any angle).

    >>> chunk_head_logit(1)
    s**2*w*cos(g*(i - j - 1))
    """
    psi = _pair(w, phi)
    product = ((rho(i * g) * s * psi).T * (rho(j * g) * rho(distance * g) * s * psi))[0]
    closed = s**2 * w * sp.cos((i - j - distance) * g)
    if not derive_with_signs("chunk head logit", [("product - closed form", product - closed)], []).holds:
        raise AssertionError("SymPy could not reduce the head's chunk logit to its closed form")
    return closed


def target_weight_lower_bound() -> sp.Expr:
    r""":math:`L(s^2) = 1/(1 + M e^{-s^2\delta})`: a row with at most ``M = N-1`` competitors, each
    ``s^2 \delta`` or more below the target, puts at least ``L`` on the target (in ``x = s^2``)."""
    return 1 / (1 + M * sp.exp(-x * delta))


def sufficient_scale_squared_expr() -> sp.Expr:
    r"""Thm 5.3's explicit scale :math:`s^2 = \ln((N-1)(1-\varepsilon)/\varepsilon)/\delta_N`
    in the symbols ``N``, ``epsilon``, ``delta``.

    >>> sufficient_scale_squared_expr()
    log((1 - epsilon)*(N - 1)/epsilon)/delta
    """
    return sp.log((N - 1) * (1 - eps) / eps) / delta


def _sharp_head(distance: int, name: str) -> Derivation:
    """Shared proof of the diagonal (distance 0) and previous-token (distance 1) heads."""
    w1, w2 = sp.symbols("w1 w2", positive=True)
    g1, g2 = sp.symbols("g1 g2", positive=True)

    def logit(dist: int) -> sp.Expr:  # a_{i, i - dist} for a two-pair psi
        return (chunk_head_logit(distance).subs({w: w1, g: g1}) + chunk_head_logit(distance).subs({w: w2, g: g2})).subs(
            {i: dist, j: 0})

    def gap(dist: int) -> sp.Expr:  # D_r = sum_k w_k (1 - cos((r - t) g_k))
        return w1 * (1 - sp.cos((dist - distance) * g1)) + w2 * (1 - sp.cos((dist - distance) * g2))

    # a row with three keys at distances 0, 1, 2 (one of them the target), two pairs
    keys = [0, 1, 2]
    softmax_target = sp.exp(logit(distance)) / sum(sp.exp(logit(d)) for d in keys)
    closed = 1 / (1 + sum(sp.exp(-s**2 * gap(d)) for d in keys if d != distance))
    bound = target_weight_lower_bound()
    x0 = sp.log(M * (1 - eps) / eps) / delta
    limit_ok = sp.limit(bound, x, sp.oo) == 1
    derivation = derive_with_signs(
        f"q = s psi, k = s R^{distance} psi is a {name} head: alpha -> 1 as s grows, and "
        "s^2 >= ln((N-1)(1-eps)/eps)/delta_N suffices for alpha >= 1 - eps",
        [
            (f"a_(i,j) = s^2 sum_k w_k cos((i - j - {distance}) g_k) (rotations compose)",
             chunk_head_logit(distance) - s**2 * w * sp.cos((i - j - distance) * g)),
            (f"alpha_(i,i-{distance}) = 1/(1 + sum_(r != {distance}) exp(-s^2 D_r)), "
             f"D_r = sum_k w_k (1 - cos((r - {distance}) g_k)) (row of keys at distances 0, 1, 2)",
             softmax_target - closed),
            ("at s^2 = ln(M(1-eps)/eps)/delta the lower bound 1/(1 + M exp(-s^2 delta)) equals 1 - eps",
             bound.subs(x, x0) - (1 - eps)),
        ],
        [
            ("D_r >= 0 for every competitor (each 1 - cos >= 0 and w_k > 0)",
             gap(0 if distance else 1).subs({sp.cos(g1): 1 - sp.Symbol("u1", nonnegative=True),
                                              sp.cos(g2): 1 - sp.Symbol("u2", nonnegative=True)}), "nonnegative"),
            ("the lower bound increases with s^2: dL/d(s^2) > 0", sp.diff(bound, x), "positive"),
            ("alpha <= 1: 1 - alpha = (sum of competitors)/(target + competitors) >= 0", 1 - closed.subs(
                {sp.exp(-s**2 * gap(d)): sp.Symbol(f"e{d}", positive=True) for d in keys if d != distance}), "nonnegative"),
        ],
    )
    steps = derivation.steps + (
        f"{'proved' if limit_ok else 'NOT proved'}: lim_(s -> oo) 1/(1 + M exp(-s^2 delta)) = 1, and "
        "alpha <= 1, so alpha -> 1 (the paper's 'sup' is this limit, erratum E3)",
    )
    return Derivation(derivation.statement, derivation.holds and limit_ok, steps)


def rope_head_can_be_diagonal() -> Derivation:
    r"""Thm 5.3 (diagonal): ``q = k = s psi`` gives :math:`\alpha_{ii} \to 1`; the explicit scale suffices.

    >>> rope_head_can_be_diagonal().holds
    True
    """
    return _sharp_head(0, "diagonal")


def rope_head_can_be_previous_token() -> Derivation:
    r"""Thm 5.3 (previous token): ``q = s psi``, ``k = s R^1 psi`` gives :math:`\alpha_{i,i-1} \to 1`.

    >>> rope_head_can_be_previous_token().holds
    True
    """
    return _sharp_head(1, "previous-token")


def figure_1_convention_attends_to_future() -> Derivation:
    r"""Erratum E1: Figure 1's assignment ``q = rho(g) psi``, ``k = psi`` peaks at ``j = i + 1``.

    :math:`(\rho(ig)\rho(g)\psi)^\top \rho(jg)\psi = |\psi|^2\cos((j - i - 1)g)`, maximal at
    ``j = i + 1`` (a future key, hidden by the causal mask), whereas the proof's
    ``q = psi``, ``k = rho(g) psi`` gives :math:`|\psi|^2\cos((j + 1 - i)g)`, maximal at ``j = i - 1``.

    >>> figure_1_convention_attends_to_future().holds
    True
    """
    psi = _pair(w, phi)
    printed = ((rho(i * g) * rho(g) * psi).T * (rho(j * g) * psi))[0]
    printed_closed = w * sp.cos((j - i - 1) * g)
    proof_closed = chunk_head_logit(1).subs(s, 1)  # w cos((i - j - 1) g), checked against its rotations
    return derive_with_signs(
        "Figure 1's q = rho(g) psi, k = psi peaks at j = i + 1; the proof's q = psi, k = rho(g) psi at j = i - 1",
        [
            ("printed convention: logit = |psi|^2 cos((j - i - 1) g)", printed - printed_closed),
            ("printed convention at j = i + 1: logit = |psi|^2, the Cauchy-Schwarz maximum",
             printed_closed.subs(j, i + 1) - w),
            ("proof convention: logit = |psi|^2 cos((j + 1 - i) g)", proof_closed - w * sp.cos((j + 1 - i) * g)),
            ("proof convention at j = i - 1: logit = |psi|^2", proof_closed.subs(j, i - 1) - w),
        ],
        [],
    )


def single_frequency_necessary_scale() -> sp.Expr:
    r"""A lower bound on the sharp scale of any single-frequency diagonal head over ``N`` tokens.

    Dirichlet's approximation theorem gives ``1 <= n <= N-1`` with :math:`\|n g/2\pi\| \le 1/N`,
    so a competitor sits :math:`s^2(1 - \cos(ng)) \le 2 s^2\sin^2(\pi/N)` below the target and
    :math:`\alpha \ge 1-\varepsilon` forces :math:`s^2 \ge \ln((1-\varepsilon)/\varepsilon) / (2\sin^2(\pi/N))`.

    >>> single_frequency_necessary_scale()
    log((1 - epsilon)/epsilon)/(2*sin(pi/N)**2)
    """
    return sp.log((1 - eps) / eps) / (2 * sp.sin(sp.pi / N) ** 2)


def single_frequency_needs_large_scale(context: int = 8192, epsilon: sp.Rational = sp.Rational(1, 100),
                                       threshold: int = 10**5) -> Derivation:
    r"""At ``N = 8192``, ``eps = 0.01`` every single-frequency diagonal head needs :math:`s^2 > 10^5`.

    One competitor alone caps the target at :math:`1/(1 + e^{-s^2 D})`, and that is
    ``>= 1 - eps`` exactly when :math:`s^2 D \ge \ln((1-\varepsilon)/\varepsilon)`; with
    Dirichlet's :math:`D \le 2\sin^2(\pi/N)` (a cited theorem, checked numerically for every
    frequency by the claim) the bound is evaluated exactly.

    >>> single_frequency_needs_large_scale().holds
    True
    """
    D = sp.Symbol("D", positive=True)
    one_competitor = 1 / (1 + sp.exp(-x * D))
    needed = sp.log((1 - eps) / eps) / D
    bound = single_frequency_necessary_scale().subs({N: context, eps: epsilon})
    exceeds = bool(sp.Gt(bound, threshold))
    derivation = derive_with_signs(
        f"single frequency at N = {context}, eps = {epsilon}: s^2 >= {sp.N(bound, 6)} > {threshold}",
        [("one competitor D below the target: 1/(1 + exp(-s^2 D)) = 1 - eps at s^2 = ln((1-eps)/eps)/D",
          one_competitor.subs(x, needed) - (1 - eps))],
        [("the one-competitor weight increases with s^2", sp.diff(one_competitor, x), "positive")],
    )
    steps = derivation.steps + (
        f"{'proved' if exceeds else 'NOT proved'}: ln((1-eps)/eps)/(2 sin^2(pi/N)) = {sp.N(bound, 8)} > {threshold}",
    )
    return Derivation(derivation.statement, derivation.holds and exceeds, steps)


def band_gap_small_angle() -> Derivation:
    r"""Scaling a band's frequencies by :math:`\lambda` scales every gap :math:`D_r` by :math:`\lambda^2`.

    :math:`\sum_k w_k(1 - \cos(r\lambda h_k)) = \tfrac{\lambda^2 r^2}{2}\sum_k w_k h_k^2 + O(\lambda^4)`,
    so the sharp scale :math:`s^2` (inversely proportional to the gaps at fixed ``N`` and
    ``eps``) grows like :math:`g_o^{-2}` as the band's top frequency ``g_o`` falls.

    >>> band_gap_small_angle().holds
    True
    """
    lam, rr = sp.symbols("lambda r", positive=True)
    h = sp.symbols("h1:4", positive=True)
    ws = sp.symbols("w1:4", positive=True)
    gap = sum(wk * (1 - sp.cos(rr * lam * hk)) for wk, hk in zip(ws, h))
    leading = lam**2 * rr**2 * sum(wk * hk**2 for wk, hk in zip(ws, h)) / 2
    series = sp.series(gap, lam, 0, 4).removeO()
    scale = sp.Symbol("C", positive=True) / leading  # s^2 = C / D_min at fixed N and eps
    return derive_with_signs(
        "band gaps scale as lambda^2 as the band's frequencies scale by lambda, so s^2 ~ lambda^-2",
        [
            ("sum_k w_k (1 - cos(r lambda h_k)) = lambda^2 r^2 sum_k w_k h_k^2 / 2 + O(lambda^4)", series - leading),
            ("d ln(s^2) / d ln(lambda) = -2 for s^2 = C / (leading gap)", sp.diff(sp.log(scale), lam) * lam + 2),
        ],
        [],
    )


def bos_anchor_signal() -> sp.Expr:
    r"""The output :math:`y_t = e^b/(e^b + t - 1)` of a NoPE head reading a BOS anchor over ``t`` keys."""
    b, t = sp.symbols("b t", positive=True)
    return sp.Lambda((b, t), sp.exp(b) / (sp.exp(b) + t - 1))


def bos_separation_gain() -> sp.Lambda:
    r"""The readout gain that separates ``t`` from ``t - 1`` by a logit margin ``Delta``:
    :math:`\Delta / (y_{t-1} - y_t) = \Delta (e^b + t - 1)(e^b + t - 2)/e^b`."""
    b, t, margin = sp.symbols("b t Delta", positive=True)
    return sp.Lambda((b, t, margin), margin * (sp.exp(b) + t - 1) * (sp.exp(b) + t - 2) / sp.exp(b))


def nope_bos_position_signal_needs_growing_logits() -> Derivation:
    r"""A NoPE head with a BOS anchor exposes position as :math:`y_t = e^b/(e^b + t - 1)` (``1/t``
    at ``b = 0``); separating ``t`` from ``t-1`` takes a gain growing like :math:`t^2`.

    Rows of identical tokens give the BOS key logit ``b`` and every other key one common logit
    (0 after shifting), so the BOS weight is the only position signal; consecutive values
    differ by :math:`e^b/((e^b+t-1)(e^b+t-2))`, and a readout needs gain
    :math:`\Delta/(y_{t-1} - y_t)` for a logit margin :math:`\Delta`, with
    :math:`\lim_{t\to\infty} \text{gain}/t^2 = \Delta e^{-b} > 0`.

    >>> nope_bos_position_signal_needs_growing_logits().holds
    True
    """
    b, t, margin = sp.symbols("b t Delta", positive=True)
    y = bos_anchor_signal()
    softmax_bos = sp.exp(b) / (sp.exp(b) + (t - 1) * sp.exp(0))
    difference = y(b, t - 1) - y(b, t)
    gain = bos_separation_gain()(b, t, margin)
    limit = sp.limit(gain / t**2, t, sp.oo)
    limit_ok = sp.simplify(limit - margin * sp.exp(-b)) == 0
    derivation = derive_with_signs(
        "NoPE + BOS exposes position as exp(b)/(exp(b) + t - 1); separating t from t-1 needs gain ~ t^2",
        [
            ("BOS weight over t keys (BOS logit b, the t-1 others 0) = exp(b)/(exp(b) + t - 1)", softmax_bos - y(b, t)),
            ("b = 0 gives y_t = 1/t", y(0, t) - 1 / t),
            ("y_(t-1) - y_t = exp(b)/((exp(b) + t - 1)(exp(b) + t - 2))",
             difference - sp.exp(b) / ((sp.exp(b) + t - 1) * (sp.exp(b) + t - 2))),
            ("gain = Delta / (y_(t-1) - y_t)", gain - margin / difference),
        ],
        [],
    )
    steps = derivation.steps + (
        f"{'proved' if limit_ok else 'NOT proved'}: lim_(t -> oo) gain / t^2 = Delta exp(-b) > 0",
    )
    return Derivation(derivation.statement, derivation.holds and limit_ok, steps)
