r"""p-RoPE written as GPT-NeoX partial rotary: the scaled base and the coordinate permutation.

p-RoPE keeps pairs ``m < n`` of the half layout, ``(m, m + d/2)``, at :math:`\theta^{-2m/d}`.
Partial rotary rotates the prefix ``x[:2n]`` in its own half layout, pairs ``(m, m + n)``, at
:math:`\theta'^{-2m/(2n)}`. With :math:`\theta' = \theta^{2n/d}` the frequencies agree, so the
two maps are one function once the coordinates are reordered by :func:`to_partial_order`
(claim ``p_rope_equals_partial_rotary_with_scaled_base``): a p-RoPE checkpoint runs as
partial rotary only after its query/key projection rows are permuted.
"""

from __future__ import annotations

import numpy as np

from . import frequencies
from . import validation as _v

__all__ = ["partial_frequencies", "scaled_base", "to_partial_order"]


def scaled_base(d: int, theta: float, kept: int) -> float:
    r"""The partial-rotary base :math:`\theta^{2n/d}` that reproduces p-RoPE's ``n`` frequencies.

    >>> scaled_base(256, 10_000.0, 96)   # p = 0.75
    1000.0
    """
    d = _v.head_dim(d)
    theta = _v.base(theta)
    if not 1 <= kept <= d // 2:
        raise ValueError(f"kept must be an integer in [1, {d // 2}], got {kept}")
    return theta ** (2 * kept / d)


def to_partial_order(d: int, kept: int) -> np.ndarray:
    """Index array ``perm`` with ``x_partial = x_p[perm]``: kept pairs first, in the prefix's
    half layout, then every unrotated coordinate in its original order.

    >>> to_partial_order(8, 2).tolist()
    [0, 1, 4, 5, 2, 3, 6, 7]
    """
    d = _v.head_dim(d)
    half = d // 2
    first = np.arange(kept)
    prefix = np.concatenate([first, first + half])
    rest = np.setdiff1d(np.arange(d), prefix)
    return np.concatenate([prefix, rest])


def partial_frequencies(d: int, theta: float, p: float) -> np.ndarray:
    """The prefix schedule of the equivalent partial rotary: ``rope(2n, theta**(2n/d))``.

    >>> np.allclose(partial_frequencies(256, 1e4, 0.75), frequencies.p_rope(256, 1e4, 0.75)[:96])
    True
    """
    kept = frequencies.p_rope_pairs(d, p)
    return frequencies.rope(2 * kept, scaled_base(d, theta, kept))
