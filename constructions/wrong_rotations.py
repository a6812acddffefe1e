r"""Maps that look like RoPE and are not: the constructions behind the negative controls.

Each is a published or plausible mistake a check must reject: a reflection (orthogonal, but
reflections do not compose), xPos-style decay (Sun et al. 2022; not an isometry), and the key
turned clockwise (:math:`R^{-j}k`).
"""

from __future__ import annotations

import numpy as np

from . import rotary

__all__ = ["key_rotated_backwards", "reflection", "xpos_pair_scale", "xpos_scaled"]

XPOS_GAMMA = 0.4
r"""xPos's per-pair offset: :math:`\zeta_m = (2m/d + \gamma)/(1 + \gamma)`."""
XPOS_SPAN = 512.0
r"""xPos's length scale: the decay is :math:`\zeta^{r/512}`."""


def reflection(x, positions, freqs):
    r"""Each pair reflected across the line at half its angle: :math:`\begin{pmatrix}\cos a & \sin a\\ \sin a & -\cos a\end{pmatrix}`.

    Shapes as :func:`ropelab.constructions.rotary.apply` (half layout).

    >>> reflection(np.array([1.0, 0.0]), 0, [0.5]).tolist()
    [1.0, 0.0]
    """
    a = rotary.angles(positions, freqs)
    d = np.shape(x)[-1]
    x1, x2 = np.asarray(x)[..., : d // 2], np.asarray(x)[..., d // 2 :]
    return np.concatenate([x1 * np.cos(a) + x2 * np.sin(a), x1 * np.sin(a) - x2 * np.cos(a)], axis=-1)


def xpos_scaled(x, positions, freqs, zeta: float = 0.999, span: float = XPOS_SPAN):
    r"""The rotary map times a uniform decay :math:`\zeta^{i/\mathrm{span}}`: not an isometry.

    >>> round(float(np.linalg.norm(xpos_scaled(np.array([3.0, 4.0]), 512, [0.1]))), 12)
    4.995
    """
    scale = zeta ** (np.asarray(positions, dtype=np.float64) / span)
    return np.asarray(rotary.apply(x, positions, freqs)) * scale[..., None]


def xpos_pair_scale(d: int, distance: int) -> np.ndarray:
    r"""xPos's per-pair logit factor at distance ``r``: :math:`\zeta_m^{r/512}`, both halves, shape ``(d,)``.

    >>> xpos_pair_scale(2, 0).tolist()
    [1.0, 1.0]
    """
    zeta = (2.0 * np.arange(d // 2) / d + XPOS_GAMMA) / (1.0 + XPOS_GAMMA)
    scale = zeta ** (distance / XPOS_SPAN)
    return np.concatenate([scale, scale])


def key_rotated_backwards(x, positions, freqs):
    """The key turned clockwise: :math:`R^{-j}k` instead of :math:`R^j k`.

    >>> key_rotated_backwards(np.array([1.0, 0.0]), 1, [np.pi / 2]).round(12).tolist()
    [0.0, -1.0]
    """
    return rotary.apply(x, positions, -np.asarray(freqs))
