r"""The Prop 3.1 head: query ``q`` and key :math:`R^r q` at every position.

Every token carries the same query and the same key, so the logit of row ``i`` and column
``j`` depends on ``t = i - j`` only (:mod:`ropelab.constructions.relative_position`): one curve
``c(t)``, ``t = 0 .. N-1``, holds every row of an ``N``-token head. "For every row
``i >= r`` the argmax over ``j <= i`` is ``j = i - r``" becomes "``c(r)`` beats every
``c(t)``, ``t != r``, in every prefix ``t <= i``", an ``O(N)`` prefix scan over an
``O(N d)`` curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from . import relative_position, rotary
from . import validation as _v

__all__ = ["near_competitors", "rotated_key", "rotated_key_curve", "row_argmax"]


def rotated_key(q: object, shift: int, freqs: object) -> jax.Array:
    r"""The key :math:`k = R^{r} q` of Prop 3.1 (``shift`` is ``r``).

    Shapes: ``q`` ``(d,)``, ``freqs`` ``(d/2,)``; returns ``(d,)``. A zero query gives
    every logit 0 and no preferred distance, so it is refused.

    >>> import numpy as np
    >>> np.round(np.asarray(rotated_key(np.array([1.0, 0.0]), 1, [np.pi / 2])), 12).tolist()
    [0.0, 1.0]
    """
    q = np.asarray(_v.finite_vector(q, "q"), dtype=np.float64)
    if q.ndim != 1:
        raise ValueError(f"q must be a vector of shape (d,), got shape {q.shape}")
    if not np.any(q):
        raise ValueError("q must be a nonzero vector: with q = 0 every logit is 0 and no distance is preferred")
    shift = int(_v.positions(shift, "shift"))
    return rotary.apply(q, shift, freqs)


def rotated_key_curve(q: object, shift: int, freqs: object, length: int) -> np.ndarray:
    r"""``c(t) = q^T R^{-t} R^{r} q`` for ``t = 0 .. length-1``: every row of the Prop 3.1 head.

    Row ``i`` puts logit ``c(t)`` on column ``j = i - t``. Shapes: ``q`` ``(d,)``, returns
    ``(length,)`` float64; cost ``O(length * d)``. Needs ``jax_enable_x64``.

    >>> import numpy as np
    >>> c = rotated_key_curve(np.array([1.0, 0.0]), 2, [np.pi / 2], 4)
    >>> np.round(c, 12).tolist()
    [-1.0, 0.0, 1.0, 0.0]
    """
    return relative_position.logit_curve(q, np.asarray(rotated_key(q, shift, freqs)), freqs, length)


@dataclass(frozen=True)
class RowArgmax:
    """How the rows ``i >= r`` of a position-only head choose their maximum.

    ``wrong_rows`` counts rows whose maximum over ``t <= i`` is not uniquely at ``t = r``
    (ties count as wrong); ``first_wrong_row`` is the smallest such ``i`` (-1 if none);
    ``runner_up`` is the best ``t != r`` of the whole curve and ``margin`` is
    ``c(r) - c(runner_up)`` (what the last row, which sees every distance, wins by).
    """

    rows: int
    wrong_rows: int
    first_wrong_row: int
    runner_up: int
    margin: float


def row_argmax(curve: np.ndarray, shift: int) -> RowArgmax:
    r"""Check every row ``i >= r``: is :math:`\arg\max_{t \le i} c(t) = r`, uniquely?

    Row ``i`` sees ``t = 0 .. i``; the competitors of ``t = r`` in row ``i`` are ``t < r``
    and ``r < t <= i``, so one prefix maximum over ``t > r`` answers every row in ``O(N)``.

    >>> row_argmax(np.array([0.0, 2.0, 1.0, 2.0, 3.0]), 1)
    RowArgmax(rows=4, wrong_rows=2, first_wrong_row=3, runner_up=4, margin=-1.0)
    """
    c = np.asarray(curve, dtype=np.float64)
    n = c.size
    if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)) or not 0 <= shift < n:
        raise ValueError(f"shift must be an integer in [0, {n - 1}] (the curve's length - 1), got {shift!r}")
    best = c[shift]
    before = np.max(c[:shift]) if shift else -np.inf
    after = np.maximum.accumulate(c[shift + 1:])  # row shift + 1 + m sees after[m]
    rival = np.concatenate([[before], np.maximum(before, after)])  # rows shift .. n-1
    wrong = rival >= best
    others = np.concatenate([c[:shift], c[shift + 1:]])
    if others.size:
        position = int(np.argmax(others))
        runner_up = position if position < shift else position + 1
        margin = float(best - c[runner_up])
    else:
        runner_up, margin = -1, float("inf")
    first = int(np.argmax(wrong)) + shift if wrong.any() else -1
    return RowArgmax(rows=int(n - shift), wrong_rows=int(wrong.sum()), first_wrong_row=first,
                     runner_up=runner_up, margin=margin)


def near_competitors(curve: np.ndarray, shift: int, within: float) -> np.ndarray:
    """Distances ``t != shift`` whose logit is within ``within`` of ``c(shift)`` (or above it).

    These are the competitors a float64 curve cannot order by itself when ``within`` is
    twice its error bound; they are settled in exact arithmetic.

    >>> near_competitors(np.array([0.0, 1.0, 0.9999, 0.5]), 1, 1e-3).tolist()
    [2]
    """
    c = np.asarray(curve, dtype=np.float64)
    close = np.flatnonzero(c >= c[shift] - within)
    return close[close != shift]
