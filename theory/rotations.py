r"""RoPE algebra in SymPy: 2x2 rotations, their composition and powers, the block-diagonal
rotary map, its norm, the relative logit, and the two coordinate layouts.

:math:`\rho(a)` is the counter-clockwise rotation by ``a`` radians and :math:`R^i` the
block-diagonal matrix with :math:`\rho(i g_k)` on pair ``k = 1..h``, ``h = d/2`` (SPEC §1, §3).
The general statements are proved with the number of pairs ``h`` a symbol: a vector is an
``IndexedBase`` ``x[k, c]`` (pair ``k``, component ``c = 1, 2``), a norm or a logit is a
``Sum`` over ``k = 1..h``, and each sum identity follows from its summand identity.
"""

from __future__ import annotations

import sympy as sp

from .derivation import Derivation, derive

__all__ = [
    "a",
    "chunk_logit",
    "chunk_score_closed_form",
    "chunk_score_is_norm_times_cosine",
    "freqs",
    "frequency",
    "g",
    "i",
    "interleaved_source",
    "j",
    "k1",
    "k2",
    "layouts_agree_up_to_permutation",
    "n",
    "pair_of",
    "q1",
    "q2",
    "rho",
    "rope_preserves_norm",
    "rope_score_depends_on_relative_position",
    "rotary_entry",
    "rotary_pair",
    "rotation_composition",
    "vector",
]

a, b, phi, g = sp.symbols("a b phi g", real=True)
i, j, n = sp.symbols("i j n", integer=True)
q1, q2, k1, k2 = sp.symbols("q1 q2 k1 k2", real=True)

pair = sp.Symbol("k", integer=True, positive=True)
"""The pair index ``k = 1..h`` of the sums."""
pairs = sp.Symbol("h", integer=True, positive=True)
"""The number of pairs ``h = d/2``, a symbol: the sums hold for every even ``d``."""
freqs = sp.IndexedBase("g", real=True)
"""``g[k]``: the frequency of pair ``k``, an arbitrary real number."""
query, key, vector = (sp.IndexedBase(name, real=True) for name in ("q", "kappa", "x"))
"""``q[k, c]``, ``kappa[k, c]``, ``x[k, c]``: component ``c`` of pair ``k`` of a query, a key, a vector."""


def rho(angle: sp.Expr) -> sp.Matrix:
    r"""The rotation :math:`\rho(a) = \begin{pmatrix}\cos a & -\sin a\\ \sin a & \cos a\end{pmatrix}`.

    >>> rho(sp.pi / 2)
    Matrix([
    [0, -1],
    [1,  0]])
    """
    return sp.Matrix([[sp.cos(angle), -sp.sin(angle)], [sp.sin(angle), sp.cos(angle)]])


def frequency(k: int, d: int, theta: sp.Expr | int) -> sp.Expr:
    r"""Exact frequency of pair ``k = 1 .. d/2``: :math:`g_k = \theta^{-2(k-1)/d}` (SPEC §1).

    >>> frequency(2, 4, 100)
    1/10
    """
    try:
        exponent = sp.Rational(-2 * (k - 1), d)
    except TypeError:  # symbolic k or d (integer symbols): the exponent stays a rational expression
        exponent = -2 * (sp.sympify(k) - 1) / sp.sympify(d)
    return sp.Pow(sp.sympify(theta), exponent)


def pair_of(v: sp.IndexedBase, k: sp.Expr) -> sp.Matrix:
    """Pair ``k`` of an indexed vector as a 2x1 matrix ``(v[k, 1], v[k, 2])``.

    >>> pair_of(vector, 3).T
    Matrix([[x[3, 1], x[3, 2]]])
    """
    return sp.Matrix([v[k, 1], v[k, 2]])


def rotary_entry(position: sp.Expr, row: tuple[sp.Expr, int], column: tuple[sp.Expr, int]) -> sp.Expr:
    r"""Entry ``((k, c), (l, c'))`` of :math:`R^i`: :math:`\delta_{kl}\,\rho(i g_l)_{cc'}` (block diagonal).

    >>> rotary_entry(0, (1, 1), (2, 1))
    0
    """
    (k, c), (l, c_) = row, column
    return sp.KroneckerDelta(k, l) * rho(position * freqs[l])[c - 1, c_ - 1]


