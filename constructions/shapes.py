"""Explicit rank alignment: the leading unit axes NumPy broadcasting would add implicitly."""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["at_rank", "same_rank"]


def at_rank(a: jnp.ndarray, rank: int) -> jnp.ndarray:
    """``a`` with leading unit axes added up to ``rank`` axes, as NumPy broadcasting aligns it.

    Shapes: ``a`` is ``(*s)`` with ``len(s) <= rank``; returns ``(1, ..., 1, *s)`` of ``rank``
    axes, the same values.

    >>> at_rank(jnp.ones(3), 3).shape
    (1, 1, 3)
    """
    a = jnp.asarray(a)
    return a.reshape((1,) * (rank - a.ndim) + a.shape)


def same_rank(*arrays: jnp.ndarray) -> tuple[jnp.ndarray, ...]:
    """Each array brought by :func:`at_rank` to the largest rank among them.

    Broadcasting the results is the NumPy broadcast of the inputs, with no implicit rank
    promotion left (so it holds under ``jax_numpy_rank_promotion="raise"``).

    >>> [a.shape for a in same_rank(jnp.ones(3), jnp.ones((2, 3)))]
    [(1, 3), (2, 3)]
    """
    rank = max(jnp.ndim(a) for a in arrays)
    return tuple(at_rank(a, rank) for a in arrays)
