r"""Randomised positions (Ruoss et al. 2023): sorted positions drawn without replacement.

A sequence of ``N`` tokens gets ``N`` distinct positions drawn uniformly from ``1 .. L`` and
sorted. The ``N + 1`` gaps (with sentinels 0 and ``L + 1``) are exchangeable and sum to
``L + 1``, so tokens ``r`` apart in the sequence are on average
:math:`r (L + 1) / (N + 1)` positions apart: every distance is stretched by about ``L / N``,
which is why an all-ones RoPE curve, read by index, decays faster as ``L`` grows.
"""

from __future__ import annotations

import itertools

import sympy as sp

from .derivation import Derivation

__all__ = ["mean_gap", "randomised_distance_is_stretched"]


def mean_gap(max_position: int, tokens: int, start: int, index_distance: int) -> sp.Rational:
    r"""Exact :math:`E[p_{(s + r)} - p_{(s)}]` over every ``N``-subset of ``1..L`` (equally likely).

    ``start`` is the 0-based sequence index ``s``, ``index_distance`` is ``r``. Exact
    rational arithmetic by enumeration, so only for small ``L``.

    >>> mean_gap(6, 2, 0, 1)
    7/3
    """
    total, count = sp.Integer(0), 0
    for subset in itertools.combinations(range(1, max_position + 1), tokens):
        total += subset[start + index_distance] - subset[start]
        count += 1
    return total / count


def randomised_distance_is_stretched(max_l: int = 9) -> Derivation:
    r"""For every ``L <= max_l``, ``2 <= N <= L``, start ``s`` and ``1 <= r < N - s``:
    :math:`E[p_{(s+r)} - p_{(s)}] = r (L + 1) / (N + 1)`, exactly (enumeration).

    >>> randomised_distance_is_stretched(6).holds
    True
    """
    failures, cases = [], 0
    for big_l in range(2, max_l + 1):
        for n in range(2, big_l + 1):
            for start in range(n - 1):
                for r in range(1, n - start):
                    cases += 1
                    if mean_gap(big_l, n, start, r) != sp.Rational(r * (big_l + 1), n + 1):
                        failures.append((big_l, n, start, r))
    ok = not failures
    step = (f"{'proved' if ok else 'NOT proved'}: E[p_(s+r) - p_(s)] = r (L+1)/(N+1) in "
            f"all {cases} cases L <= {max_l} (exact enumeration of every subset)")
    return Derivation(
        "sorted positions drawn from 1..L: tokens r apart are r (L+1)/(N+1) apart on average, at every start",
        ok,
        (step,) if ok else (step, f"fails at (L, N, s, r) = {failures[:3]}"),
    )