def rotary_pair(position: sp.Expr, v: sp.IndexedBase, k: sp.Expr, h: sp.Expr) -> sp.Matrix:
    r"""Pair ``k`` of :math:`R^i v`, summed from the entries of :math:`R^i`:
    :math:`\sum_{l=1}^{h}\sum_{c'} \delta_{kl}\rho(ig_l)_{cc'} v_{l,c'}`.

    SymPy evaluates the Kronecker sum; for ``1 <= k <= h`` it is :math:`\rho(i g_k) v^{(k)}`.
    """
    l = sp.Dummy("l", integer=True)
    return sp.Matrix([
        sum(sp.Sum(rotary_entry(position, (k, c), (l, c_)) * v[l, c_], (l, 1, h)) for c_ in (1, 2)).doit()
        for c in (1, 2)
    ])


def rotation_composition() -> Derivation:
    r"""Eq. 2: :math:`\rho(a)\rho(b)=\rho(a+b)`, :math:`\rho(a)^\top=\rho(-a)=\rho(a)^{-1}`,
    and :math:`\rho(a)^n=\rho(na)` for every integer ``n``, negative ones included.

    The power is proved by induction in both directions: :math:`\rho(0) = I`, and if
    :math:`\rho(a)^n = \rho(na)` then multiplying by :math:`\rho(a)` gives :math:`\rho((n+1)a)`
    and multiplying by :math:`\rho(a)^{-1}` gives :math:`\rho((n-1)a)`, with ``n`` a symbolic
    integer. The eigen-decomposition :math:`\rho(a) = P\,\mathrm{diag}(e^{ia}, e^{-ia})P^{-1}`
    gives the same power in closed form, also at ``n = -m`` for a positive symbol ``m``.

    >>> rotation_composition().holds
    True
    """
    m = sp.Symbol("m", integer=True, positive=True)
    eigvecs = sp.Matrix([[1, 1], [-sp.I, sp.I]])
    diag = lambda t: sp.diag(sp.exp(sp.I * t), sp.exp(-sp.I * t))  # noqa: E731
    power = lambda e: eigvecs * diag(a) ** e * eigvecs.inv()  # noqa: E731
    return derive(
        "rho(a) rho(b) = rho(a+b); rho(a)^T = rho(-a) = rho(a)^-1; rho(a)^n = rho(n a) for every integer n",
        [
            ("rho(a) rho(b) - rho(a+b) = 0", rho(a) * rho(b) - rho(a + b)),
            ("rho(a)^T - rho(-a) = 0", rho(a).T - rho(-a)),
            ("rho(a)^-1 - rho(-a) = 0 (SymPy's inverse)", rho(a).inv() - rho(-a)),
            ("rho(a)^T rho(a) - I = 0", rho(a).T * rho(a) - sp.eye(2)),
            ("induction base: rho(0 a) - I = 0", rho(0 * a) - sp.eye(2)),
            ("induction up, n -> n+1: rho(n a) rho(a) - rho((n+1) a) = 0 for symbolic integer n",
             rho(n * a) * rho(a) - rho((n + 1) * a)),
            ("induction down, n -> n-1: rho(n a) rho(a)^-1 - rho((n-1) a) = 0 for symbolic integer n",
             rho(n * a) * rho(a).inv() - rho((n - 1) * a)),
            ("rho(a) = P diag(e^{ia}, e^{-ia}) P^-1", power(1) - rho(a)),
            ("P diag(e^{ia}, e^{-ia})^n P^-1 - rho(n a) = 0 for symbolic integer n", power(n) - rho(n * a)),
            ("the same at n = -m, m a positive integer symbol", power(-m) - rho(-m * a)),
        ],
    )


def _block_step(position: sp.Expr, v: sp.IndexedBase) -> tuple[str, sp.Matrix]:
    """The structural step: pair k of R^i v is rho(i g_k) v^(k), for any k in 1..h.

    A pair inside the range is written k = 1 + u, h = k + w with u, w >= 0 integer symbols,
    so that SymPy can decide the Kronecker sum's range condition for a symbolic k and h.
    """
    u, w = sp.symbols("u w", integer=True, nonnegative=True)
    k, h = 1 + u, 1 + u + w
    return (f"block diagonal: sum over l = 1..h, c' of delta_kl rho({position} g_l)_cc' {v}_(l,c') "
            f"= (rho({position} g_k) {v}^(k))_c for every pair 1 <= k <= h (h symbolic)",
            rotary_pair(position, v, k, h) - rho(position * freqs[k]) * pair_of(v, k))


