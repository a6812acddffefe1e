r"""The adapter's correctness check: ropelab's rotary map on the captured q, k must give the model's attention.

:func:`validate_capture` re-applies ropelab's own rotary map
(:func:`ropelab.constructions.rotary.apply`) with each layer's schedule to the captured
pre-rotation q and k, forms ``softmax(q k^T * scaling + mask)`` and compares it with the
model's own attention maps within a derived float32 error bound; the model's cos/sin tables
are compared with the schedule the same way. HF transformers rotates pairs
``(x[m], x[m + d/2])``, so the layout is ``"half"``.
Reference: Barbero et al. (2025) §4.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ropelab.checks.findings.models.capture_records import Capture, LayerSchedule
from ropelab.constructions import rotary

__all__ = ["attention_mask", "reference_logits", "validate_capture"]

LAYOUT = "half"


def rotated(x: np.ndarray, schedule: LayerSchedule, layout: str = LAYOUT) -> np.ndarray:
    """``R^i x_i`` for rows ``i = 0..n-1`` of ``x`` (shape ``(..., n, d)``), in float64.

    Uses ropelab's rotary map with the layer's schedule and multiplies by its attention factor
    (HF scales cos and sin by it).
    """
    x = np.asarray(x, dtype=np.float64)
    positions = np.arange(x.shape[-2])
    out = np.asarray(rotary.apply(x, positions, schedule.freqs, layout))
    if out.dtype != np.float64:
        raise ValueError("the capture check runs in float64: switch on jax_enable_x64 first (the ropelab command does)")
    return schedule.attention_factor * out


def attention_mask(n: int, sliding_window: int | None) -> np.ndarray:
    """Boolean ``(n, n)`` mask of the keys row ``i`` may read: ``j <= i`` and ``i - j < window``.

    >>> attention_mask(4, 2).astype(int).tolist()
    [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]
    """
    i, j = np.indices((n, n))
    mask = j <= i
    if sliding_window is not None:
        mask &= (i - j) < sliding_window
    return mask


def reference_logits(capture: Capture, layer: int, layout: str = LAYOUT, schedule: LayerSchedule | None = None) -> np.ndarray:
    """``scaling * (R^i q_i) . (R^j k_j)`` for every query head of ``layer``; ``(H, n, n)`` float64.

    Soft-capped when the layer declares a cap; not masked. ``schedule`` defaults to the
    layer's own (tests pass a wrong one as a negative control).
    """
    schedule = capture.schedules[layer] if schedule is None else schedule
    q = rotated(capture.queries[layer], schedule, layout)
    k = rotated(capture.keys_for_query_heads(layer), schedule, layout)
    logits = schedule.scaling * np.einsum("hid,hjd->hij", q, k)
    if schedule.softcap is not None:
        logits = schedule.softcap * np.tanh(logits / schedule.softcap)
    return logits


def reference_attention(capture: Capture, layer: int, layout: str = LAYOUT, schedule: LayerSchedule | None = None) -> np.ndarray:
    """Causal (and windowed) softmax of :func:`reference_logits`; ``(H, n, n)`` float64."""
    schedule = capture.schedules[layer] if schedule is None else schedule
    logits = reference_logits(capture, layer, layout, schedule)
    mask = attention_mask(capture.n_tokens, schedule.sliding_window)
    logits = np.where(mask, logits, -np.inf)
    logits -= logits.max(axis=-1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class CaptureValidation:
    """The capture check's verdict: worst error in units of its derived bound (passes at <= 1).

    ``attention_ratio`` is ``max |alpha_model - alpha_ropelab| / bound`` over layers, heads
    and entries; ``schedule_ratio`` the same for the model's cos/sin tables against
    ropelab's schedule. ``worst`` names where each was attained with the raw numbers.
    """

    attention_ratio: float
    schedule_ratio: float
    worst: dict
    reason: str

    @property
    def passed(self) -> bool:
        return bool(self.attention_ratio <= 1.0 and self.schedule_ratio <= 1.0)


def _eps(dtype: str) -> float:
    return float(np.finfo(np.dtype(dtype)).eps)


def angle_error_bound(schedule: LayerSchedule, positions: np.ndarray) -> np.ndarray:
    r"""Bound on the model's float32 cos/sin error per position (shape like ``positions``).

    HF forms ``inv_freq`` and the angle ``p * g`` in float32 whatever the model dtype: the
    schedule is off by a few ulp amplified by :math:`\ln\theta` through the power, so the
    phase at angle ``A`` is off by up to :math:`A(3+\ln\theta)\epsilon_{32}`, and cos, sin and
    the multiply by the attention factor add a few more :math:`\epsilon_{32}` (the reasoning of
    :func:`ropelab.checks.tolerances.peer_rotation`, restated here because constructions
    do not import checks).
    """
    eps32 = _eps("float32")
    largest_angle = np.asarray(positions, dtype=np.float64) * float(np.max(schedule.freqs))
    return eps32 * (largest_angle * (3.0 + math.log(schedule.theta)) + 8.0)


def logit_error_bound(capture: Capture, layer: int) -> np.ndarray:
    r"""Per-entry bound ``(H, n, n)`` on the model's float error in its attention logits.

    With ``delta_i`` the rotation error at position ``i`` (:func:`angle_error_bound`; each
    rotated vector moves by at most ``|x| delta``) and :math:`\gamma_d = d\,\epsilon` the
    worst-case rounding of a ``d``-term dot product in the model's dtype,
    :math:`|\Delta a_{ij}| \le s\,c^2 |q_i||k_j| (\delta_i + \delta_j + \gamma_d + 4\epsilon)`
    (``s`` the scaling, ``c`` the attention factor; the soft cap is 1-Lipschitz).
    """
    schedule = capture.schedules[layer]
    n, d = capture.n_tokens, capture.head_dim
    delta = angle_error_bound(schedule, np.arange(n))
    gamma = d * _eps(capture.dtype) + 4.0 * _eps(capture.dtype)
    qn = np.linalg.norm(capture.queries[layer].astype(np.float64), axis=-1)  # (H, n)
    kn = np.linalg.norm(capture.keys_for_query_heads(layer).astype(np.float64), axis=-1)  # (H, n)
    size = schedule.scaling * schedule.attention_factor**2 * qn[:, :, None] * kn[:, None, :]
    return size * (delta[None, :, None] + delta[None, None, :] + gamma)


def validate_capture(capture: Capture, layout: str = LAYOUT, schedules: Sequence[LayerSchedule] | None = None) -> CaptureValidation:
    r"""Check that ropelab's rotary map on the captured q, k reproduces the model's attention.

    Attention: softmax moves each weight by at most half the largest change of its row's
    logits (first order: :math:`\partial\alpha_j/\partial a_k = \alpha_j(\delta_{jk}-\alpha_k)`);
    the bound allowed per row is the full largest :func:`logit_error_bound` of that row plus
    a few ulp of the model's float32 softmax. Schedule: the model's cos/sin tables must match
    ``c cos(p g_m)``, ``c sin(p g_m)`` in the half layout within :func:`angle_error_bound`.
    ``layout`` and ``schedules`` default to the adapter's; tests pass wrong ones, which must fail.
    """
    schedules = capture.schedules if schedules is None else tuple(schedules)
    worst_att = (-1.0, None)
    worst_sched = (-1.0, None)
    n = capture.n_tokens
    positions = np.arange(n)
    eps_model = _eps(capture.dtype)
    for layer, schedule in enumerate(schedules):
        own = capture.schedules[layer]
        ours = reference_attention(capture, layer, layout, schedule)
        err = np.abs(ours - capture.attention[layer].astype(np.float64))
        mask = attention_mask(n, own.sliding_window)
        row_bound = np.where(mask[None], logit_error_bound(capture, layer), 0.0).max(axis=-1, keepdims=True)
        bound = row_bound + 8.0 * eps_model
        ratio = err / bound
        h, i, j = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
        if ratio[h, i, j] > worst_att[0]:
            worst_att = (float(ratio[h, i, j]), {
                "layer": layer, "head": int(h), "row": int(i), "key": int(j),
                "error": float(err[h, i, j]), "bound": float(bound[h, i, 0]),
            })
        first, second = rotary.pair_indices(capture.head_dim, layout)
        theta_table = np.multiply.outer(positions.astype(np.float64), schedule.freqs)
        expected_cos = np.empty((n, capture.head_dim))
        expected_sin = np.empty((n, capture.head_dim))
        for idx in (first, second):
            expected_cos[:, idx] = schedule.attention_factor * np.cos(theta_table)
            expected_sin[:, idx] = schedule.attention_factor * np.sin(theta_table)
        sched_err = np.maximum(np.abs(expected_cos - capture.rotary_cos[layer]), np.abs(expected_sin - capture.rotary_sin[layer]))
        sched_bound = np.broadcast_to(
            own.attention_factor * angle_error_bound(own, positions)[:, None] + 4.0 * _eps("float32"), sched_err.shape
        )
        sched_ratio = sched_err / sched_bound
        p, m = np.unravel_index(int(np.argmax(sched_ratio)), sched_ratio.shape)
        if sched_ratio[p, m] > worst_sched[0]:
            worst_sched = (float(sched_ratio[p, m]), {
                "layer": layer, "position": int(p), "coordinate": int(m),
                "error": float(sched_err[p, m]), "bound": float(sched_bound[p, m]),
            })
    reason = (
        "bound per row = max_j s c^2 |q_i||k_j| (delta_i + delta_j + d eps) + 8 eps, "
        "delta_p = eps32 (p g_max (3 + ln theta) + 8): the model forms RoPE angles in float32 "
        "and its dot products in its own dtype; ropelab's side is float64"
    )
    return CaptureValidation(worst_att[0], worst_sched[0], {"attention": worst_att[1], "schedule": worst_sched[1]}, reason)
