r"""RoPE algebra in SymPy: 2x2 rotations, their composition, powers, and the relative logit.

:math:`\rho(a)` is the counter-clockwise rotation by ``a`` radians and :math:`R^i` the
block-diagonal matrix with :math:`\rho(i g_k)` on pair ``k`` (SPEC §1, §3).
"""

from __future__ import annotations

import sympy as sp

from .derivation import Derivation, derive

a, b, phi, g = sp.symbols("a b phi g", real=True)
i, j, n = sp.symbols("i j n", integer=True)
q1, q2, k1, k2 = sp.symbols("q1 q2 k1 k2", real=True)


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
    return sp.Pow(sp.sympify(theta), sp.Rational(-2 * (k - 1), d))


def rotation_composition() -> Derivation:
    r"""Eq. 2: :math:`\rho(a)\rho(b)=\rho(a+b)`, :math:`\rho(a)^\top=\rho(-a)=\rho(a)^{-1}`,
    and :math:`\rho(a)^n=\rho(na)` for every integer ``n``.

    The power is proved for symbolic integer ``n`` through the eigen-decomposition
    :math:`\rho(a) = P\,\mathrm{diag}(e^{ia}, e^{-ia})P^{-1}` with a fixed ``P``: the
    diagonal factor raised to ``n`` is :math:`\mathrm{diag}(e^{ina}, e^{-ina})`.

    >>> rotation_composition().holds
    True
    """
    eigvecs = sp.Matrix([[1, 1], [-sp.I, sp.I]])
    diag = lambda t: sp.diag(sp.exp(sp.I * t), sp.exp(-sp.I * t))  # noqa: E731
    decomposition = eigvecs * diag(a) * eigvecs.inv()
    power = eigvecs * diag(a) ** n * eigvecs.inv()
    return derive(
        "rho(a) rho(b) = rho(a+b); rho(a)^T = rho(-a) = rho(a)^-1; rho(a)^n = rho(n a), n in Z",
        [
            ("rho(a) rho(b) - rho(a+b) = 0", rho(a) * rho(b) - rho(a + b)),
            ("rho(a)^T - rho(-a) = 0", rho(a).T - rho(-a)),
            ("rho(a)^T rho(a) - I = 0", rho(a).T * rho(a) - sp.eye(2)),
            ("rho(a) = P diag(e^{ia}, e^{-ia}) P^-1", decomposition - rho(a)),
            ("P diag(e^{ia}, e^{-ia})^n P^-1 - rho(n a) = 0 for integer n", power - rho(n * a)),
        ],
    )


def rope_preserves_norm() -> Derivation:
    r""":math:`|\rho(a) x|^2 = |x|^2` for each pair, hence :math:`|R^i x| = |x|`.

    >>> rope_preserves_norm().holds
    True
    """
    x = sp.Matrix([q1, q2])
    y = rho(a) * x
    return derive("|R^i x| = |x|", [("|rho(a) x|^2 - |x|^2 = 0", (y.T * y)[0] - (x.T * x)[0])])


def chunk_logit(query_position: sp.Expr = i, key_position: sp.Expr = j, freq: sp.Expr = g) -> sp.Expr:
    r"""One pair's logit :math:`(\rho(i g) q)^\top (\rho(j g) k)` reduced to the relative form.

    .. math:: (q_1k_1 + q_2k_2)\cos((j-i)g) + (q_2k_1 - q_1k_2)\sin((j-i)g).

    The result is SymPy's simplification of the matrix product, in symbols
    ``q1, q2, k1, k2`` and the given positions and frequency.
    """
    q, k = sp.Matrix([q1, q2]), sp.Matrix([k1, k2])
    product = ((rho(query_position * freq) * q).T * (rho(key_position * freq) * k))[0]
    delta = (key_position - query_position) * freq
    relative = (q1 * k1 + q2 * k2) * sp.cos(delta) + (q2 * k1 - q1 * k2) * sp.sin(delta)
    # The relative form is returned only after SymPy has confirmed it equals the product.
    if not derive("chunk logit", [("product - relative", product - relative)]).holds:
        raise AssertionError("SymPy could not reduce the chunk logit to the relative form")
    return relative


def rope_score_depends_on_relative_position() -> Derivation:
    r"""Eq. 3: :math:`(R^i q)^\top (R^j k) = q^\top R^{j-i} k`, hence
    :math:`a_{i+s,j+s} = a_{ij}`.

    >>> rope_score_depends_on_relative_position().holds
    True
    """
    s = sp.Symbol("s", integer=True)
    q, k = sp.Matrix([q1, q2]), sp.Matrix([k1, k2])
    product = ((rho(i * g) * q).T * (rho(j * g) * k))[0]
    relative = (q.T * rho((j - i) * g) * k)[0]
    shifted = ((rho((i + s) * g) * q).T * (rho((j + s) * g) * k))[0]
    return derive(
        "(R^i q)^T (R^j k) = q^T R^(j-i) k and a_(i+s, j+s) = a_ij",
        [
            ("rho(ig)^T rho(jg) - rho((j-i)g) = 0", rho(i * g).T * rho(j * g) - rho((j - i) * g)),
            ("(rho(ig) q)^T (rho(jg) k) - q^T rho((j-i)g) k = 0", product - relative),
            ("shifting both positions by s leaves the logit unchanged", shifted - product),
        ],
    )


def chunk_score_is_norm_times_cosine() -> Derivation:
    r""":math:`x^\top\rho(\phi)y = |x||y|\cos(\phi + \angle y - \angle x)` (Thm 6.1's proof).

    With :math:`x = r_x(\cos\alpha, \sin\alpha)`, :math:`y = r_y(\cos\beta, \sin\beta)`.

    >>> chunk_score_is_norm_times_cosine().holds
    True
    """
    rx, ry = sp.symbols("r_x r_y", positive=True)
    alpha, beta = sp.symbols("alpha beta", real=True)
    x = sp.Matrix([rx * sp.cos(alpha), rx * sp.sin(alpha)])
    y = sp.Matrix([ry * sp.cos(beta), ry * sp.sin(beta)])
    score = (x.T * rho(phi) * y)[0]
    return derive(
        "x^T rho(phi) y = |x| |y| cos(phi + angle(y) - angle(x))",
        [("x^T rho(phi) y - r_x r_y cos(phi + beta - alpha) = 0", score - rx * ry * sp.cos(phi + beta - alpha))],
    )


def chunk_score_closed_form() -> sp.Lambda:
    r"""The right-hand side of ``chunk_score_is_norm_times_cosine`` as a function of
    ``(x1, x2, y1, y2, phi)``, with :math:`\angle` written via ``atan2``."""
    x1, x2, y1, y2 = sp.symbols("x1 x2 y1 y2", real=True)
    rhs = sp.sqrt(x1**2 + x2**2) * sp.sqrt(y1**2 + y2**2) * sp.cos(phi + sp.atan2(y2, y1) - sp.atan2(x2, x1))
    return sp.Lambda((x1, x2, y1, y2, phi), rhs)
