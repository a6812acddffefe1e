r"""The orbit of one rotation measured on the circle: the points :math:`n g \bmod 2\pi` and their gaps.

The construction side of Lemma A.2 / the three-gap theorem (the predicted lengths are in
:mod:`ropelab.theory.orbits`). Angles are formed from exact integer ``n`` in the requested
dtype (NumPy: the same IEEE operations as ``jnp``) and reduced by ``fmod`` (exact in IEEE arithmetic) modulo the dtype's rounded
:math:`2\pi`; :func:`angle_error_bound` states how far each point can sit from the true
:math:`n g \bmod 2\pi`.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np

from . import validation as _v

__all__ = ["angle_error_bound", "distinct_lengths", "gap_error_bound", "orbit_gaps", "orbit_points"]

with mpmath.workdps(30):  # |fl(2 pi) - 2 pi| in each dtype, computed beyond float64
    _TWO_PI_ERROR = {
        np.dtype(dt): float(abs(mpmath.mpf(float(dt(2 * math.pi))) - 2 * mpmath.pi)) for dt in (np.float64, np.float32)
    }


def orbit_points(freq: float, points: int, dtype: object = np.float64) -> np.ndarray:
    r"""Sorted :math:`\{n g \bmod 2\pi : n = 0 .. N\}`: ``N + 1`` angles in :math:`[0, 2\pi)`.

    Each angle is ``fl(n) * fl(g)`` in ``dtype`` reduced modulo ``fl(2 pi)``. Shapes: returns
    ``(N + 1,)`` in ``dtype``.

    >>> orbit_points(2.0, 3).round(6).tolist()
    [0.0, 2.0, 4.0, 6.0]
    """
    _v.positive(freq, "freq")
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 1:
        raise ValueError(f"points must be an integer >= 1, got {points!r}")
    dt = np.dtype(dtype)
    if dt not in _TWO_PI_ERROR:
        raise ValueError(f"dtype must be float64 or float32, got {dt}")
    # NumPy, not jnp: one elementwise product, an exact fmod and a sort, for many sizes N
    # (jnp would compile each size anew); the IEEE arithmetic is the same.
    n = np.arange(points + 1, dtype=np.int64).astype(dt)
    angle = np.mod(n * dt.type(freq), dt.type(2 * math.pi))
    return np.sort(angle)


def orbit_gaps(freq: float, points: int, dtype: object = np.float64) -> np.ndarray:
    """The ``N + 1`` arcs between consecutive orbit points, the wrap-around arc last.

    >>> orbit_gaps(2.0, 3).round(6).tolist()
    [2.0, 2.0, 2.0, 0.283185]
    """
    pts = orbit_points(freq, points, dtype).astype(np.float64)
    two_pi = float(np.asarray(2 * math.pi, dtype=np.dtype(dtype)))
    return np.concatenate([np.diff(pts), [two_pi - pts[-1] + pts[0]]])


def angle_error_bound(freq: float, points: int, dtype: object = np.float64) -> float:
    r"""Largest distance between a computed orbit point and the true :math:`n g \bmod 2\pi`.

    ``fl(n) fl(g)`` is off by :math:`u\,N g` (``g`` itself is exact as given; ``n`` is exact
    up to the dtype's integer range), and each of the :math:`\lfloor Ng/2\pi\rfloor`
    reductions subtracts ``fl(2 pi)`` instead of :math:`2\pi`; ``fmod`` is exact.

    >>> f"{angle_error_bound(1.0, 10**6):.2e}"
    '1.50e-10'
    """
    dt = np.dtype(dtype)
    unit = float(np.finfo(dt).eps) / 2
    largest = points * freq
    return unit * largest + (largest / (2 * math.pi) + 1) * _TWO_PI_ERROR[dt]


def gap_error_bound(freq: float, points: int, dtype: object = np.float64) -> float:
    r"""Largest error of a computed arc: both endpoints (:func:`angle_error_bound`), the rounding
    of the subtraction (at most :math:`u \cdot 2\pi`), and ``fl(2 pi)`` in the wrap-around arc.

    >>> f"{gap_error_bound(1.0, 10**6):.2e}"
    '3.00e-10'
    """
    dt = np.dtype(dtype)
    unit = float(np.finfo(dt).eps) / 2
    return 2 * angle_error_bound(freq, points, dtype) + unit * 2 * math.pi + _TWO_PI_ERROR[dt]


def distinct_lengths(gaps: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Group arc lengths that agree within ``tolerance``: ``(lengths, counts)``, increasing.

    Consecutive sorted gaps further apart than ``tolerance`` start a new group; each length
    is its group's mean.

    >>> distinct_lengths(np.array([1.0, 2.0, 1.0 + 1e-12, 2.0]), 1e-9)
    (array([1., 2.]), array([2, 2]))
    """
    x = np.sort(np.asarray(gaps, dtype=np.float64))
    starts = np.concatenate([[0], np.flatnonzero(np.diff(x) > tolerance) + 1])
    counts = np.diff(np.concatenate([starts, [x.size]]))
    lengths = np.add.reduceat(x, starts) / counts
    return lengths, counts