def _pair_sum(summand: sp.Expr) -> sp.Sum:
    return sp.Sum(summand, (pair, 1, pairs))


def rope_preserves_norm() -> Derivation:
    r""":math:`|R^i x|^2 = \sum_{k=1}^{h} |\rho(i g_k) x^{(k)}|^2 = \sum_{k=1}^{h} |x^{(k)}|^2 = |x|^2`
    for every number of pairs ``h = d/2``, every position ``i`` and every frequency ``g_k``.

    >>> rope_preserves_norm().holds
    True
    """
    x_k = pair_of(vector, pair)
    rotated = rho(i * freqs[pair]) * x_k
    lhs, rhs = (rotated.T * rotated)[0], (x_k.T * x_k)[0]
    return derive(
        "|R^i x| = |x| for every even d = 2h (h symbolic), every position and every frequency",
        [
            _block_step(i, vector),
            ("pair k: |rho(i g_k) x^(k)|^2 - |x^(k)|^2 = 0", lhs - rhs),
            ("sum over k = 1..h: sum |rho(i g_k) x^(k)|^2 - sum |x^(k)|^2 = 0, h symbolic",
             _pair_sum(lhs) - _pair_sum(rhs)),
        ],
    )


def chunk_logit(query_position: sp.Expr = i, key_position: sp.Expr = j, freq: sp.Expr = g,
                q: tuple[sp.Expr, sp.Expr] = (q1, q2), k: tuple[sp.Expr, sp.Expr] = (k1, k2)) -> sp.Expr:
    r"""One pair's logit :math:`(\rho(i g) q)^\top (\rho(j g) k)` reduced to the relative form.

    .. math:: (q_1k_1 + q_2k_2)\cos((j-i)g) + (q_2k_1 - q_1k_2)\sin((j-i)g).

    The result is SymPy's simplification of the matrix product, in the given query and key
    components (default the symbols ``q1, q2, k1, k2``), positions and frequency.

    >>> chunk_logit(0, 0, g)
    k1*q1 + k2*q2
    """
    (a1, a2), (b1, b2) = q, k
    rotated_q = rho(query_position * freq) * sp.Matrix([a1, a2])
    product = (rotated_q.T * (rho(key_position * freq) * sp.Matrix([b1, b2])))[0]
    delta = (key_position - query_position) * freq
    relative = (a1 * b1 + a2 * b2) * sp.cos(delta) + (a2 * b1 - a1 * b2) * sp.sin(delta)
    # The relative form is returned only after SymPy has confirmed it equals the product.
    if not derive("chunk logit", [("product - relative", product - relative)]).holds:
        raise AssertionError("SymPy could not reduce the chunk logit to the relative form")
    return relative


def _pair_logit(v: sp.IndexedBase, w: sp.IndexedBase, vi: sp.Expr, wj: sp.Expr, k: sp.Expr = pair) -> sp.Expr:
    """(rho(vi g_k) v^(k))^T (rho(wj g_k) w^(k)), the matrix product itself."""
    return ((rho(vi * freqs[k]) * pair_of(v, k)).T * (rho(wj * freqs[k]) * pair_of(w, k)))[0]


