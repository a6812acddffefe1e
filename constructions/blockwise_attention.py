r"""Causal RoPE attention for general inputs, computed in blocks with bounded working memory.

.. math:: o_i = \sum_{j \le i} \frac{e^{a_{ij}}}{\sum_{t \le i} e^{a_{it}}}\, v_j,\qquad
          a_{ij} = s\,(R^i q_i)^\top (R^j k_j)

Queries and keys are rotated once (angles from exact integer positions, :mod:`.phases`).
Each block of ``block`` queries then visits the key blocks at or before it, keeping a running
maximum ``m``, a running sum ``l`` and an accumulator of weighted values (the online softmax
of flash attention, Dao et al. 2022): a new block of scores ``S`` updates them as

.. math:: m' = \max(m, \max_j S_{\cdot j}),\quad l' = l e^{m - m'} + \sum_j e^{S_{\cdot j} - m'},
          \quad o' = o\, e^{m - m'} + e^{S - m'} V,

and the row's output is ``o / l`` with log-normaliser ``m + log l``. Only a ``block x block``
score tile exists at a time (the dense path holds ``n x n``); key blocks after the query
block are never visited, and only the diagonal tile is masked.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import phases as _ph
from . import rotary as _rotary
from . import validation as _v

__all__ = ["causal_attention"]


def _online_update(carry: tuple, scores: jax.Array, values: jax.Array) -> tuple:
    top, total, acc = carry
    new_top = jnp.maximum(top, scores.max(axis=1))
    weights = jnp.exp(scores - new_top[:, None])
    shrink = jnp.exp(top - new_top)  # 0 on the first visit (top = -inf)
    return new_top, total * shrink + weights.sum(axis=1), acc * shrink[:, None] + weights @ values


def _blockwise(q: jax.Array, k: jax.Array, v: jax.Array, block: int) -> tuple[jax.Array, jax.Array]:
    """Online-softmax causal attention of rotated, scaled ``q``, ``k`` (rows a multiple of block)."""
    n, d = q.shape
    blocks = n // block
    qb, kb, vb = q.reshape(blocks, block, d), k.reshape(blocks, block, d), v.reshape(blocks, block, -1)
    visible = jnp.tril(jnp.ones((block, block), dtype=bool))

    def query_block(i):
        qi = qb[i]
        start = (jnp.full(block, -jnp.inf, q.dtype), jnp.zeros(block, q.dtype),
                 jnp.zeros((block, vb.shape[-1]), q.dtype))
        # Key blocks strictly before the diagonal are fully visible: no mask.
        carry = jax.lax.fori_loop(0, i, lambda j, c: _online_update(c, qi @ kb[j].T, vb[j]), start)
        diagonal = jnp.where(visible, qi @ kb[i].T, -jnp.inf)
        top, total, acc = _online_update(carry, diagonal, vb[i])
        return acc / total[:, None], top + jnp.log(total)

    out, lse = jax.lax.map(query_block, jnp.arange(blocks))
    return out.reshape(n, -1), lse.reshape(n)


@functools.partial(jax.jit, static_argnames=("block", "layout"))
def _rope_blockwise(q: jax.Array, k: jax.Array, v: jax.Array, turns: jax.Array, scale: jax.Array,
                    block: int, layout: str) -> tuple[jax.Array, jax.Array]:
    """Rotate (exact phases, float64 cos/sin cast once), pad to whole blocks, attend."""
    n = q.shape[0]
    phi = _ph.angles_from_turns(jnp.arange(n, dtype=jnp.int64), turns)
    cos, sin = jnp.cos(phi).astype(q.dtype), jnp.sin(phi).astype(q.dtype)
    rq = _rotary.rotate(q, cos, sin, layout) * scale.astype(q.dtype)
    rk = _rotary.rotate(k, cos, sin, layout)
    pad = (-n) % block
    # Padded keys sit after every real row, where the causal mask hides them.
    rq, rk, v = (jnp.pad(x, ((0, pad), (0, 0))) for x in (rq, rk, v))
    out, lse = _blockwise(rq, rk, v, block)
    return out[:n], lse[:n]


def causal_attention(
    q: object,
    k: object,
    v: object,
    freqs: object,
    *,
    block: int = 256,
    scale: float = 1.0,
    layout: str = "half",
    with_normalisers: bool = False,
) -> jax.Array | tuple[jax.Array, jax.Array]:
    r"""Causal RoPE attention :math:`o_i` of tokens at positions ``0 .. n-1``, blockwise.

    Shapes: ``q``, ``k`` ``(n, d)``, ``v`` ``(n, d_v)``, ``freqs`` ``(d/2,)``; returns ``(n, d_v)``
    in ``q``'s dtype, and with ``with_normalisers=True`` also the row log-normalisers
    :math:`L_i = \log\sum_{j\le i} e^{a_{ij}}` ``(n,)``. Working memory is ``O(n (d + d_v) +
    block^2)``; ``n`` need not be a multiple of ``block`` (the tail is padded with keys the
    causal mask hides). Equals ``attention.attention_weights(q, k, freqs) @ v`` up to rounding.

    >>> import numpy as np
    >>> o = causal_attention(np.zeros((3, 2)), np.zeros((3, 2)), np.arange(3.0)[:, None], [1.0], block=2)
    >>> np.asarray(o).ravel().tolist()  # equal logits: row i averages v_0 .. v_i
    [0.0, 0.5, 1.0]
    """
    q, k, v = (jnp.asarray(_v.finite_vector(x, name)) for x, name in ((q, "q"), (k, "k"), (v, "v")))
    if q.ndim != 2 or k.shape != q.shape or v.ndim != 2 or v.shape[0] != q.shape[0]:
        raise ValueError(f"q, k must be (n, d) and v (n, d_v) with the same n, got {q.shape}, {k.shape}, {v.shape}")
    if not jnp.issubdtype(q.dtype, jnp.floating):
        raise ValueError(f"q must have a floating dtype, got {q.dtype}")
    d = _v.head_dim(q.shape[1], "q.shape[1]")
    if np.asarray(freqs).shape != (d // 2,):
        raise ValueError(f"freqs must have length d/2 = {d // 2}, got shape {np.asarray(freqs).shape}")
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise ValueError(f"block must be an integer >= 1, got {block!r}")
    scale = _v.positive(scale, "scale")
    layout = _v.layout(layout)
    _ph.require_x64()
    turns = jnp.asarray(_ph.frequency_turns(freqs))
    dtype = q.dtype
    out, lse = _rope_blockwise(q, k.astype(dtype), v.astype(dtype), turns, jnp.asarray(scale), block, layout)
    return (out, lse) if with_normalisers else out
