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

__all__ = ["h", "summation_by_parts"]

n = sp.Symbol("n", integer=True, positive=True)
_k, _i = sp.symbols("k i", integer=True)
h, e = sp.IndexedBase("h"), sp.IndexedBase("e")


def partial_sum(m: sp.Expr) -> sp.Sum:
    r""":math:`S_m = \sum_{i=0}^{m-1} e_i` (``e_i`` stands for :math:`e^{i r g_i}`)."""
    return sp.Sum(e[_i], (_i, 0, m - 1))


def abel_sides(m: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    r"""Both sides of the identity for ``m`` terms: :math:`\sum_{k<m} h_k e_k` and :math:`h_{m-1}S_m - \sum_{k\le m-2} S_{k+1}(h_{k+1}-h_k)`."""
    left = sp.Sum(h[_k] * e[_k], (_k, 0, m - 1))
    right = h[m - 1] * partial_sum(m) - sp.Sum(partial_sum(_k + 1) * (h[_k + 1] - h[_k]), (_k, 0, m - 2))
    return left, right


def _peel(total: sp.Sum) -> tuple[sp.Expr, sp.Expr]:
    """``Sum(f, (k, a, b)) = Sum(f, (k, a, b - 1)) + f(b)``: the peeled form and the residual SymPy must reduce."""
    (index, lower, upper), = total.limits
    last = total.function.subs(index, upper)
    peeled = sp.Sum(total.function, (index, lower, upper - 1)) + last
    # sum_simplify joins Sums over adjacent ranges, so this residual is reduced by SymPy, not assumed
    residual = sp.Sum(total.function, (index, lower, upper - 1)) + sp.Sum(total.function, (index, upper, upper)) - total
    return peeled, residual


def summation_by_parts() -> Derivation:
    r"""The Abel identity for every ``n >= 1`` by induction, and RoFormer's form with :math:`h_n = 0`.

    Base case: both sides of :func:`abel_sides` at ``n = 1``, evaluated by SymPy. Step
    ``n -> n + 1`` with symbolic ``n``: each Sum over ``n + 1`` terms is its Sum over ``n``
    terms plus the last term (SymPy joins the adjacent ranges), and then the difference of the
    two sides at ``n + 1`` minus that at ``n`` reduces to 0. RoFormer's form: peeling the last
    term of :math:`\sum_{k<n} S_{k+1}(h_{k+1} - h_k)` with :math:`h_n = 0` gives the boundary
    term :math:`-h_{n-1}S_n`.

    >>> summation_by_parts().holds
    True
    """
    left, right = abel_sides(n)
    left_next, right_next = abel_sides(n + 1)
    left_peeled, left_peel = _peel(left_next)
    tail_next = sp.Sum(partial_sum(_k + 1) * (h[_k + 1] - h[_k]), (_k, 0, n - 1))  # the Sum in right_next
    tail_peeled, tail_peel = _peel(tail_next)
    s_peeled, s_peel = _peel(partial_sum(n + 1))
    # the peeled forms leave only the Sums of the n-term identity
    right_next_peeled = h[n] * s_peeled - tail_peeled
    step = (left_peeled - right_next_peeled) - (left - right)
    roformer = (-tail_peeled).subs(h[n], 0) - right
    facts = [
        ("base case n = 1: sum_(k<1) h_k e_k - (h_0 S_1 - empty sum) = 0", (left - right).subs(n, 1).doit()),
        ("peel: sum_(k<n+1) h_k e_k = sum_(k<n) h_k e_k + h_n e_n", left_peel),
        ("peel: S_(n+1) = S_n + e_n", s_peel),
        ("peel: sum_(k<=n-1) S_(k+1) (h_(k+1) - h_k) = sum_(k<=n-2) ... + S_n (h_n - h_(n-1))", tail_peel),
        ("the right side at n + 1 is h_n S_(n+1) - that Sum", right_next - (h[n] * partial_sum(n + 1) - tail_next)),
        ("induction step, symbolic n: (left - right)(n + 1) - (left - right)(n) = 0", sp.expand(step)),
        ("RoFormer's form, symbolic n: with h_n = 0, -sum_(k<n) S_(k+1) (h_(k+1) - h_k) equals the right side",
         sp.expand(roformer)),
    ]
    return derive(
        "for every n >= 1: sum_(k<n) h_k e^(i r g_k) = -sum_(k<n) S_(k+1) (h_(k+1) - h_k) with h_n = 0, "
        "S_j = sum_(k<j) e^(i r g_k)",
        facts,
    )