def rope_score_depends_on_relative_position() -> Derivation:
    r"""Eq. 3: :math:`(R^i q)^\top (R^j k) = q^\top R^{j-i} k`, hence :math:`a_{i+s,j+s} = a_{ij}`,
    for every number of pairs ``h = d/2``, integers ``i, j, s`` and real frequencies ``g_k``.

    The logit is :math:`\sum_{k=1}^{h} (\rho(ig_k)q^{(k)})^\top(\rho(jg_k)k^{(k)})` (the block
    step); each summand equals :func:`chunk_logit`'s relative form and
    :math:`q^{(k)\top}\rho((j-i)g_k)k^{(k)}`, so the sums agree for symbolic ``h``.

    >>> rope_score_depends_on_relative_position().holds
    True
    """
    s = sp.Symbol("s", integer=True)
    q_k, k_k = pair_of(query, pair), pair_of(key, pair)
    product = _pair_logit(query, key, i, j)
    closed_form = chunk_logit(i, j, freqs[pair], (query[pair, 1], query[pair, 2]), (key[pair, 1], key[pair, 2]))
    relative = (q_k.T * rho((j - i) * freqs[pair]) * k_k)[0]
    shifted = _pair_logit(query, key, i + s, j + s)
    return derive(
        "(R^i q)^T (R^j k) = q^T R^(j-i) k and a_(i+s, j+s) = a_ij for every even d = 2h (h symbolic)",
        [
            _block_step(i, query),
            _block_step(j, key),
            ("pair k: rho(i g_k)^T rho(j g_k) - rho((j-i) g_k) = 0",
             rho(i * freqs[pair]).T * rho(j * freqs[pair]) - rho((j - i) * freqs[pair])),
            ("pair k: (rho(i g_k) q^(k))^T (rho(j g_k) k^(k)) - chunk_logit(i, j, g_k) = 0", product - closed_form),
            ("pair k: chunk_logit(i, j, g_k) - q^(k)T rho((j-i) g_k) k^(k) = 0", closed_form - relative),
            ("sum over k = 1..h: (R^i q)^T (R^j k) - q^T R^(j-i) k = 0, h symbolic",
             _pair_sum(product) - _pair_sum(relative)),
            ("sum over k = 1..h: a_(i+s, j+s) - a_ij = 0 for every integer shift s, h symbolic",
             _pair_sum(shifted) - _pair_sum(product)),
        ],
    )


def chunk_score_closed_form() -> sp.Lambda:
    r"""The right-hand side of ``chunk_score_is_norm_times_cosine`` in polar coordinates:
    :math:`(r_x, \alpha, r_y, \beta, \phi) \mapsto r_x r_y \cos(\phi + \beta - \alpha)`.

    >>> chunk_score_closed_form()(2, 0, 3, sp.pi / 2, 0)
    0
    """
    rx, ry = sp.symbols("r_x r_y", nonnegative=True)
    alpha, beta = sp.symbols("alpha beta", real=True)
    return sp.Lambda((rx, alpha, ry, beta, phi), rx * ry * sp.cos(phi + beta - alpha))


def chunk_score_is_norm_times_cosine() -> Derivation:
    r""":math:`x^\top\rho(\phi)y = |x||y|\cos(\phi + \angle y - \angle x)` (Thm 6.1's proof).

    With :math:`x = r_x(\cos\alpha, \sin\alpha)`, :math:`y = r_y(\cos\beta, \sin\beta)`: every
    2-vector has this form, so the identity holds for all ``x, y`` and every real ``phi``.

    >>> chunk_score_is_norm_times_cosine().holds
    True
    """
    rx, ry = sp.symbols("r_x r_y", nonnegative=True)
    alpha, beta = sp.symbols("alpha beta", real=True)
    x = sp.Matrix([rx * sp.cos(alpha), rx * sp.sin(alpha)])
    y = sp.Matrix([ry * sp.cos(beta), ry * sp.sin(beta)])
    score = (x.T * rho(phi) * y)[0]
    return derive(
        "x^T rho(phi) y = |x| |y| cos(phi + angle(y) - angle(x))",
        [
            ("|x| - r_x = 0", sp.sqrt((x.T * x)[0]) - rx),
            ("x^T rho(phi) y - chunk_score_closed_form(r_x, alpha, r_y, beta, phi) = 0",
             score - chunk_score_closed_form()(rx, alpha, ry, beta, phi)),
        ],
    )


def interleaved_source(coordinate: sp.Expr, h: sp.Expr) -> sp.Expr:
    r"""The half-layout coordinate that interleaved coordinate ``c`` holds (``h = d/2`` pairs):
    ``c/2`` for even ``c``, ``(c-1)/2 + h`` for odd ``c``; so pair ``(2m, 2m+1)`` holds ``(m, m+h)``.

    >>> [interleaved_source(c, 3) for c in range(6)]
    [0, 3, 1, 4, 2, 5]
    """
    c = sp.sympify(coordinate)
    return sp.Piecewise((c / 2, sp.Eq(sp.Mod(c, 2), 0)), ((c - 1) / 2 + h, True))


