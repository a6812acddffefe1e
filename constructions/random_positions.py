r"""Randomised positional encodings (Ruoss et al. 2023) under RoPE.

A sequence of ``N`` tokens gets ``N`` distinct positions drawn uniformly from
``0 .. L-1`` and sorted, instead of ``0 .. N-1``; tokens ``r`` apart in the sequence are then
about ``r L / N`` positions apart (:mod:`ropelab.theory.random_positions`). The logits of the
last query against every key show how a RoPE curve, read by sequence index, changes.
"""

from __future__ import annotations

import numpy as np

from . import logit_statistics
from . import validation as _v

__all__ = ["last_row_logits", "randomised_positions"]


def randomised_positions(rng: np.random.Generator, tokens: int, max_position: int) -> np.ndarray:
    """``tokens`` distinct positions from ``0 .. max_position-1``, sorted (int64, ``(tokens,)``).

    >>> randomised_positions(np.random.default_rng(0), 4, 4).tolist()
    [0, 1, 2, 3]
    """
    if isinstance(tokens, bool) or not isinstance(tokens, (int, np.integer)) or tokens < 1:
        raise ValueError(f"tokens must be an integer >= 1, got {tokens!r}")
    if isinstance(max_position, bool) or not isinstance(max_position, (int, np.integer)) or max_position < tokens:
        raise ValueError(f"max_position must be an integer >= tokens = {tokens}, got {max_position!r}")
    return np.sort(rng.choice(int(max_position), size=int(tokens), replace=False)).astype(np.int64)


def last_row_logits(q: object, k: object, freqs: object, positions: object) -> np.ndarray:
    r"""Logits of the last token's query against every key, by sequence distance.

    Entry ``r`` is :math:`a_{N-1, N-1-r} = (R^{p_{N-1}} q)^\top (R^{p_{N-1-r}} k)
    = q^\top R^{-(p_{N-1} - p_{N-1-r})} k`, with the same ``q`` and ``k`` at every token and
    positions ``p`` (increasing). Shapes: ``q``, ``k`` ``(..., d)`` (several query/key pairs
    share the positions), ``positions`` ``(N,)``; returns ``(..., N)`` float64.

    >>> np.round(last_row_logits([1.0, 0.0], [1.0, 0.0], [np.pi / 2], [0, 1, 3]), 12).tolist()
    [1.0, -1.0, -0.0]
    """
    pos = _v.positions(positions)
    if pos.ndim != 1 or np.any(np.diff(pos) <= 0):
        raise ValueError("positions must be a 1-D array of strictly increasing integers")
    # the same q and k at every token: the logit depends on p_(N-1) - p_j only (Eq. 3)
    return logit_statistics.curves_at_distances(q, k, freqs, pos[-1] - pos[::-1])
