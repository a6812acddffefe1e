r"""RoFormer's long-term-decay bound by Abel summation (Su et al. 2021, §3.4.3).

Write the logit as :math:`\mathrm{Re}\sum_{k=0}^{n-1} h_k e^{i r g_k}` with complex pair
products :math:`h_k = (q_1 + i q_2)\overline{(k_1 + i k_2)}` and partial sums
:math:`S_j = \sum_{k<j} e^{i r g_k}` (:math:`S_0 = 0`). Summation by parts gives

.. math:: \sum_{k=0}^{n-1} h_k e^{i r g_k} = h_{n-1} S_n - \sum_{k=0}^{n-2} S_{k+1}(h_{k+1} - h_k),

and with RoFormer's convention :math:`h_n = 0` the boundary term joins the sum:
:math:`-\sum_{k=0}^{n-1} S_{k+1}(h_{k+1}-h_k)`. The triangle inequality then gives
:math:`|\sum_k h_k e^{i r g_k}| \le \max_k |h_{k+1}-h_k| \sum_{j=1}^{n} |S_j|`.
"""

from __future__ import annotations

import sympy as sp

from .derivation import Derivation, derive


def summation_by_parts() -> Derivation:
    r"""The Abel identity for every ``n``, by induction, and RoFormer's form for small ``n``.

    Base case ``n = 1``: :math:`h_0 e_0 = h_0 S_1`. Step ``n -> n+1``: the left side grows by
    :math:`h_n e_n`; the right side changes by
    :math:`h_n S_{n+1} - h_{n-1} S_n - S_n (h_n - h_{n-1})` with :math:`S_{n+1} = S_n + e_n`,
    which SymPy reduces to :math:`h_n e_n`. RoFormer's version with :math:`h_n = 0` is then
    expanded term by term for ``n = 1 .. 8``.

    >>> summation_by_parts().holds
    True
    """
    h_prev, h_now, s_now, e_now, h0, e0 = sp.symbols("h_prev h_n S_n e_n h_0 e_0")
    step_right = h_now * (s_now + e_now) - h_prev * s_now - s_now * (h_now - h_prev)
    facts = [
        ("base case n = 1: h_0 e_0 - h_0 S_1 = 0 with S_1 = e_0", h0 * e0 - h0 * e0),
        ("induction step: the right side grows by h_n e_n", step_right - h_now * e_now),
    ]
    for n in range(1, 9):
        h = list(sp.symbols(f"h0:{n}")) + [sp.Integer(0)]  # RoFormer's h_n = 0
        e = sp.symbols(f"e0:{n}")
        partial = [sum(e[:m], sp.Integer(0)) for m in range(n + 1)]  # S_0 .. S_n
        left = sum(h[k] * e[k] for k in range(n))
        right = -sum(partial[k + 1] * (h[k + 1] - h[k]) for k in range(n))
        facts.append((f"sum h_k e_k = -sum S_(k+1) (h_(k+1) - h_k), h_n = 0, n = {n}", sp.expand(left - right)))
    return derive(
        "sum_k h_k e^(i r g_k) = -sum_k S_(k+1) (h_(k+1) - h_k) with h_n = 0, S_j = sum_(k<j) e^(i r g_k)",
        facts,
    )
