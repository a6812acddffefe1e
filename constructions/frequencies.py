r"""Frequency schedules: the per-pair rotation speeds of RoPE and its variants.

Every schedule returns a float64 NumPy array of length ``d // 2``, highest frequency first,
with pair ``m = 0 .. d/2-1`` rotating by ``position * freqs[m]`` radians. The standard
schedule is :math:`g_m = \theta^{-2m/d}` (SPEC §1). Unrotated pairs have frequency exactly 0.
NumPy float64 is used (not ``jnp``) so that the schedule is float64 whether or not 64-bit
JAX is enabled.
"""

from __future__ import annotations

import math

import numpy as np

from . import validation as _v


def rope(d: int, theta: float = 10_000.0) -> np.ndarray:
    r"""Standard RoPE frequencies :math:`g_m = \theta^{-2m/d}`, ``m = 0 .. d/2-1``.

    Shapes: returns ``(d/2,)`` float64. Reference: Su et al. (2021); Barbero et al. (2025) §2.

    >>> rope(4, 100.0)
    array([1. , 0.1])
    """
    d = _v.head_dim(d)
    theta = _v.base(theta)
    exponents = np.arange(d // 2, dtype=np.float64) * (-2.0 / d)
    return np.power(theta, exponents)


def p_rope_pairs(d: int, p: float) -> int:
    """Number of rotating pairs kept by p-RoPE: ``int(p * d // 2)`` (SPEC §1).

    The expression is evaluated in Python floats exactly as the Gemma reference and HF's
    ``proportional`` type do, so that ropelab keeps the same pairs as those models. Where
    ``p * d`` lands just below an even integer in binary floating point the count is one
    lower than the decimal arithmetic suggests (``p = 0.58, d = 100`` keeps 28 pairs, not 29).

    >>> p_rope_pairs(256, 0.75), p_rope_pairs(100, 0.58)
    (96, 28)
    """
    d = _v.head_dim(d)
    p = _v.fraction(p)
    return int(p * d // 2)


def p_rope(d: int, theta: float = 10_000.0, p: float = 0.75) -> np.ndarray:
    r"""p-RoPE: keep the ``n = int(p*d//2)`` highest standard frequencies, zero the rest.

    The kept frequencies use the full ``d`` in the exponent (:math:`g_m = \theta^{-2m/d}`,
    ``m < n``); pairs ``m >= n`` do not rotate. ``p = 1`` is RoPE, ``p = 0`` is NoPE.
    Reference: Barbero et al. (2025) §6.1; claim ``p_rope_keeps_highest_frequencies``.

    >>> p_rope(8, 100.0, 0.5)
    array([1.        , 0.31622777, 0.        , 0.        ])
    """
    n = p_rope_pairs(d, p)
    freqs = rope(d, theta)
    freqs[n:] = 0.0
    return freqs


def reversed_p_rope(d: int, theta: float = 10_000.0, p: float = 0.75) -> np.ndarray:
    """p-RoPE's mirror image: keep the ``n = int(p*d//2)`` *lowest* frequencies instead.

    The ``d/2 - n`` highest pairs are left unrotated. Table 2's "0.75-RoPE reversed".

    >>> reversed_p_rope(8, 100.0, 0.5)
    array([0.        , 0.        , 0.1       , 0.03162278])
    """
    n = p_rope_pairs(d, p)
    freqs = rope(d, theta)
    freqs[: d // 2 - n] = 0.0
    return freqs


def nope(d: int) -> np.ndarray:
    """NoPE: every pair has frequency 0, so the rotary map is the identity.

    >>> nope(4)
    array([0., 0.])
    """
    d = _v.head_dim(d)
    return np.zeros(d // 2, dtype=np.float64)


def linear(d: int, theta: float, factor: float) -> np.ndarray:
    """Linear position interpolation (Chen et al. 2023): every frequency divided by ``factor``.

    >>> linear(4, 100.0, 2.0)
    array([0.5 , 0.05])
    """
    factor = _v.positive(factor, "factor", minimum=1.0, inclusive=True)
    return rope(d, theta) / factor


def llama3(
    d: int,
    theta: float,
    factor: float = 8.0,
    low_freq_factor: float = 1.0,
    high_freq_factor: float = 4.0,
    original_context: int = 8192,
) -> np.ndarray:
    r"""Llama 3.1's frequency-dependent interpolation.

    With wavelength :math:`\lambda = 2\pi/g`: pairs with :math:`\lambda <` ``original_context
    / high_freq_factor`` are kept; pairs with :math:`\lambda >` ``original_context /
    low_freq_factor`` are divided by ``factor``; in between the two are blended with weight
    :math:`s = (\text{original\_context}/\lambda - \text{low}) / (\text{high} - \text{low})`,
    :math:`g' = (1-s)\,g/\text{factor} + s\,g`. Reference: Llama 3 herd paper (2024).

    >>> f = llama3(128, 500_000.0)
    >>> bool(f[0] == 1.0), bool(np.isclose(f[-1], rope(128, 500_000.0)[-1] / 8))
    (True, True)
    """
    factor = _v.positive(factor, "factor", minimum=1.0, inclusive=True)
    low = _v.positive(low_freq_factor, "low_freq_factor")
    high = _v.positive(high_freq_factor, "high_freq_factor")
    if high <= low:
        raise ValueError(
            f"high_freq_factor must be > low_freq_factor, got {high} <= {low}"
        )
    context = _v.positive(original_context, "original_context")
    g = rope(d, theta)
    wavelength = 2.0 * math.pi / g
    blend = np.clip((context / wavelength - low) / (high - low), 0.0, 1.0)
    # blend = 1 exactly where wavelength <= context/high (kept), 0 where >= context/low (divided)
    return (1.0 - blend) * g / factor + blend * g


def yarn(
    d: int,
    theta: float,
    factor: float,
    original_context: int,
    beta_fast: float = 32.0,
    beta_slow: float = 1.0,
    truncate: bool = True,
    attention_factor: float | None = None,
) -> tuple[np.ndarray, float]:
    r"""YaRN (Peng et al. 2023): ramp between extrapolated and interpolated frequencies.

    Pair ``m`` turns :math:`L g_m / 2\pi` times over the original context ``L``. Pairs that
    turn more than ``beta_fast`` times keep :math:`g_m`; pairs that turn fewer than
    ``beta_slow`` times use :math:`g_m/\text{factor}`; a linear ramp in ``m`` joins them. The
    ramp ends are the (fractional) pair indices :math:`m(\beta) = \frac{d \ln(L / 2\pi\beta)}
    {2 \ln\theta}`, floored/ceiled when ``truncate``. The attention factor (logit temperature)
    defaults to :math:`0.1 \ln(\text{factor}) + 1`.

    Returns ``(freqs, attention_factor)``.

    >>> f, a = yarn(128, 1e6, 4.0, 32768)
    >>> bool(f[0] == 1.0), round(a, 4)
    (True, 1.1386)
    """
    d = _v.head_dim(d)
    theta = _v.base(theta)
    factor = _v.positive(factor, "factor", minimum=1.0, inclusive=True)
    context = _v.positive(original_context, "original_context")
    beta_fast = _v.positive(beta_fast, "beta_fast")
    beta_slow = _v.positive(beta_slow, "beta_slow")
    g = rope(d, theta)

    def pair_turning(turns: float) -> float:
        return d * math.log(context / (turns * 2.0 * math.pi)) / (2.0 * math.log(theta))

    lo, hi = pair_turning(beta_fast), pair_turning(beta_slow)
    if truncate:
        lo, hi = math.floor(lo), math.ceil(hi)
    lo, hi = max(lo, 0), min(hi, d - 1)
    if hi == lo:  # a zero-width ramp would divide by zero; widen it by a hair as YaRN does
        hi += 0.001
    ramp = np.clip((np.arange(d // 2, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0)
    freqs = g / factor * ramp + g * (1.0 - ramp)
    if attention_factor is None:
        attention_factor = 0.1 * math.log(factor) + 1.0 if factor > 1.0 else 1.0
    return freqs, float(attention_factor)


ROPE_TYPES = ("default", "linear", "llama3", "yarn", "proportional")


def from_hf_parameters(head_dim: int, parameters: dict) -> tuple[np.ndarray, float]:
    """The schedule an HF transformers RoPE configuration describes, and its attention factor.

    ``parameters`` holds ``rope_type`` (one of ``ROPE_TYPES``; ``"default"`` when absent),
    ``rope_theta`` and the type's own keys (``factor``, ``low_freq_factor``,
    ``high_freq_factor``, ``original_max_position_embeddings``, ``partial_rotary_factor``,
    ``beta_fast``, ``beta_slow``, ``attention_factor``, ``truncate``). A ``default`` schedule
    with ``partial_rotary_factor`` f is the GPT-NeoX prefix scheme: its length is
    ``int(head_dim * f) / 2`` and it covers only that prefix. ``proportional`` is p-RoPE.

    >>> f, a = from_hf_parameters(8, {"rope_theta": 100.0, "partial_rotary_factor": 0.5})
    >>> f.tolist(), a
    ([1.0, 0.1], 1.0)
    """
    d = _v.head_dim(head_dim, "head_dim")
    rope_type = parameters.get("rope_type", parameters.get("type", "default"))
    if rope_type not in ROPE_TYPES:
        raise ValueError(f"rope_type must be one of {ROPE_TYPES}, got {rope_type!r}")
    if "rope_theta" not in parameters:
        raise ValueError("rope_theta (the base wavelength) is missing from the RoPE parameters")
    theta = _v.base(parameters["rope_theta"], "rope_theta")
    fraction = _v.fraction(parameters.get("partial_rotary_factor", 1.0), "partial_rotary_factor")

    def need(key: str) -> float:
        if key not in parameters:
            raise ValueError(f"rope_type {rope_type!r} needs {key!r} in the RoPE parameters")
        return parameters[key]

    if rope_type == "proportional":
        return p_rope(d, theta, fraction), 1.0
    d_rot = int(d * fraction)
    if rope_type == "default":
        return rope(d_rot, theta), 1.0
    if rope_type == "linear":
        return linear(d_rot, theta, need("factor")), 1.0
    if rope_type == "llama3":
        return (
            llama3(
                d_rot, theta, need("factor"), need("low_freq_factor"), need("high_freq_factor"),
                need("original_max_position_embeddings"),
            ),
            1.0,
        )
    return yarn(
        d_rot, theta, need("factor"), need("original_max_position_embeddings"),
        beta_fast=parameters.get("beta_fast") or 32.0,
        beta_slow=parameters.get("beta_slow") or 1.0,
        truncate=parameters.get("truncate", True),
        attention_factor=parameters.get("attention_factor"),
    )
