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

from .derivation import Derivation, is_zero
from .rotations import rho
from .softmax_bounds import derive_with_signs, sign_holds

__all__ = [
    "M",
    "N",
    "band_gap_small_angle",
    "bos_anchor_signal",
    "bos_separation_gain",
    "chunk_head_logit",
    "delta",
    "eps",
    "figure_1_convention_attends_to_future",
    "figure_1_printed_logit",
    "g",
    "i",
    "j",
    "nope_bos_position_signal_needs_growing_logits",
    "off_pattern_mass",
    "pair_gap",
    "positional_patterns_are_defined",
    "rope_head_can_be_diagonal",
    "rope_head_can_be_previous_token",
    "s",
    "single_frequency_necessary_scale",
    "single_frequency_needs_large_scale",
    "sufficient_scale_squared_expr",
    "w",
    "x",
]

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


# the general proof's symbols: pair index k of P pairs, competitor index m of M, row offsets
k, P = sp.symbols("k P", integer=True, positive=True)
m_ = sp.Symbol("m", integer=True, positive=True)
M_count = sp.Symbol("M", integer=True, positive=True)  # competitors in a row: M = i <= N - 1
w_k, g_k, phi_k = sp.IndexedBase("w", positive=True), sp.IndexedBase("g", real=True), sp.IndexedBase("phi", real=True)
D_m = sp.IndexedBase("D", nonnegative=True)  # a competitor's gap D_r
v_m = sp.IndexedBase("v", nonnegative=True)  # 1 - exp(-s^2 (D_r - delta)) >= 0
T = sp.Symbol("T", positive=True)  # the target's exponential e^{a_(i, i-t)}


def pair_product(distance: int, weight: sp.Expr, freq: sp.Expr, angle: sp.Expr) -> sp.Expr:
    r"""One pair's logit as the product of rotations: :math:`(\rho(ig) s\psi)^\top \rho(jg)\rho(tg) s\psi`."""
    psi = _pair(weight, angle)
    return ((rho(i * freq) * s * psi).T * (rho(j * freq) * rho(distance * freq) * s * psi))[0]


def _pair_term(distance: int, at_i: sp.Expr, at_j: sp.Expr) -> sp.Expr:
    """Pair ``k``'s closed-form logit (from :func:`chunk_head_logit`) with indexed weight and frequency."""
    return chunk_head_logit(distance).subs({w: w_k[k], g: g_k[k]}, simultaneous=True).subs({i: at_i, j: at_j},
                                                                                           simultaneous=True)


def _nonnegative_from_derivative(expr: sp.Expr, var: sp.Symbol) -> bool:
    """``expr >= 0`` for ``var >= 0`` because it vanishes at 0 and its derivative is positive there on."""
    return sp.simplify(expr.subs(var, 0)) == 0 and bool(sp.diff(expr, var).is_positive)


