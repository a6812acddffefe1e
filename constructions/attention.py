r"""Dense logits and causal attention for small cases (``n x n`` matrices in memory).

Logit (the paper's "activation"): :math:`a_{ij} = (R^i q_i)^\top (R^j k_j)`, no
:math:`1/\sqrt{d}` unless ``scale`` is given. Attention is the softmax over ``j <= i``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import rotary
from . import validation as _v

__all__ = ["attention_weights", "causal_softmax", "logits"]


def logits(
    q: jax.Array,
    k: jax.Array,
    freqs: object,
    layout: str = "half",
    q_positions: object | None = None,
    k_positions: object | None = None,
    scale: float = 1.0,
) -> jax.Array:
    r"""All logits :math:`a_{ij} = \text{scale}\cdot(R^{i} q_i)^\top (R^{j} k_j)`.

    Shapes: ``q`` is ``(n, d)``, ``k`` is ``(m, d)``, result ``(n, m)``. Positions default
    to ``0 .. n-1`` and ``0 .. m-1``.

    >>> import numpy as np
    >>> a = logits(np.ones((3, 2)), np.ones((3, 2)), [0.0])
    >>> np.asarray(a).tolist()
    [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
    """
    _v.keeps_float64(q, "attention.logits")
    q, k = jnp.asarray(q), jnp.asarray(k)
    if q.ndim != 2 or k.ndim != 2 or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must be (n, d) and (m, d) with equal d, got {q.shape}, {k.shape}")
    qp = np.arange(q.shape[0]) if q_positions is None else q_positions
    kp = np.arange(k.shape[0]) if k_positions is None else k_positions
    rq = rotary.apply(q, qp, freqs, layout)
    rk = rotary.apply(k, kp, freqs, layout)
    return scale * rq @ rk.T


def causal_softmax(a: jax.Array) -> jax.Array:
    """Row softmax of ``a`` (shape ``(n, n)``) over ``j <= i``; entries above the diagonal are 0.

    >>> import numpy as np
    >>> np.asarray(causal_softmax(np.zeros((2, 2)))).tolist()
    [[1.0, 0.0], [0.5, 0.5]]
    """
    a = jnp.asarray(a)
    n = a.shape[0]
    mask = jnp.tril(jnp.ones((n, a.shape[1]), dtype=bool))
    return jax.nn.softmax(jnp.where(mask, a, -jnp.inf), axis=-1)


def attention_weights(q: jax.Array, k: jax.Array, freqs: object, layout: str = "half") -> jax.Array:
    r"""Causal attention :math:`\alpha_{ij}` of a RoPE head with queries ``q`` and keys ``k``.

    Shapes: ``q``, ``k`` are ``(n, d)``; result ``(n, n)``, each row summing to 1.
    """
    return causal_softmax(logits(q, k, freqs, layout))
