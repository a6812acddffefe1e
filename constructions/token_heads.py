r"""Heads that read token embeddings: ``q_i = W_Q^T e_{t_i}``, ``k_j = W_K^T e_{t_j}``, rotated or not.

With NoPE (every frequency 0) a head sees only which tokens are present, not where: two
copies of a token get the same logit in every row (Prop 5.2). The BOS-anchor head of
Kazemnejad et al. (2023) is the one way such a head exposes position: its weight on the BOS
key falls like ``1/t`` over ``t`` keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import attention
from . import validation as _v

__all__ = ["BosAnchorHead", "repeat_counts", "token_head_logits", "token_head_weights"]


def _checked_tokens(tokens: object, vocab: int) -> np.ndarray:
    arr = np.asarray(tokens)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"tokens must be a non-empty 1-D array of integer ids, got {tokens!r}")
    if np.any(arr < 0) or np.any(arr >= vocab):
        raise ValueError(f"tokens must be ids in [0, {vocab - 1}] (rows of embeddings), got {arr.tolist()}")
    return arr


def token_head_logits(embeddings: object, tokens: object, w_q: object, w_k: object, freqs: object) -> jax.Array:
    r"""Logits :math:`a_{ij} = (R^i W_Q^\top e_{t_i})^\top (R^j W_K^\top e_{t_j})` at positions ``0 .. n-1``.

    Shapes: ``embeddings`` ``(V, D)``, ``tokens`` ``(n,)``, ``w_q`` and ``w_k`` ``(D, d)``,
    ``freqs`` ``(d/2,)`` (all zeros for NoPE); returns ``(n, n)``.

    >>> e = np.eye(2)
    >>> np.asarray(token_head_logits(e, [0, 1, 1], np.eye(2), np.eye(2), [0.0])).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 1.0, 1.0]]
    """
    _v.require_x64("token_heads.token_head_logits")
    emb = np.asarray(_v.finite_vector(embeddings, "embeddings"), dtype=np.float64)
    if emb.ndim != 2:
        raise ValueError(f"embeddings must be a (vocab, D) matrix, got shape {emb.shape}")
    tok = _checked_tokens(tokens, emb.shape[0])
    for name, w in (("w_q", w_q), ("w_k", w_k)):
        if np.ndim(w) != 2 or np.shape(w)[0] != emb.shape[1]:
            raise ValueError(f"{name} must be a (D={emb.shape[1]}, d) matrix, got shape {np.shape(w)}")
    x = jnp.asarray(emb[tok])
    return attention.logits(x @ jnp.asarray(w_q), x @ jnp.asarray(w_k), freqs)


def token_head_weights(embeddings: object, tokens: object, w_q: object, w_k: object, freqs: object) -> jax.Array:
    """Causal attention weights of the token head (rows sum to 1); shapes as :func:`token_head_logits`.

    >>> e = np.eye(2)
    >>> np.asarray(token_head_weights(e, [0, 1, 1], np.zeros((2, 2)), np.zeros((2, 2)), [0.0]))[2].tolist()
    [0.3333333333333333, 0.3333333333333333, 0.3333333333333333]
    """
    return attention.causal_softmax(token_head_logits(embeddings, tokens, w_q, w_k, freqs))


def repeat_counts(tokens: object) -> np.ndarray:
    """``c_i``: how many times token ``t_i`` occurs among positions ``0 .. i``.

    >>> repeat_counts([3, 1, 3, 3, 1]).tolist()
    [1, 1, 2, 3, 2]
    """
    tok = np.asarray(tokens)
    if tok.ndim != 1 or not np.issubdtype(tok.dtype, np.integer):
        raise ValueError(f"tokens must be a 1-D array of integer ids, got {tokens!r}")
    same = tok[:, None] == tok[None, :]
    return np.sum(np.tril(same), axis=1)


@dataclass(frozen=True)
class BosAnchorHead:
    """A NoPE head on the vocabulary ``{bos: 0, x: 1}`` whose output is its weight on BOS.

    The query of ``x`` meets the BOS key with logit ``bos_logit`` and every ``x`` key with
    logit 0; the value is 1 on BOS and 0 on ``x``.
    """

    embeddings: np.ndarray  # (2, 2)
    w_q: np.ndarray  # (2, 2)
    w_k: np.ndarray  # (2, 2)
    values: np.ndarray  # (2,), per token

    @classmethod
    def build(cls, bos_logit: float) -> "BosAnchorHead":
        """The head with the given BOS logit ``b``: ``q_x = (1, 0)``, ``k_bos = (b, 0)``, ``k_x = (0, 1)``."""
        b = float(bos_logit)
        if not np.isfinite(b):
            raise ValueError(f"bos_logit must be finite, got {bos_logit!r}")
        embeddings = np.eye(2)  # one-hot bos, x
        w_q = np.array([[0.0, 0.0], [1.0, 0.0]])  # q_bos = 0, q_x = (1, 0)
        w_k = np.array([[b, 0.0], [0.0, 1.0]])  # k_bos = (b, 0), k_x = (0, 1)
        return cls(embeddings, w_q, w_k, np.array([1.0, 0.0]))

    def outputs_dense(self, context: int) -> np.ndarray:
        r"""Rows ``0 .. N-1`` of :math:`\sum_j \alpha_{ij} v_j` on ``[bos, x, ..., x]``, from the full
        ``N x N`` attention (small ``N`` only). Shape ``(context,)``."""
        tokens = np.array([0] + [1] * (int(context) - 1))
        weights = np.asarray(token_head_weights(self.embeddings, tokens, self.w_q, self.w_k, np.zeros(1)))
        return weights @ self.values[tokens]

    def outputs(self, rows: object) -> np.ndarray:
        r"""The output of rows ``i >= 1`` of ``[bos, x, ..., x]`` in ``O(len(rows))``.

        Row ``i`` holds the BOS key and ``i`` copies of ``x``, all with one logit under NoPE, so
        :math:`y_i = e^{a_{bos}} / (e^{a_{bos}} + i\, e^{a_x})`, computed from the head's own
        vectors in log space. Shapes: ``rows`` ``(n,)`` integers >= 1; returns ``(n,)``.

        >>> BosAnchorHead.build(0.0).outputs([1, 3, 9]).round(12).tolist()
        [0.5, 0.25, 0.1]
        """
        i = _v.positions(rows, "rows")
        if np.any(i < 1):
            raise ValueError("rows must be integers >= 1 (row 0 holds only the BOS key)")
        q_x = self.embeddings[1] @ self.w_q
        a_bos = float(jnp.dot(q_x, self.embeddings[0] @ self.w_k))
        a_x = float(jnp.dot(q_x, self.embeddings[1] @ self.w_k))
        log_norm = np.logaddexp(a_bos, a_x + np.log(i.astype(np.float64)))
        return np.exp(a_bos - log_norm) * self.values[0] + (1.0 - np.exp(a_bos - log_norm)) * self.values[1]