def _sharp_head(distance: int, name: str) -> Derivation:
    r"""The general proof for ``q = s psi``, ``k = s R^t psi`` (``t = distance``).

    Every step has its hypotheses as symbols: a pair with symbolic weight, frequency, angle and
    positions; ``P`` pairs and ``M`` competitors as symbolic summation bounds; ``s``, ``delta``
    positive; ``eps = 1/(1 + b)`` with ``b > 0`` (every ``eps`` in (0, 1)). That
    ``delta_N > 0`` (each competitor's gap is positive) is Lemma A.1, cited.
    """
    t = distance
    r_ = sp.Symbol("r", integer=True)
    y, z = sp.symbols("y z", nonnegative=True)
    b = sp.Symbol("b", positive=True)
    steps: list[str] = []
    holds = True

    def step(ok: bool, text: str) -> None:
        nonlocal holds
        holds = holds and bool(ok)
        steps.append(f"{'proved' if ok else 'NOT proved'}: {text}")

    # 1. one pair, symbolic weight, frequency, angle and positions
    product = pair_product(t, w, g, phi)
    step(is_zero(product - chunk_head_logit(t)),
         f"one pair: (rho(i g) s psi)^T rho(j g) rho({t} g) s psi = s^2 w cos((i - j - {t}) g) for every angle of psi")
    # 2. P pairs: the block-diagonal logit is the sum of its pairs' logits, term by term
    term = pair_product(t, w_k[k], g_k[k], phi_k[k]) - _pair_term(t, i, j)
    total = sp.Sum(sp.simplify(term.rewrite(sp.exp).expand()), (k, 1, P)).doit()
    step(total == 0, f"P pairs (symbolic P): a_ij = sum_(k=1)^P s^2 w_k cos((i - j - {t}) g_k)")
    # 3. the gap to a competitor at distance r is s^2 D_r with D_r = sum_k w_k (1 - cos((r - t) g_k)) >= 0
    gap_term = _pair_term(t, t + j, j) - _pair_term(t, r_ + j, j) - s**2 * w_k[k] * (1 - sp.cos((r_ - t) * g_k[k]))
    step(sp.Sum(sp.simplify(gap_term), (k, 1, P)).doit() == 0,
         f"a_(i,i-{t}) - a_(i,i-r) = s^2 D_r, D_r = sum_k w_k (1 - cos((r - {t}) g_k)) (the curve depends on r only)")
    half_angle = (1 - sp.cos((r_ - t) * g_k[k])) - 2 * sp.sin((r_ - t) * g_k[k] / 2) ** 2
    step(is_zero(half_angle) and bool(sp.Sum(w_k[k] * 2 * sp.sin((r_ - t) * g_k[k] / 2) ** 2, (k, 1, P)).is_nonnegative),
         f"D_r = sum_k 2 w_k sin^2((r - {t}) g_k / 2) >= 0")
    # 4. a row of M competitors: alpha = 1/(1 + sum_m exp(-s^2 D_m))
    S = sp.Sum(sp.exp(-x * D_m[m_]), (m_, 1, M_count))
    Ssym = sp.Symbol("S", nonnegative=True)
    alpha = T / (T + T * Ssym)
    step(is_zero(alpha - 1 / (1 + Ssym)) and bool(S.is_nonnegative),
         f"row i (M = i competitors, symbolic M): alpha_(i,i-{t}) = e^a / (e^a + sum_m e^(a - s^2 D_m)) "
         "= 1/(1 + S), S = sum_m exp(-s^2 D_m) >= 0")
    # 5. each competitor at least delta below: exp(-x D) <= exp(-x delta); hence S <= M exp(-x delta)
    u = sp.Symbol("u", nonnegative=True)
    step(_nonnegative_from_derivative(1 - sp.exp(-x * u), u) and is_zero(
        sp.exp(-x * delta) - sp.exp(-x * (delta + u)) - sp.exp(-x * delta) * (1 - sp.exp(-x * u))),
        "D_m = delta + u_m with u_m >= 0: exp(-s^2 delta) - exp(-s^2 D_m) = exp(-s^2 delta)(1 - exp(-s^2 u_m)) >= 0 "
        "(it vanishes at u = 0 and grows with u)")
    slack = sp.Sum(sp.exp(-x * delta) * v_m[m_], (m_, 1, M_count))
    bound_sum = sp.Sum(sp.exp(-x * delta), (m_, 1, M_count)).doit()
    step(bool(slack.is_nonnegative) and is_zero(bound_sum - M_count * sp.exp(-x * delta)),
         "S = M exp(-s^2 delta) - sum_m exp(-s^2 delta) v_m <= M exp(-s^2 delta)")
    Z = sp.Symbol("Z", nonnegative=True)
    step(sign_holds(1 / (1 + Ssym) - 1 / (1 + Ssym + Z), "nonnegative"),
         "alpha = 1/(1 + S) >= 1/(1 + M exp(-s^2 delta)) (a larger denominator only lowers it)")
    bound = target_weight_lower_bound()
    step(bool(sp.diff(bound, M).is_negative), "the bound falls with M, and M = i <= N - 1: every row is at least "
                                              "L = 1/(1 + (N-1) exp(-s^2 delta_N))")
    # 6. the explicit scale: s^2 = x_N + y (y >= 0) gives L >= 1 - eps, for every N >= 2 and eps in (0, 1)
    x_n = sufficient_scale_squared_expr()
    n0 = sp.Symbol("n0", nonnegative=True)
    at_scale = bound.subs(M, N - 1).subs(x, x_n + y)
    at_scale = sp.powsimp(sp.expand_log(sp.expand(at_scale), force=True), combine="exp")
    at_scale = sp.simplify(at_scale).subs(sp.exp(-delta * y), 1 / (1 + z)).subs(N, n0 + 2).subs(eps, 1 / (1 + b))
    step(_nonnegative_from_derivative(sp.exp(delta * y) - 1, y) and sign_holds(at_scale - b / (1 + b), "nonnegative")
         and sp.simplify(at_scale.subs(z, 0) - b / (1 + b)) == 0,
         "s^2 = ln((N-1)(1-eps)/eps)/delta_N + y, y >= 0 (write exp(-delta y) = 1/(1 + z), z >= 0): "
         "L >= 1 - eps for every N >= 2 and eps in (0, 1), with equality at y = 0")
    # 7. the limit: L -> 1 as s -> oo and alpha <= 1, so alpha -> 1
    step(sp.limit(bound, x, sp.oo) == 1 and sign_holds(1 - 1 / (1 + Ssym), "nonnegative"),
         "lim_(s -> oo) 1/(1 + (N-1) exp(-s^2 delta_N)) = 1 and alpha <= 1, so alpha -> 1 for every fixed N "
         "(the paper's 'sup' is this limit, erratum E7)")
    steps.append("cited: delta_N = min over competitors of D_r > 0 -- Lemma A.1 (n g_k is never a multiple of "
                 "2 pi for algebraic g_k != 0 and integer n != 0; claim frequency_multiple_never_full_turn)")
    return Derivation(
        f"q = s psi, k = s R^{t} psi is a {name} head for every d, number of pairs, frequencies and context N: "
        f"a_ij = s^2 sum_k w_k cos((i - j - {t}) g_k), alpha -> 1 as s -> oo, and "
        "s^2 >= ln((N-1)(1-eps)/eps)/delta_N gives alpha >= 1 - eps in every row",
        holds, tuple(steps))


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


