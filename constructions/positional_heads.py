r"""Positional heads built from rotating pairs: diagonal and previous-token heads (Thm 5.3).

Every token carries the query ``q = s psi`` and the key ``k = s R^t psi``: by Eq. 3 the logit
is :math:`a_{ij} = s^2 \psi^\top R^{t-(i-j)} \psi = s^2 \sum_m w_m \cos((i - j - t) g_m)`
(``w_m`` the squared norm of ``psi``'s pair ``m``), maximal at distance ``i - j = t``.
``t = 0`` gives a diagonal head, ``t = 1`` a previous-token head (the proof's convention;
Figure 1 prints the other one, erratum E1). The logits depend on ``i - j`` only, so every
row of an ``N``-token head is checked from one curve in ``O(N d)``
(:mod:`ropelab.constructions.relative_position`), never from an ``N x N`` matrix.

The same functions serve any schedule: pass the frequencies of the pairs ``psi`` uses (RoPE,
p-RoPE's kept pairs, ...). Pairs with zero weight are dropped before the curve is computed.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import logsumexp

from . import frequencies, relative_position, rotary
from . import validation as _v

__all__ = [
    "band_offset_scales",
    "band_vector",
    "head_vectors",
    "min_target_weight",
    "off_pattern_mass",
    "single_frequency_scales",
    "smallest_logit_gap",
    "smallest_sharp_scale",
    "sufficient_scale_squared",
    "target_curve",
]

# relative precision of the bisection for the smallest sharp scale
SCALE_RTOL = 1e-12


def band_vector(d: int, pairs: object, weights: object | None = None) -> np.ndarray:
    r"""A unit vector ``psi`` whose pair ``m`` has squared norm ``w_m`` on the given pairs, 0 elsewhere.

    Pair ``m`` is ``(psi[m], psi[m + d/2])`` (half layout) and is set to ``(sqrt(w_m), 0)``.
    ``weights`` (non-negative, default equal) are normalised to sum 1, so ``|psi| = 1`` and the
    scale ``s`` of a head built from ``psi`` is the norm of its query.
    Shapes: ``pairs`` ``(n,)`` distinct integers in ``[0, d/2)``; returns ``(d,)`` float64.

    >>> band_vector(8, [0, 1]).round(4).tolist()
    [0.7071, 0.7071, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    >>> band_vector(4, [1], [3.0]).tolist()
    [0.0, 1.0, 0.0, 0.0]
    """
    d = _v.head_dim(d)
    idx = np.asarray(pairs)
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"pairs must be a non-empty list of integers in [0, {d // 2 - 1}], got {pairs!r}")
    if np.any(idx < 0) or np.any(idx >= d // 2) or len(set(idx.tolist())) != idx.size:
        raise ValueError(f"pairs must be distinct integers in [0, {d // 2 - 1}], got {idx.tolist()}")
    if weights is None:
        w = np.ones(idx.size)
    else:
        w = np.asarray(_v.finite_vector(weights, "weights"), dtype=np.float64)
        if w.shape != idx.shape or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(
                f"weights must be {idx.size} non-negative numbers with a positive sum, got {np.asarray(weights).tolist()}"
            )
    psi = np.zeros(d)
    psi[idx] = np.sqrt(w / w.sum())
    return psi


def _checked_head(psi: object, freqs: object) -> tuple[np.ndarray, np.ndarray]:
    psi = np.asarray(_v.finite_vector(psi, "psi"), dtype=np.float64)
    if psi.ndim != 1:
        raise ValueError(f"psi must be a vector of length d, got shape {psi.shape}")
    d = _v.head_dim(psi.shape[0], "psi.shape[0]")
    g = np.asarray(_v.finite_vector(freqs, "freqs"), dtype=np.float64)
    if g.shape != (d // 2,):
        raise ValueError(f"freqs must have length d/2 = {d // 2}, got shape {g.shape}")
    if not np.any(psi):
        raise ValueError("psi must be nonzero: a zero vector makes every logit 0")
    return psi, g


def _checked_context(context: object, distance: object) -> tuple[int, int]:
    if isinstance(context, bool) or not isinstance(context, numbers.Integral) or context < 2:
        raise ValueError(f"context must be an integer >= 2 (a target and a competitor), got {context!r}")
    if isinstance(distance, bool) or not isinstance(distance, numbers.Integral) or not 0 <= distance < context:
        raise ValueError(f"distance must be an integer in [0, context - 1 = {int(context) - 1}], got {distance!r}")
    return int(context), int(distance)


def _checked_eps(eps: object) -> float:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0.0 < float(eps) < 1.0:
        raise ValueError(f"eps must be a number in (0, 1), got {eps!r}")
    return float(eps)


def head_vectors(psi: object, freqs: object, scale: float, distance: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""The query and key every token carries: ``q = s psi``, ``k = s R^t psi`` (``t = distance``).

    Shapes: ``psi`` ``(d,)``, ``freqs`` ``(d/2,)``; returns two ``(d,)`` arrays.

    >>> q, k = head_vectors(np.array([1.0, 0.0]), np.array([np.pi / 2]), 2.0, 1)
    >>> q.tolist(), k.round(12).tolist()
    ([2.0, 0.0], [0.0, 2.0])
    """
    psi, g = _checked_head(psi, freqs)
    s = _v.positive(scale, "scale")
    if isinstance(distance, bool) or not isinstance(distance, numbers.Integral) or distance < 0:
        raise ValueError(f"distance must be an integer >= 0, got {distance!r}")
    # R^t psi through the float64 rotation matrix (NumPy: no compilation for each new d)
    key = psi if distance == 0 else rotary.rotation_matrix(int(distance), g) @ psi
    return s * psi, s * key


def _active_pairs(psi: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``psi`` and ``freqs`` restricted to the pairs with nonzero weight (they alone enter a logit)."""
    half = psi.shape[0] // 2
    keep = np.flatnonzero(psi[:half] ** 2 + psi[half:] ** 2)
    return np.concatenate([psi[keep], psi[half + keep]]), g[keep]


@functools.lru_cache(maxsize=32)
def _unit_curve(psi_bytes: bytes, freqs_bytes: bytes, context: int, distance: int) -> np.ndarray:
    # keyed on every input (the exact bytes of psi and freqs, the context and the distance)
    psi = np.frombuffer(psi_bytes, dtype=np.float64)
    g = np.frombuffer(freqs_bytes, dtype=np.float64)
    q, k = head_vectors(psi, g, 1.0, distance)
    curve = relative_position.logit_curve(q, k, g, context)
    curve.flags.writeable = False
    return curve


def target_curve(psi: object, freqs: object, context: int, distance: int = 0) -> np.ndarray:
    r"""The unit-scale logit at distances ``r = 0 .. N-1``: :math:`c(r) = \sum_m w_m \cos((r - t) g_m)`.

    A head of scale ``s`` has logits ``s^2 c(r)``. ``O(N d)`` over the pairs ``psi`` uses.
    Shapes: returns ``(context,)`` float64 (read-only). Needs ``jax_enable_x64``.

    >>> target_curve(np.array([1.0, 0.0]), np.array([np.pi / 2]), 4, 1).round(12).tolist()
    [0.0, 1.0, 0.0, -1.0]
    """
    psi, g = _checked_head(psi, freqs)
    context, distance = _checked_context(context, distance)
    psi_active, g_active = _active_pairs(psi, g)
    return _unit_curve(psi_active.tobytes(), g_active.tobytes(), context, distance)


def min_target_weight(psi: object, freqs: object, scale: float, context: int, distance: int = 0) -> float:
    r"""The smallest weight any row ``i >= t`` of the ``N``-token head puts on its target ``i - t``.

    :math:`\min_i \alpha_{i,i-t}` with :math:`\alpha_{i,i-t} = e^{s^2 c(t) - L_i}` and
    :math:`L_i` the prefix log-sum-exp of the curve: every row is computed
    (:func:`ropelab.constructions.relative_position.weight_at_distance`), in ``O(N d)``.

    >>> psi, freqs = band_vector(8, [0, 1]), np.array([1.0, 0.5, 0.1, 0.01])
    >>> round(min_target_weight(psi, freqs, 4.0, 8), 4), round(min_target_weight(psi, freqs, 4.0, 8, 1), 4)
    (0.9906, 0.9814)
    """
    s = _v.positive(scale, "scale")
    curve = target_curve(psi, freqs, context, distance)
    return float(np.min(relative_position.weight_at_distance(s**2 * curve, distance)))


def smallest_logit_gap(psi: object, freqs: object, context: int, distance: int = 0) -> float:
    r""":math:`\delta_N = \min_{r \ne t,\, 0 \le r < N} (c(t) - c(r))`: how far the closest competitor
    sits below the target at unit scale (``sum_m w_m (1 - cos((r - t) g_m))`` minimised).

    For one pair of weight 1 and ``t = 0`` this is :math:`\min_{1\le m<N} 1 - \cos(m g)`.

    >>> round(smallest_logit_gap(np.array([1.0, 0.0]), np.array([1.0]), 100), 8)  # 1 - cos(44)
    0.00015669
    """
    curve = target_curve(psi, freqs, context, distance)
    return float(curve[distance] - np.max(np.delete(curve, distance)))


def sufficient_scale_squared(psi: object, freqs: object, context: int, eps: float, distance: int = 0) -> float:
    r"""Thm 5.3's explicit scale: :math:`s^2 = \ln((N-1)(1-\varepsilon)/\varepsilon)/\delta_N` (0 if negative).

    At this scale every row puts at least ``1 - eps`` on its target: at most ``N - 1``
    competitors, each at least :math:`s^2\delta_N` below it (claim ``rope_head_can_be_diagonal``).

    >>> round(sufficient_scale_squared(np.array([1.0, 0.0]), np.array([1.0]), 2, 0.01), 4)  # ln 99/(1 - cos 1)
    9.996
    """
    eps = _checked_eps(eps)
    gap = smallest_logit_gap(psi, freqs, context, distance)
    if gap <= 0.0:
        raise ValueError(
            f"the target distance {distance} is not the strict maximum of the logit curve over "
            f"{context} tokens (gap {gap:.3g}): no scale makes this head sharp"
        )
    return max(0.0, math.log((context - 1) * (1.0 - eps) / eps) / gap)


@dataclass(frozen=True)
class SharpHead:
    """The smallest sharp scale of a head and what it rests on."""

    scale_squared: float  # smallest s^2 with min over rows of the target weight >= 1 - eps
    min_weight: float  # that minimum at scale_squared, every row computed
    gap: float  # delta_N at unit scale
    sufficient_scale_squared: float  # Thm 5.3's explicit bound, >= scale_squared

    @property
    def scale(self) -> float:
        """The query norm ``s`` (for a unit ``psi``)."""
        return math.sqrt(self.scale_squared)


def smallest_sharp_scale(psi: object, freqs: object, context: int, eps: float, distance: int = 0) -> SharpHead:
    r"""The smallest :math:`s^2` for which every row puts at least ``1 - eps`` on its target.

    The row normalisers :math:`L_i` are prefix sums of positive terms, so they only grow with
    ``i``: the last row has the smallest target weight, and bisection (Brent's method, relative
    precision ``SCALE_RTOL``) runs on it between the one-competitor bound
    :math:`\ln((1-\varepsilon)/\varepsilon)/\delta_N` and Thm 5.3's sufficient bound. The
    result is then checked on every row with :func:`min_target_weight`.
    At ``N = 8192``, ``eps = 0.01`` the top 16 pairs of ``d = 256``, ``theta = 1e4`` need
    about 23.6 (claim ``top_frequency_band_makes_sharp_head_cheaply``).

    >>> head = smallest_sharp_scale(np.array([1.0, 0.0]), np.array([1.0]), 2, 0.01)
    >>> round(head.scale_squared, 4), round(head.min_weight, 6)
    (9.996, 0.99)
    """
    eps = _checked_eps(eps)
    curve = target_curve(psi, freqs, context, distance)
    upper = sufficient_scale_squared(psi, freqs, context, eps, distance)
    gap = smallest_logit_gap(psi, freqs, context, distance)
    log_target = math.log1p(-eps)

    offsets = np.asarray(curve) - curve[distance]  # <= 0; the last row's log weight is -lse(s^2 offsets)

    def last_row_margin(log_s2: float) -> float:
        return -float(logsumexp(math.exp(log_s2) * offsets)) - log_target

    s2 = 0.0
    if -math.log(context) < log_target:
        # one competitor alone needs ln((1-eps)/eps)/gap; the sufficient bound is enough
        lower = math.log(max(math.log((1.0 - eps) / eps) / gap, upper * 1e-6)) - 1.0
        log_s2 = brentq(last_row_margin, lower, math.log(upper) + 1.0, xtol=SCALE_RTOL)
        # step onto the sufficient side of the threshold that Brent's method brackets
        while last_row_margin(log_s2) < 0.0:
            log_s2 += SCALE_RTOL
        s2 = math.exp(log_s2)
    min_weight = float(np.min(relative_position.weight_at_distance(s2 * np.asarray(curve), distance)))
    return SharpHead(float(s2), min_weight, gap, upper)


def off_pattern_mass(weights: object, distance: int) -> np.ndarray:
    r"""Every row's attention off its target ``i - t``: :math:`\sum_{j \ne i-t} \alpha_{ij}` (Def 5.1).

    A head is eps-diagonal (``t = 0``) or eps-previous-token (``t = 1``) when this is below
    ``eps`` in every row ``i >= t`` (Definition 5.1 as corrected, erratum E3: the sum is over
    the weights, and "= eps" means "< eps"). Summed directly over the off-target keys (not
    ``1 - alpha``), so a mass far below eps64 is resolved.
    Shapes: ``weights`` ``(N, N)`` row-stochastic over ``j <= i``; returns ``(N - t,)``.

    >>> off_pattern_mass(np.array([[1.0, 0.0], [0.25, 0.75]]), 0).tolist()
    [0.0, 0.25]
    """
    alpha = np.asarray(weights, dtype=np.float64)
    if alpha.ndim != 2 or alpha.shape[0] != alpha.shape[1] or alpha.shape[0] < 1:
        raise ValueError(f"weights must be a square (N, N) attention matrix, got shape {alpha.shape}")
    n = alpha.shape[0]
    if isinstance(distance, bool) or not isinstance(distance, numbers.Integral) or not 0 <= distance < n:
        raise ValueError(f"distance must be an integer in [0, {n - 1}], got {distance!r}")
    rows = np.arange(distance, n)
    off = alpha[rows].copy()
    off[np.arange(rows.size), rows - distance] = 0.0
    return off.sum(axis=1)


def band_offset_scales(d: int, theta: float, offsets: tuple[int, ...], width: int, context: int,
                       eps: float) -> np.ndarray:
    r"""Smallest eps-sharp :math:`s^2` of the diagonal head on the ``width`` pairs from each offset.

    RoPE frequencies of ``(d, theta)``, equal pair weights, ``context`` tokens, every row
    checked (:func:`smallest_sharp_scale`). Shapes: returns ``(len(offsets),)``.

    >>> band_offset_scales(16, 100.0, (0, 2), 2, 64, 0.1).round(2).tolist()
    [61.18, 67.45]
    """
    g = frequencies.rope(d, theta)
    return np.array([smallest_sharp_scale(band_vector(d, range(o, o + width)), g, context, eps).scale_squared
                     for o in offsets])


def single_frequency_scales(d: int, theta: float, context: int, eps: float, step: int = 1
                            ) -> tuple[np.ndarray, np.ndarray]:
    r"""Pair indices ``0, step, 2 step, ...`` and each single-pair diagonal head's smallest sharp :math:`s^2`.

    Shapes: returns two ``(ceil(d / (2 step)),)`` arrays.

    >>> idx, s2 = single_frequency_scales(8, 100.0, 16, 0.1, 2)
    >>> idx.tolist(), (s2 > 0).all()
    ([0, 2], np.True_)
    """
    g = frequencies.rope(d, theta)
    idx = np.arange(0, g.size, step)
    return idx, np.array([smallest_sharp_scale(band_vector(d, [m]), g, context, eps).scale_squared for m in idx])

