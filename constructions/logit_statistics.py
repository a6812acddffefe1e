r"""The RoPE logit as a function of distance, for the queries and keys of Section 3.

The logit of a query at position ``r`` and a key at position 0 is
:math:`a(r) = (R^r q)^\top k = q^\top R^{-r} k`, the logit at distance ``r`` (Eq. 3). Here
it is evaluated through the rotary map itself, so that the Monte Carlo checks of Prop 3.2
exercise :func:`ropelab.constructions.rotary.apply`; curves of fixed pairs (the all-ones curve
of Fig 2a) use the pair coefficients of :mod:`ropelab.constructions.relative_position`; RoFormer's Abel-summation
bound is evaluated in the complex form in which it is stated.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import frequencies, relative_position, rotary, shapes

__all__ = [
    "abel_bound",
    "all_ones_curve",
    "curves_at_distances",
    "gaussian_pairs",
    "logits_at_distances",
    "window_mean_squares",
    "window_means",
]


def logits_at_distances(q: jax.Array, k: jax.Array, freqs: object, distances: object, rotate=rotary.apply) -> jax.Array:
    r""":math:`a(r) = (R^{r} q)^\top k` for each distance ``r``.

    Shapes: ``q``, ``k`` ``(..., d)``; ``freqs`` ``(d/2,)``; ``distances`` non-negative
    integers whose shape broadcasts with the batch shapes of ``q`` and ``k``; returns the
    broadcast shape. One pair and ``(n,)`` distances give the curve ``(n,)``; samples
    ``(s, 1, d)`` against distances ``(n,)`` give ``(s, n)``. The angles depend on the
    distances only, so they are formed once (in float64) for the whole batch. ``rotate`` is
    the rotary map (a wrong one, for a negative control, has its signature).

    Deliberately independent of :func:`ropelab.constructions.relative_position.logits_at_distances`, which
    evaluates the same quantity from exact phases: this one goes through the rotary map itself,
    so the statistics claims check the map that models use.

    >>> import numpy as np
    >>> a = logits_at_distances(np.array([1.0, 0.0]), np.array([1.0, 0.0]), [np.pi / 2], [0, 1, 2])
    >>> np.round(np.asarray(a), 12).tolist()
    [1.0, 0.0, -1.0]
    """
    rotated, key = shapes.same_rank(rotate(q, distances, freqs), jnp.asarray(k))
    return jnp.sum(rotated * key, axis=-1)


def curves_at_distances(q: object, k: object, freqs: object, distances: object) -> np.ndarray:
    r"""Position-only logits :math:`c(r) = q^\top R^{-r} k` at given distances, for one or many pairs.

    :math:`c(r) = \sum_m A_m\cos(r g_m) + B_m\sin(r g_m)` with the pair coefficients of
    :func:`ropelab.constructions.relative_position.pair_coefficients` (half layout), batched over the
    leading axes of ``q`` and ``k``. The ``n x d/2`` cosines are formed once in float64 and
    shared by every pair, so ``s`` pairs cost one matrix product (NumPy: a BLAS product with
    no compilation per shape). Shapes: ``q``, ``k`` ``(..., d)``; ``distances`` ``(n,)``;
    returns ``(..., n)`` float64.

    >>> np.round(curves_at_distances([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]],
    ...                              [np.pi / 2], [0, 1]), 12).tolist()
    [[1.0, 0.0], [0.0, -1.0]]
    """
    a, b = relative_position.pair_coefficients(q, k)
    angles = rotary.angles(distances, freqs)  # (n, d/2), float64 from exact integers
    curve = a @ np.cos(angles).T
    # B = 0 when every pair of q is parallel to k's (all-ones): then there is no sine table to form
    return curve + b @ np.sin(angles).T if np.any(b) else curve


def all_ones_curve(d: int, theta: float, length: int) -> np.ndarray:
    r"""Fig 2a: :math:`A(r) = \frac{1}{d}\mathbf{1}^\top R^{-r}\mathbf{1}` for ``r = 0 .. length-1``.

    Normalised by :math:`|q||k| = d`, so :math:`A(0) = 1`. Evaluated by
    :func:`curves_at_distances` (one BLAS product, nothing to compile, so a sweep over many
    ``(d, theta)`` stays cheap). Shapes: returns ``(length,)``.

    >>> np.round(all_ones_curve(256, 1e4, 1001)[[0, 500, 1000]], 4).tolist()
    [1.0, 0.2689, 0.1925]
    """
    ones = np.ones(d)
    return curves_at_distances(ones, ones, frequencies.rope(d, theta), np.arange(length)) / d


def abel_bound(q: object, k: object, freqs: object, distances: object,
               boundary: bool = True) -> tuple[np.ndarray, np.ndarray]:
    r"""RoFormer's bound: :math:`|\sum_k h_k e^{i r g_k}|` and :math:`\max_k|h_{k+1}-h_k|\sum_{j=1}^{n}|S_j|`.

    :math:`h_k = (q_1 + i q_2)\overline{(k_1 + i k_2)}` for pair ``k`` (half layout),
    :math:`h_{n} = 0` (``n = d/2``), :math:`S_j = \sum_{k<j} e^{i r g_k}`. The real part of the
    sum is the logit at distance ``r``, so its modulus bounds the logit too. ``boundary=False``
    drops the convention :math:`h_n = 0` (interior steps only), which is not a bound: it is
    0 for all-ones. Shapes: ``q``,
    ``k`` ``(d,)``, ``distances`` ``(m,)``; returns two ``(m,)`` arrays.

    >>> modulus, bound = abel_bound(np.ones(4), np.ones(4), [1.0, 0.1], [0])
    >>> float(modulus[0]), float(bound[0])
    (4.0, 6.0)
    """
    q, k = np.asarray(q, dtype=np.float64), np.asarray(k, dtype=np.float64)
    half = q.shape[-1] // 2
    h = (q[:half] + 1j * q[half:]) * np.conj(k[:half] + 1j * k[half:])
    phase = np.exp(1j * rotary.angles(distances, freqs))  # (m, n), angles formed in float64
    modulus = np.abs(phase @ h)
    partial = np.cumsum(phase, axis=-1)  # S_1 .. S_n
    steps = np.diff(np.append(h, 0.0)) if boundary else np.diff(h)  # with h_n = 0: includes |0 - h_(n-1)|
    step = np.max(np.abs(steps))
    return modulus, step * np.sum(np.abs(partial), axis=-1)


def window_means(curve: object, window: int, windows: int) -> np.ndarray:
    r"""Mean :math:`|c(r)|` over ``r = 1..window``, ``window+1..2 window``, ... (``windows`` of them).

    Shapes: ``curve`` ``(n,)`` with ``n > window * windows``; returns ``(windows,)``.

    >>> window_means(np.array([9.0, 1.0, -1.0, 0.5, 0.5]), 2, 2).tolist()
    [1.0, 0.5]
    """
    c = np.asarray(curve, dtype=np.float64)
    if c.ndim != 1 or c.size <= window * windows:
        raise ValueError(f"curve must be 1-D with more than window * windows = {window * windows} entries")
    return np.array([np.mean(np.abs(c[1 + w * window: 1 + (w + 1) * window])) for w in range(windows)])


def window_mean_squares(q: object, k: object, freqs: object, early: object, late: object) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean square logit of each pair over two windows of distances: ``(early, late)``.

    Shapes: ``q``, ``k`` ``(s, d)`` (``s`` fixed pairs), ``early``, ``late`` ``(n,)``
    distances; returns two ``(s,)`` arrays.

    >>> [x.tolist() for x in window_mean_squares(np.ones((1, 2)), np.ones((1, 2)), [0.0], [1, 2], [3])]
    [[4.0], [4.0]]
    """
    early, late = np.asarray(early), np.asarray(late)
    logits = curves_at_distances(q, k, freqs, np.concatenate([early, late]))
    return np.mean(logits[..., : early.size] ** 2, axis=-1), np.mean(logits[..., early.size:] ** 2, axis=-1)


def gaussian_pairs(seed: int, count: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` fixed query/key pairs ``q, k ~ N(0, I)`` from one seed: two ``(count, d)`` arrays.

    >>> [x.shape for x in gaussian_pairs(0, 3, 4)]
    [(3, 4), (3, 4)]
    """
    q, k = np.random.default_rng(seed).standard_normal((2, count, d))
    return q, k