def _interleaved_target(u: sp.Expr, h: sp.Expr) -> sp.Expr:
    """Where half coordinate ``u`` goes in the interleaved layout: ``2u`` below ``h``, else ``2(u-h)+1``."""
    return sp.Piecewise((2 * u, sp.StrictLessThan(u, h)), (2 * (u - h) + 1, True))


def layout_block(angles: tuple[sp.Expr, ...], layout: str) -> sp.Matrix:
    """The ``d x d`` rotary matrix with ``rho(angles[m])`` on pair ``m`` of ``layout`` ("half" or "interleaved")."""
    d = 2 * len(angles)
    mat = sp.zeros(d, d)
    for m, t in enumerate(angles):
        first, second = (m, m + d // 2) if layout == "half" else (2 * m, 2 * m + 1)
        block = rho(t)
        for r, row in enumerate((first, second)):
            for c, col in enumerate((first, second)):
                mat[row, col] = block[r, c]
    return mat


def layouts_agree_up_to_permutation(finite_dims: tuple[int, ...] = ()) -> Derivation:
    r"""Half-split and interleaved RoPE give the same logit once q and k are permuted by
    :func:`interleaved_source`, for every even ``d = 2h`` (``h`` symbolic) and real angles.

    In the half layout pair ``m = 0..h-1`` is ``(m, m+h)``, in the interleaved one ``(2m, 2m+1)``;
    each layout's logit is the sum over its pairs of :func:`chunk_logit`. With
    ``q'_c = q_{interleaved_source(c)}`` the interleaved summand of pair ``m`` is the half
    summand of pair ``m``, so the sums agree. ``finite_dims`` adds the matrix identity
    :math:`P R_{half} P^\top = R_{interleaved}` for those ``d`` with symbolic angles.

    >>> layouts_agree_up_to_permutation().holds
    True
    """
    m, w = sp.symbols("m w", integer=True, nonnegative=True)
    h = pairs
    vq, vk, t = sp.IndexedBase("q", real=True), sp.IndexedBase("kappa", real=True), sp.IndexedBase("t", real=True)

    def logit(a1, a2, b1, b2):
        return chunk_logit(i, j, t[m], (a1, a2), (b1, b2))

    half = logit(vq[m], vq[m + h], vk[m], vk[m + h])
    src = lambda c: interleaved_source(c, h)  # noqa: E731
    interleaved = logit(vq[src(2 * m)], vq[src(2 * m + 1)], vk[src(2 * m)], vk[src(2 * m + 1)])
    sums = lambda e: sp.Sum(e, (m, 0, h - 1))  # noqa: E731
    facts = [
        ("index map: interleaved coordinate 2m holds half coordinate m", src(2 * m) - m),
        ("index map: interleaved coordinate 2m+1 holds half coordinate m + h", src(2 * m + 1) - (m + h)),
        ("the map u -> 2u (u < h), 2(u - h) + 1 (u >= h) is its two-sided inverse, so it is a permutation "
         "of 0..2h-1 (u = m < h written as h = m + 1 + w, w >= 0)", sp.Matrix([
             src(_interleaved_target(m, m + 1 + w)).subs(h, m + 1 + w) - m,
             src(_interleaved_target(m + h, h)) - (m + h),
             _interleaved_target(src(2 * m).subs(h, m + 1 + w), m + 1 + w) - 2 * m,
             _interleaved_target(src(2 * m + 1), h) - (2 * m + 1)])),
        ("pair m: interleaved summand on permuted q, k - half summand = 0", interleaved - half),
        ("sum over m = 0..h-1: interleaved logit of (q', k') - half logit of (q, k) = 0, h symbolic",
         sums(interleaved) - sums(half)),
    ]
    for d in finite_dims:
        angles = sp.symbols(f"t0:{d // 2}", real=True)
        perm = sp.zeros(d, d)
        for c in range(d):
            perm[c, int(interleaved_source(c, d // 2))] = 1
        facts.append((f"d = {d}: P R_half P^T - R_interleaved = 0 (symbolic angles)",
                      perm * layout_block(angles, "half") * perm.T - layout_block(angles, "interleaved")))
    return derive("half and interleaved RoPE agree after the pair-matching permutation, every even d", facts)
