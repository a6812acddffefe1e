r"""Position-only logits: curves over the distance ``r = i - j`` and heads built from them.

When every token carries the same query ``q`` and key ``k`` (the constructed heads of the
paper), :math:`a_{ij} = q^\top R^{j-i} k` depends on ``r = i - j`` only:

.. math:: c(r) = \sum_m A_m \cos(r g_m) + B_m \sin(r g_m),\quad
          A_m = q_1k_1 + q_2k_2,\; B_m = q_1k_2 - q_2k_1

(pair ``m`` is ``(x[m], x[m+d/2])``). A curve of ``N`` distances costs ``O(N d)``, computed in
blocks of bounded memory, and every row of the ``N``-token head follows from prefix sums over
the one curve (SPEC §10), never from an ``N x N`` matrix.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import validation as _v

BLOCK = 1 << 15  # distances per block: BLOCK x d/2 float64 angles stay below ~35 MB at d=256


def _require_x64() -> None:
    if not jax.config.jax_enable_x64:
        raise ValueError(
            "position-only curves need float64: enable jax_enable_x64 (the ropelab command and "
            "the tests do) so that angles r * g are formed exactly"
        )


def pair_coefficients(q: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(A, B)`` with ``c(r) = sum_m A_m cos(r g_m) + B_m sin(r g_m)`` (half layout).

    >>> pair_coefficients(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    (array([0.]), array([1.]))
    """
    q = np.asarray(_v.finite_vector(q, "q"), dtype=np.float64)
    k = np.asarray(_v.finite_vector(k, "k"), dtype=np.float64)
    if q.shape != k.shape or q.ndim != 1:
        raise ValueError(f"q and k must be vectors of the same length d, got {q.shape} and {k.shape}")
    d = _v.head_dim(q.shape[0], "q.shape[0]")
    q1, q2, k1, k2 = q[: d // 2], q[d // 2 :], k[: d // 2], k[d // 2 :]
    return q1 * k1 + q2 * k2, q1 * k2 - q2 * k1


@functools.partial(jax.jit, static_argnames=())
def _curve_block(start: jax.Array, freqs: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    r = start + jnp.arange(BLOCK, dtype=jnp.int64)
    angle = r.astype(jnp.float64)[:, None] * freqs[None, :]
    return jnp.cos(angle) @ a + jnp.sin(angle) @ b


def logit_curve(q: np.ndarray, k: np.ndarray, freqs: np.ndarray, length: int) -> np.ndarray:
    r"""The logit at distances ``r = 0 .. length-1``: :math:`c(r) = q^\top R^{-r} k`.

    Shapes: ``q``, ``k`` are ``(d,)``; ``freqs`` ``(d/2,)``; returns ``(length,)`` float64.
    Computed in blocks of ``BLOCK`` distances with one compiled kernel, so memory stays
    bounded for any length. Needs ``jax_enable_x64``.

    >>> import numpy as np
    >>> c = logit_curve(np.array([1.0, 0.0]), np.array([1.0, 0.0]), np.array([np.pi / 2]), 4)
    >>> np.round(c, 12).tolist()
    [1.0, 0.0, -1.0, -0.0]
    """
    _require_x64()
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"length must be an integer >= 1, got {length!r}")
    a, b = pair_coefficients(q, k)
    g = np.asarray(freqs, dtype=np.float64)
    if g.shape != a.shape:
        raise ValueError(f"freqs must have length d/2 = {a.size}, got {g.shape}")
    blocks = [
        _curve_block(jnp.int64(start), jnp.asarray(g), jnp.asarray(a), jnp.asarray(b))
        for start in range(0, int(length), BLOCK)
    ]
    return np.asarray(jnp.concatenate(blocks))[: int(length)]


def row_log_normalisers(curve: np.ndarray) -> np.ndarray:
    r"""For a head with logits ``a_ij = curve[i - j]``: :math:`L_i = \log\sum_{r=0}^{i} e^{c(r)}`.

    Row ``i`` of the causal softmax is ``alpha_{i, i-r} = exp(c(r) - L_i)``. One cumulative
    log-sum-exp over the curve gives every row in ``O(N)``.

    >>> np.round(np.exp(row_log_normalisers(np.zeros(3))), 12).tolist()
    [1.0, 2.0, 3.0]
    """
    _require_x64()
    return np.asarray(jax.lax.cumlogsumexp(jnp.asarray(curve, dtype=jnp.float64)))


def weight_at_distance(curve: np.ndarray, distance: int) -> np.ndarray:
    r"""Every row's weight on the key at ``distance`` behind it, rows ``i = distance .. N-1``.

    :math:`\alpha_{i,i-t} = e^{c(t) - L_i}`; e.g. ``distance=0`` is the diagonal, ``1`` the
    previous token. Shapes: ``curve`` ``(N,)``, returns ``(N - distance,)``.

    >>> np.round(weight_at_distance(np.array([0.0, 0.0, 0.0]), 0), 6).tolist()
    [1.0, 0.5, 0.333333]
    """
    if not 0 <= distance < len(curve):
        raise ValueError(f"distance must be an integer in [0, {len(curve) - 1}], got {distance}")
    norm = row_log_normalisers(curve)
    return np.exp(curve[distance] - norm[distance:])
