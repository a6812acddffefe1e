"""Named tolerances, each derived from dtype, dimension and the largest angle, with its reason."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EPS32",
    "EPS64",
    "SOFTMAX_ROUNDING",
    "Tolerance",
    "eps",
    "peer_frequencies",
    "peer_rotation",
    "rotation_identity",
    "target_weight_rounding",
]

EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)

# Headroom over the first-order error bound: each pair's rounding enters through a handful
# of correctly rounded operations (product, cos, sin, two multiplies, one add).
OPERATIONS_PER_PAIR = 8.0


@dataclass(frozen=True)
class Tolerance:
    value: float
    reason: str


def eps(dtype: object) -> float:
    """Machine epsilon of a floating dtype (float64, float32, ...)."""
    return float(np.finfo(np.dtype(dtype)).eps)


def rotation_identity(dtype: object, d: int, max_angle: float, scale: float = 1.0) -> Tolerance:
    """Error allowed for an identity between rotary maps or their logits.

    An angle ``A`` is rounded with absolute error up to ``eps * A``, which moves cos/sin by
    the same amount; summing over ``d`` coordinates and multiplying by the size of the
    vectors (``scale``, e.g. ``|q||k|``) gives ``c * d * (A + 1) * eps * scale``.
    """
    e = eps(dtype)
    value = OPERATIONS_PER_PAIR * d * (max_angle + 1.0) * e * scale
    return Tolerance(
        value,
        f"{OPERATIONS_PER_PAIR:g} ops x d={d} x (largest angle {max_angle:.3g} rad + 1) x "
        f"eps({np.dtype(dtype).name})={e:.2g} x scale {scale:.3g}",
    )


def peer_frequencies(theta: float, peer_dtype: object) -> Tolerance:
    """Relative error allowed between our float64 schedule and a peer's stored schedule.

    A peer working in ``peer_dtype`` rounds the exponent ``2m/d`` (relative error ``eps``),
    which the power ``theta**x`` amplifies by ``ln theta``, then rounds the power and the
    scaling arithmetic (a few more ``eps``).
    """
    e = eps(peer_dtype)
    value = (4.0 + math.log(theta)) * e
    return Tolerance(value, f"(4 + ln theta={math.log(theta):.3g}) x eps({np.dtype(peer_dtype).name})")


def peer_rotation(theta: float, peer_dtype: object, max_angle: float, scale: float) -> Tolerance:
    """Absolute error allowed between our rotary map and a peer's stored output.

    The peer forms the angle ``position * g`` in ``peer_dtype`` with ``g`` itself off by
    ``(2 + ln theta) eps`` relative, so the phase is off by up to
    ``A (3 + ln theta) eps``; cos, sin and the pair arithmetic add a few ``eps``.
    """
    e = eps(peer_dtype)
    value = scale * e * (max_angle * (3.0 + math.log(theta)) + OPERATIONS_PER_PAIR)
    return Tolerance(
        value,
        f"|x|={scale:.3g} x eps({np.dtype(peer_dtype).name}) x (largest angle {max_angle:.3g} x "
        f"(3 + ln theta) + {OPERATIONS_PER_PAIR:g})",
    )


SOFTMAX_ROUNDING = Tolerance(16 * EPS64, "exp, the sum and one divide in each of two softmax evaluations")


def target_weight_rounding(n_pairs: int, max_angle: float, scale_squared: float, context: int) -> Tolerance:
    """Absolute error allowed in a computed target weight of a position-only head.

    A unit-curve entry ``sum_m w_m cos(angle)`` (``sum w = 1``) inherits the angle's rounding
    (``angle * eps``) plus about ``n_pairs + 2`` roundings from cos and the sum; the logits are
    ``s^2`` times that. The weight ``exp(c(t) - L_i)`` is off by the target's and the
    normaliser's logit error plus the prefix log-sum-exp's ``(log2 N + 2) eps`` of ``s^2``.
    """
    logit_error = scale_squared * (max_angle + n_pairs + 2.0) * EPS64
    value = 2.0 * logit_error + (math.log2(context) + 2.0) * EPS64 * scale_squared
    return Tolerance(value, f"2 x s^2={scale_squared:.3g} x (angle {max_angle:.3g} + {n_pairs} pairs + 2) x eps64 "
                            f"+ (log2 N + 2) x eps64 x s^2")
