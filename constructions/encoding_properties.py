r"""What an encoding's own channels can do: the sharpest positional heads under a norm budget, the longest semantic range.

Table 1 of Barbero et al. (2025) says which encodings are *positional* (can build the
Thm 5.3 diagonal and previous-token heads) and *semantic* (have a channel that no context
breaks). Both are measured here for any frequency schedule:

- :func:`sharpest_heads`: for each band of the ``k`` fastest rotating pairs (equal weights),
  the head :math:`q = s\psi`, :math:`k = sR^{t}\psi` with :math:`s^2` = ``budget`` has logits
  :math:`s^2 c(r - t)`; its smallest weight on the intended key over every row of an
  ``N``-token context (``t = 0`` diagonal, ``t = 1`` previous token) is read off with
  :func:`.relative_position.weight_at_distance`; the best band is kept. With no rotating pair every
  logit is the same and the weight is ``1/N`` (NoPE cannot, Prop 5.2).
- :func:`longest_semantic_range`: over the encoding's pairs, the longest breaking context
  against an anti-aligned rival of equal norm (:func:`.semantic_channels.breaking_context`, brute
  force to ``horizon`` tokens); ``inf`` when a pair does not rotate.
"""

from __future__ import annotations

import math

import numpy as np

from . import semantic_channels, frequencies, relative_position

__all__ = ["head_weight", "longest_semantic_range", "sharpest_heads", "table1_encodings"]

BANDS = (1, 2, 4, 8, 16, 32, 64)


def table1_encodings(d: int, theta: float, p: float) -> dict[str, np.ndarray]:
    """The encodings compared: NoPE, RoPE, p-RoPE, reversed p-RoPE and partial rotary (as frequencies per pair).

    Partial rotary re-spreads the schedule over its ``n`` kept pairs (``theta^(-2m/2n)``); only its
    frequencies matter here, not where its pairs sit.

    >>> sorted(table1_encodings(8, 100.0, 0.5))
    ['NoPE', 'RoPE', 'p-RoPE', 'partial rotary', 'reversed p-RoPE']
    """
    kept = frequencies.p_rope_pairs(d, p)
    partial = frequencies.nope(d)
    partial[:kept] = frequencies.rope(2 * kept, theta)
    return {"NoPE": frequencies.nope(d), "RoPE": frequencies.rope(d, theta), "p-RoPE": frequencies.p_rope(d, theta, p),
            "reversed p-RoPE": frequencies.reversed_p_rope(d, theta, p), "partial rotary": partial}


def head_weight(freqs: np.ndarray, band: np.ndarray, context: int, budget: float, shift: int) -> float:
    r"""Smallest weight on the key ``shift`` tokens back, over rows ``shift .. N-1``, of the head
    :math:`q = s\psi`, :math:`k = sR^{shift}\psi` with :math:`s^2` = ``budget``.

    The logit at distance ``r`` is :math:`s^2 c(r - shift)` with ``c`` the diagonal curve
    (:func:`.semantic_channels.diagonal_head_curve`; ``c`` is even).

    >>> round(head_weight(np.array([0.0]), np.array([], dtype=int), 4, 10.0, 0), 6)   # no rotating pair: 1/N
    0.25
    """
    diagonal = semantic_channels.diagonal_head_curve(freqs, band, context + shift)
    curve = diagonal[np.abs(np.arange(context) - shift)]
    return float(np.min(relative_position.weight_at_distance(budget * curve, shift)))


def sharpest_heads(freqs: np.ndarray, context: int, budget: float, bands: tuple[int, ...] = BANDS) -> dict:
    """The sharpest diagonal and previous-token heads over bands of the fastest rotating pairs.

    Returns ``{"diagonal": w, "previous": w, "diagonal_band": k, "previous_band": k}`` with ``w``
    the best smallest weight and ``k`` the band size that reaches it (0: no rotating pair).

    >>> out = sharpest_heads(frequencies.nope(8), 100, 50.0)
    >>> out["diagonal"], out["diagonal_band"]
    (0.01, 0)
    """
    out = {}
    for name, shift in (("diagonal", 0), ("previous", 1)):
        best, best_band = 1.0 / context, 0  # the constant head every encoding can build
        for size in bands:
            band = semantic_channels.top_band(freqs, size)
            if band.size < size and size != bands[0]:
                continue  # the same band as a smaller size
            if band.size:
                weight = head_weight(freqs, band, context, budget, shift)
                if weight > best:
                    best, best_band = weight, int(band.size)
        out[name], out[f"{name}_band"] = best, best_band
    return out


def longest_semantic_range(freqs: np.ndarray, horizon: int) -> dict:
    """The longest breaking context among the encoding's channels, by brute force to ``horizon``.

    The slowest pair has the longest range (it scales as 1/g); ``inf`` when it does not break
    within ``horizon`` tokens (an unrotated pair never does).

    >>> longest_semantic_range(np.array([1.0, 0.01]), 10**4)["range"]
    159
    """
    slowest = float(np.min(freqs))
    found = semantic_channels.breaking_context(slowest, math.pi, limit=horizon)
    return {"slowest": slowest, "range": found.context if found is not None else math.inf}