def figure_1_printed_logit() -> sp.Expr:
    r"""One pair's logit under Figure 1's assignment (``q = rho(g) psi``, ``k = psi``, unit scale):
    :math:`|\psi|^2\cos((j - i - 1) g)`.

    >>> figure_1_printed_logit()
    w*cos(g*(-i + j - 1))
    """
    return w * sp.cos((j - i - 1) * g)


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
    printed_closed = figure_1_printed_logit()
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


def off_pattern_mass() -> sp.Lambda:
    r"""Definition 5.1's off-pattern mass of a row, :math:`\sum_{j \ne i-t}\alpha_{ij} = S/(T + S)`,
    from the target's exponential ``T`` and the other keys' sum ``S``.

    >>> off_pattern_mass()(1, 0)
    0
    """
    target, rest = sp.symbols("T S", nonnegative=True)
    return sp.Lambda((target, rest), rest / (target + rest))


def positional_patterns_are_defined() -> Derivation:
    r"""Definition 5.1 (corrected, erratum E3): a head is eps-diagonal (eps-previous-token) when every
    row ``i >= t`` has :math:`\sum_{j \ne i-t}\alpha_{ij} < \varepsilon` (``t = 0``, resp. 1).

    For every row length (the other keys' exponentials sum to ``S``, any number of them): the
    off-pattern mass is :math:`1 - \alpha_{i,i-t}`; for :math:`\varepsilon \le 1/2` the target
    then outweighs every other key and the two patterns exclude each other; the printed sum
    (without :math:`\alpha_{ij}`) counts the ``i`` other keys and is never below (or equal to)
    :math:`\varepsilon < 1` past row 0, so only the corrected reading can be satisfied.

    >>> positional_patterns_are_defined().holds
    True
    """
    mm, count = sp.symbols("m n", integer=True, positive=True)
    exps = sp.IndexedBase("e", positive=True)
    rest = sp.Sum(exps[mm], (mm, 1, count))  # the other keys' exponentials, n of them
    S, Z = sp.symbols("S Z", nonnegative=True)
    mass = off_pattern_mass()(T, S)
    e0, c0 = sp.symbols("e0 c0", nonnegative=True)  # eps = 1/2 - e0 <= 1/2; row i = 1 + c0 >= 1
    h = sp.Symbol("h", positive=True)  # eps = 1/(1 + h) < 1
    eps_half = sp.Rational(1, 2)
    printed = sp.Sum(1, (mm, 1, count)).doit()  # sum_(j != i) 1 over the i other keys of row i
    derivation = derive_with_signs(
        "Def 5.1 (corrected): eps-diagonal / eps-previous-token heads have sum_(j != i-t) alpha_ij < eps in "
        "every row; for eps <= 1/2 the target is each row's largest weight and the two patterns exclude each other",
        [
            ("off-pattern mass S/(T + S) = 1 - alpha_(i,i-t) (the row's weights sum to 1)", mass - (1 - T / (T + S))),
            ("the printed first sum, without alpha_ij, is sum_(j != i) 1 = i (the number of other keys)",
             printed - count),
        ],
        [
            ("the other keys add S = sum_m e_m >= 0 (any number n of them)", rest, "nonnegative"),
            ("a single other key's weight is at most the off-pattern mass: (S + Z)/(T + S + Z) - Z/(T + S + Z) >= 0",
             mass.subs(S, S + Z) - Z / (T + S + Z), "nonnegative"),
            ("mass < eps <= 1/2 gives alpha_(i,i-t) > 1 - eps >= 1/2 > mass: the target outweighs every other key "
             "(1 - 2 eps >= 0 for eps = 1/2 - e0)", 1 - 2 * (eps_half - e0), "nonnegative"),
            ("the two patterns exclude each other: alpha_ii + alpha_(i,i-1) > 2(1 - eps) >= 1 would exceed the "
             "row's total 1", 2 * (1 - (eps_half - e0)) - 1, "nonnegative"),
            ("the printed sum is never below eps < 1 past row 0: i - eps > 0 for i = 1 + c0 >= 1, eps = 1/(1 + h)",
             (1 + c0) - 1 / (1 + h), "positive"),
        ],
    )
    return derivation


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


