r"""Which frequencies the heads of a trained :mod:`.transformer` use (Barbero et al. §4, §5).

For every layer and head, the mean 2-norm of each query and key frequency pair *before* the
rotary map, :math:`\overline{\lVert q^{(m)}\rVert} = \mathrm{mean}_t \sqrt{q_{t,m}^2 +
q_{t,m+d/2}^2}` (half layout, pair ``m = 0`` the highest frequency), and how positional each
head is: its mean attention on the current token (diagonal) and on the previous token.
A pair carries a large norm only if the head relies on it, so the norm profile shows which
frequencies a model uses. The paper finds that Gemma 7B puts its largest norms on the *lowest*
frequencies and builds diagonal and previous-token heads from the *highest* ones;
:func:`summarise` turns the measurements into those two statements' statistics for one model.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ropelab.constructions.frequency_usage import pair_norms
from ropelab.checks.findings.models import transformer as tf

__all__ = ["POSITIONAL_WEIGHT", "measure", "summarise"]

POSITIONAL_WEIGHT = 0.5
"""A head is called positional when its mean attention on one fixed offset (0 or 1) exceeds
1/2: by Lemma A.3 a weight above 1/2 can only sit on the row's largest logit."""


@dataclass(frozen=True)
class HeadUsage:
    """Measurements of one model on a set of windows.

    ``q_norm`` and ``k_norm`` have shape ``(layers, heads, d/2)``; ``diagonal`` and
    ``previous`` (mean attention on offsets 0 and 1 over rows ``i >= 1``) have shape
    ``(layers, heads)``.
    """

    q_norm: np.ndarray
    k_norm: np.ndarray
    diagonal: np.ndarray
    previous: np.ndarray

    def as_dict(self) -> dict:
        return {name: np.round(getattr(self, name), 6).tolist() for name in ("q_norm", "k_norm", "diagonal", "previous")}


def measure(
    params: dict, windows: np.ndarray, config: tf.ModelConfig, encoding: tf.PositionalEncoding
) -> HeadUsage:
    """Mean pair norms and diagonal / previous-token attention over ``windows`` ``(n, T)``.

    >>> cfg = tf.ModelConfig(d_model=16, n_layers=1, n_heads=2, head_dim=8)
    >>> p = tf.init_params(cfg, jax.random.PRNGKey(0))
    >>> u = measure(p, np.arange(20).reshape(2, 10), cfg, tf.PositionalEncoding("rope"))
    >>> u.q_norm.shape, u.diagonal.shape
    ((1, 2, 4), (1, 2))
    """
    windows = jnp.asarray(windows, dtype=jnp.int32)
    tables = encoding.tables(windows.shape[-1], config.head_dim, params["embed"].dtype)
    q_norm, k_norm, diagonal, previous = _measure_batch(config)(params, windows, tables)
    return HeadUsage(*(np.asarray(a, dtype=np.float64).mean(axis=0) for a in (q_norm, k_norm, diagonal, previous)))


@functools.cache
def _measure_batch(config: tf.ModelConfig):
    """The compiled per-window measurement of one architecture (cached: compiled once per
    window length and tables' layout, whatever the encoding's frequencies)."""

    def one(params, tokens, tables):
        _, internals = tf.forward_with_internals(params, tokens, config, tables)
        q = jnp.stack([layer["q"] for layer in internals])  # (L, T, H, d)
        k = jnp.stack([layer["k"] for layer in internals])
        w = jnp.stack([layer["weights"] for layer in internals])  # (L, H, T, T)
        rows = jnp.arange(1, tokens.shape[0])
        diagonal = w[:, :, rows, rows].mean(axis=-1)
        previous = w[:, :, rows, rows - 1].mean(axis=-1)
        return pair_norms(q).mean(axis=1), pair_norms(k).mean(axis=1), diagonal, previous

    return jax.jit(jax.vmap(one, in_axes=(None, 0, None)))


def summarise(usage: HeadUsage) -> dict:
    r"""The two statistics of the paper's frequency-usage claims for one model.

    * ``low_high_ratio_q`` / ``_k`` (per layer): mean pair norm over the lowest quarter of
      the pairs and the layer's heads, divided by the same mean over the highest quarter.
      Above 1: the low frequencies carry the larger norms.
    * ``positional_heads``: ``(layer, head, kind)`` of heads whose diagonal or previous-token
      weight exceeds :data:`POSITIONAL_WEIGHT`; ``top_share`` of every head is the share of
      :math:`\sum_m \lVert q^{(m)}\rVert\lVert k^{(m)}\rVert` on the highest quarter of pairs
      (0.25 if usage were flat).

    >>> u = HeadUsage(q_norm=np.array([[[1.0, 1.0, 2.0, 4.0]]]), k_norm=np.ones((1, 1, 4)),
    ...               diagonal=np.array([[0.1]]), previous=np.array([[0.9]]))
    >>> s = summarise(u)
    >>> s["low_high_ratio_q"], s["positional_heads"], s["top_share"]
    ([4.0], [[0, 0, 'previous']], [[0.125]])
    """
    pairs = usage.q_norm.shape[-1]
    quarter = max(pairs // 4, 1)
    high, low = slice(0, quarter), slice(pairs - quarter, pairs)

    def ratio(norm: np.ndarray) -> list[float]:
        return (norm[..., low].mean(axis=(-2, -1)) / norm[..., high].mean(axis=(-2, -1))).tolist()

    product = usage.q_norm * usage.k_norm
    top_share = product[..., high].sum(axis=-1) / product.sum(axis=-1)
    positional = []
    for layer, head in np.ndindex(usage.diagonal.shape):
        if usage.diagonal[layer, head] > POSITIONAL_WEIGHT:
            positional.append([layer, head, "diagonal"])
        elif usage.previous[layer, head] > POSITIONAL_WEIGHT:
            positional.append([layer, head, "previous"])
    return {
        "low_high_ratio_q": ratio(usage.q_norm),
        "low_high_ratio_k": ratio(usage.k_norm),
        "positional_heads": positional,
        "top_share": np.round(top_share, 6).tolist(),
    }
