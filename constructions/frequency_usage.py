r"""How a model uses its rotary frequencies: norms per pair, positional head scores, logit tables.

The measurements of Barbero et al. (2025) §4 on captured queries, keys and values (see
:mod:`ropelab.checks.findings.models.model_adapter`), as pure NumPy functions:

- the 2-norm of each frequency pair :math:`|x^{(m)}| = \sqrt{x_m^2 + x_{m+d/2}^2}` (half
  layout), whose means over tokens, heads or layers make Figs 3, 4, 13 and whose per-token
  values make Fig 6;
- attention-mass scores of a head: the weight each row puts on itself (diagonal), on the
  token before it (previous token) and on the first token (BOS);
- Tables 3-5: the diagonal logit :math:`q_i^\top k_i/\sqrt d`, the previous-token logit
  :math:`(R^i q_i)^\top (R^{i-1} k_{i-1})/\sqrt d` and the Cauchy–Schwarz bound
  :math:`|q_i||k_i|/\sqrt d` that the diagonal logit cannot exceed;
- summaries of a pair profile: the share of the low-frequency half, the share of a top band
  in the logit budget :math:`\sum_m |q^{(m)}||k^{(m)}|`, and where the high-norm band begins.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import rotary
from . import validation as _v

__all__ = [
    "attention_scores",
    "band_onset",
    "band_share",
    "budget_profile",
    "logit_table",
    "low_half_share",
    "pair_norms",
]


def pair_norms(x: object, layout: str = "half") -> np.ndarray:
    r"""2-norm of each rotary pair: shape ``(..., d)`` in, ``(..., d/2)`` out (float64; a JAX array
    in, as inside ``jit``, stays a JAX array of its dtype).

    :math:`|x^{(m)}| = \sqrt{x_{a(m)}^2 + x_{b(m)}^2}` with ``(a(m), b(m))`` the layout's pair.

    >>> pair_norms([3.0, 0.0, 4.0, 1.0]).tolist()
    [5.0, 1.0]
    """
    if isinstance(x, jax.Array):  # inside jit (a trained model's heads): stay traced, in x's dtype
        first, second = rotary.pair_indices(_v.head_dim(x.shape[-1], "x.shape[-1]"), layout)
        return jnp.hypot(x[..., first], x[..., second])
    arr = np.asarray(x, dtype=np.float64)
    first, second = rotary.pair_indices(_v.head_dim(arr.shape[-1], "x.shape[-1]"), layout)
    return np.hypot(arr[..., first], arr[..., second])


def attention_scores(attention: object) -> dict[str, np.ndarray]:
    r"""Attention mass of a head on the diagonal, the previous token and BOS.

    ``attention`` has shape ``(..., n, n)`` with rows summing to 1 (row ``i`` = query ``i``).
    Each score averages one mass over the rows ``i = 2 .. n-1``, where the three targets
    ``i``, ``i-1`` and ``0`` are distinct tokens (row 0 can only read itself and row 1's
    previous token is BOS): :math:`\frac{1}{n-2}\sum_{i\ge2}\alpha_{i,i}`,
    :math:`\alpha_{i,i-1}`, :math:`\alpha_{i,0}`. This is TransformerLens's attention-mass
    reading of "current-token", "previous-token" and "BOS" heads restricted to those rows.
    Returns arrays of shape ``(...)`` under ``"diagonal"``, ``"previous_token"``, ``"bos"``.

    >>> a = np.tril(np.ones((4, 4))); a /= a.sum(-1, keepdims=True)
    >>> {k: round(float(v), 3) for k, v in attention_scores(a).items()}
    {'diagonal': 0.292, 'previous_token': 0.292, 'bos': 0.292}
    """
    a = np.asarray(attention, dtype=np.float64)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2] or a.shape[-1] < 3:
        raise ValueError(f"attention must have shape (..., n, n) with n >= 3, got {a.shape}")
    rows = np.arange(2, a.shape[-1])
    return {
        "diagonal": a[..., rows, rows].mean(-1),
        "previous_token": a[..., rows, rows - 1].mean(-1),
        "bos": a[..., rows, 0].mean(-1),
    }


def logit_table(q: object, k: object, freqs: object, layout: str = "half") -> dict[str, np.ndarray]:
    r"""Tables 3-5 of the paper for one head: logits against the Cauchy–Schwarz bound, over ``sqrt(d)``.

    ``q`` and ``k`` are the head's unrotated queries and keys, shape ``(n, d)``, at positions
    ``0 .. n-1``; ``freqs`` its schedule ``(d/2,)``. Returns arrays of length ``n``:

    - ``upper_bound`` :math:`|q_i||k_i|/\sqrt d` (the paper's column),
    - ``diagonal`` :math:`q_i^\top k_i/\sqrt d` (rotation-free: :math:`R^{i\top}R^i = I`),
    - ``previous_token`` :math:`(R^i q_i)^\top(R^{i-1}k_{i-1})/\sqrt d` (NaN at ``i = 0``),
    - ``previous_bound`` :math:`|q_i||k_{i-1}|/\sqrt d`, the bound for that logit.

    By Cauchy–Schwarz ``|diagonal| <= upper_bound`` and ``|previous_token| <= previous_bound``.

    >>> t = logit_table(np.ones((3, 2)), np.ones((3, 2)), [np.pi / 2])
    >>> np.round(t["diagonal"], 3).tolist(), np.round(t["previous_token"], 3).tolist()
    ([1.414, 1.414, 1.414], [nan, 0.0, 0.0])
    """
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    if q.ndim != 2 or q.shape != k.shape:
        raise ValueError(f"q and k must both have shape (n, d), got {q.shape} and {k.shape}")
    n, d = q.shape
    positions = np.arange(n)
    qr = np.asarray(rotary.apply(q, positions, freqs, layout), dtype=np.float64)
    kr = np.asarray(rotary.apply(k, positions, freqs, layout), dtype=np.float64)
    root = np.sqrt(d)
    qn, kn = np.linalg.norm(q, axis=-1), np.linalg.norm(k, axis=-1)
    previous = np.full(n, np.nan)
    previous[1:] = np.einsum("id,id->i", qr[1:], kr[:-1]) / root
    previous_bound = np.full(n, np.nan)
    previous_bound[1:] = qn[1:] * kn[:-1] / root
    return {
        "upper_bound": qn * kn / root,
        "diagonal": np.einsum("id,id->i", q, k) / root,
        "previous_token": previous,
        "previous_bound": previous_bound,
    }


def low_half_share(energy: object) -> np.ndarray:
    r"""Share of a pair profile held by the low-frequency half of the pairs.

    ``energy`` has shape ``(..., d/2)`` (e.g. mean squared pair norms, highest frequency
    first); returns :math:`\sum_{m \ge d/4} e_m / \sum_m e_m`, shape ``(...)``. It is 1/2 when
    the profile does not depend on the pair.

    >>> float(low_half_share([1.0, 1.0, 3.0, 3.0]))
    0.75
    """
    e = np.asarray(energy, dtype=np.float64)
    half = e.shape[-1] // 2
    return e[..., half:].sum(-1) / e.sum(-1)


def budget_profile(q_norms: object, k_norms: object) -> np.ndarray:
    r"""Per-pair logit budget :math:`b_m = |q^{(m)}||k^{(m)}|` from mean pair norms, shape ``(..., d/2)``.

    By Cauchy–Schwarz on each pair, :math:`|a_{ij}| \le \sum_m |q_i^{(m)}||k_j^{(m)}|`; ``b``
    is how much of that bound each frequency can carry.

    >>> budget_profile([1.0, 2.0], [3.0, 0.5]).tolist()
    [3.0, 1.0]
    """
    return np.asarray(q_norms, dtype=np.float64) * np.asarray(k_norms, dtype=np.float64)


def band_share(profile: object, band: int) -> np.ndarray:
    """Share of a pair profile ``(..., d/2)`` in its ``band`` highest-frequency pairs, shape ``(...)``.

    >>> float(band_share([2.0, 1.0, 1.0], 1))
    0.5
    """
    p = np.asarray(profile, dtype=np.float64)
    if not 0 < band <= p.shape[-1]:
        raise ValueError(f"band must be an integer in [1, {p.shape[-1]}], got {band}")
    return p[..., :band].sum(-1) / p.sum(-1)


def band_onset(profile: object, smooth: int = 8) -> np.ndarray:
    r"""Pair index where a profile's high-norm band begins (half-maximum crossing).

    The profile ``(..., d/2)`` (highest frequency first) is smoothed by a moving average of
    ``smooth`` pairs; the onset is the first pair, scanning from the highest frequency, where
    the smoothed profile reaches halfway between its minimum and its maximum. Returns integer
    indices of shape ``(...)``. App C of the paper reads this onset off Fig 3.

    >>> int(band_onset(np.r_[np.ones(20), 5 * np.ones(12)], smooth=1))
    20
    """
    p = np.asarray(profile, dtype=np.float64)
    smooth = int(smooth)
    if not 1 <= smooth <= p.shape[-1]:
        raise ValueError(f"smooth must be an integer in [1, {p.shape[-1]}], got {smooth}")
    # edge values repeated so that every pair averages ``smooth`` values; a running sum makes the window
    padded = np.concatenate([np.repeat(p[..., :1], smooth // 2, -1), p, np.repeat(p[..., -1:], (smooth - 1) // 2, -1)], -1)
    running = np.concatenate([np.zeros(p.shape[:-1] + (1,)), np.cumsum(padded, axis=-1)], -1)
    smoothed = (running[..., smooth:] - running[..., :-smooth]) / smooth
    lo, hi = smoothed.min(-1, keepdims=True), smoothed.max(-1, keepdims=True)
    return np.argmax(smoothed >= (lo + hi) / 2, axis=-1)