def pair_gap(weight: sp.Expr, distance: sp.Expr, freq: sp.Expr) -> sp.Expr:
    r"""One pair's share :math:`w_k(1 - \cos(r g_k))` of the gap :math:`D_r` to a competitor at distance ``r``.

    >>> pair_gap(2, 1, sp.pi / 2)
    2
    """
    return weight * (1 - sp.cos(distance * freq))


def band_gap_small_angle() -> Derivation:
    r"""Scaling a band's frequencies by :math:`\lambda` scales every gap :math:`D_r` by :math:`\lambda^2`.

    :math:`\sum_k w_k(1 - \cos(r\lambda h_k)) = \tfrac{\lambda^2 r^2}{2}\sum_k w_k h_k^2 + O(\lambda^4)`
    for any number ``P`` of pairs (the series is taken term by term, ``k`` symbolic), so the
    sharp scale :math:`s^2` (inversely proportional to the gaps at fixed ``N`` and ``eps``)
    grows like :math:`g_o^{-2}` as the band's top frequency ``g_o`` falls.

    >>> band_gap_small_angle().holds
    True
    """
    lam, rr = sp.symbols("lambda r", positive=True)
    h_k = sp.IndexedBase("h", positive=True)
    term = pair_gap(w_k[k], rr, lam * h_k[k])
    leading_term = lam**2 * rr**2 * w_k[k] * h_k[k] ** 2 / 2
    series_residual = sp.series(term, lam, 0, 4).removeO() - leading_term
    leading = sp.Sum(leading_term, (k, 1, P))
    scale = sp.Symbol("C", positive=True) / leading  # s^2 = C / D_min at fixed N and eps
    return derive_with_signs(
        "band gaps scale as lambda^2 as the band's frequencies scale by lambda, so s^2 ~ lambda^-2",
        [
            ("each pair: w_k (1 - cos(r lambda h_k)) = lambda^2 r^2 w_k h_k^2 / 2 + O(lambda^4), so for P pairs "
             "(P symbolic) D_r = lambda^2 r^2 sum_k w_k h_k^2 / 2 + O(lambda^4)", series_residual),
            ("d ln(s^2) / d ln(lambda) = -2 for s^2 = C / (leading gap)",
             sp.simplify(sp.diff(sp.log(scale), lam) * lam + 2)),
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
