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

__all__ = [
    "ROPE_TYPES",
    "dynamic_ntk",
    "from_hf_parameters",
    "linear",
    "llama3",
    "llama3_bands",
    "longrope",
    "nope",
    "p_rope",
    "p_rope_pairs",
    "reversed_p_rope",
    "rope",
    "yarn",
    "yarn_attention_factor",
    "yarn_mscale",
]


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

    With wavelength :math:`\lambda = 2\pi/g` and original context ``L``: pairs with
    :math:`\lambda <` ``L / high_freq_factor`` are kept; pairs with :math:`\lambda >`
    ``L / low_freq_factor`` are divided by ``factor``; in between the two are blended with
    weight :math:`s = (L/\lambda - \text{low}) / (\text{high} - \text{low})`,
    :math:`g' = (1-s)\,g/\text{factor} + s\,g`. With ``low_freq_factor == high_freq_factor``
    (Llama 4) there is no blend: pairs are kept up to :math:`\lambda = L/\text{low}` and divided
    beyond it. Reference: Llama 3 herd paper (2024); HF ``_compute_llama3_parameters``.

    >>> f = llama3(128, 500_000.0)
    >>> bool(f[0] == 1.0), bool(np.isclose(f[-1], rope(128, 500_000.0)[-1] / 8))
    (True, True)
    >>> int((llama3(128, 5e5, 16.0, 1.0, 1.0, 8192) < rope(128, 5e5)).sum())
    29
    """
    factor = _v.positive(factor, "factor", minimum=1.0, inclusive=True)
    low = _v.positive(low_freq_factor, "low_freq_factor")
    high = _v.positive(high_freq_factor, "high_freq_factor")
    if high < low:
        raise ValueError(f"high_freq_factor must be >= low_freq_factor, got {high} < {low}")
    context = _v.positive(original_context, "original_context")
    g = rope(d, theta)
    wavelength = 2.0 * math.pi / g
    if high == low:
        return np.where(wavelength > context / low, g / factor, g)
    blend = np.clip((context / wavelength - low) / (high - low), 0.0, 1.0)
    # blend = 1 exactly where wavelength <= context/high (kept), 0 where >= context/low (divided)
    return (1.0 - blend) * g / factor + blend * g


def llama3_bands(
    d: int, theta: float, low_freq_factor: float, high_freq_factor: float, original_context: int
) -> tuple[range, range, range]:
    """The pairs llama3 scaling keeps, blends and divides: ``(kept, blended, divided)``.

    Kept: wavelength below ``L/high``; divided: above ``L/low``; blended: in between.

    >>> [(r.start, r.stop - 1) for r in llama3_bands(64, 5e5, 1.0, 4.0, 8192)]
    [(0, 14), (15, 17), (18, 31)]
    """
    wavelength = 2.0 * math.pi / rope(d, theta)
    kept = int(np.sum(wavelength < original_context / high_freq_factor))
    divided_from = int(np.sum(wavelength <= original_context / low_freq_factor))
    return range(0, kept), range(kept, divided_from), range(divided_from, d // 2)


def yarn_mscale(factor: float, mscale: float = 1.0) -> float:
    r"""YaRN's logit temperature :math:`0.1\,\mu \ln s + 1` for ``s > 1`` (1 otherwise).

    >>> round(yarn_mscale(40.0), 4), yarn_mscale(1.0)
    (1.3689, 1.0)
    """
    return 0.1 * mscale * math.log(factor) + 1.0 if factor > 1.0 else 1.0


def yarn_attention_factor(
    factor: float, mscale: float | None = None, mscale_all_dim: float | None = None
) -> float:
    r"""The factor YaRN multiplies cos and sin by (so logits by its square).

    Plain YaRN: :math:`0.1 \ln s + 1`. DeepSeek's form with both ``mscale`` :math:`\mu` and
    ``mscale_all_dim`` :math:`\nu` (both nonzero): :math:`(0.1\mu\ln s + 1)/(0.1\nu\ln s + 1)`,
    which is exactly 1 when :math:`\mu = \nu` (DeepSeek-V3: its softmax scale carries
    :math:`(0.1\nu\ln s+1)^2` instead, outside the rotary map). Reference: HF
    ``_compute_yarn_parameters``.

    >>> round(yarn_attention_factor(40.0), 4), yarn_attention_factor(40.0, 1.0, 1.0)
    (1.3689, 1.0)
    """
    if mscale and mscale_all_dim:
        return yarn_mscale(factor, mscale) / yarn_mscale(factor, mscale_all_dim)
    return yarn_mscale(factor)


def yarn(
    d: int,
    theta: float,
    factor: float,
    original_context: int,
    beta_fast: float = 32.0,
    beta_slow: float = 1.0,
    truncate: bool = True,
    attention_factor: float | None = None,
    mscale: float | None = None,
    mscale_all_dim: float | None = None,
) -> tuple[np.ndarray, float]:
    r"""YaRN (Peng et al. 2023): ramp between extrapolated and interpolated frequencies.

    Pair ``m`` turns :math:`L g_m / 2\pi` times over the original context ``L``. Pairs that
    turn more than ``beta_fast`` times keep :math:`g_m`; pairs that turn fewer than
    ``beta_slow`` times use :math:`g_m/\text{factor}`; a linear ramp in ``m`` joins them. The
    ramp ends are the (fractional) pair indices :math:`m(\beta) = \frac{d \ln(L / 2\pi\beta)}
    {2 \ln\theta}`, floored/ceiled when ``truncate``. The attention factor is
    ``attention_factor`` when given, else :func:`yarn_attention_factor`.

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
        attention_factor = yarn_attention_factor(factor, mscale, mscale_all_dim)
    return freqs, float(attention_factor)


def dynamic_ntk(d: int, theta: float, factor: float, original_context: int, sequence_length: int) -> np.ndarray:
    r"""Dynamic NTK scaling: the base grows with the sequence length ``n`` beyond the original ``L``.

    :math:`\theta' = \theta\,(s\,n'/L - (s - 1))^{d/(d-2)}` with :math:`n' = \max(n, L)`, so
    the schedule is standard RoPE up to ``L`` tokens and changes with every longer sequence
    (HF recomputes it from ``max(position_ids) + 1``). Reference: bloc97/emozilla (2023); HF
    ``_compute_dynamic_ntk_parameters``.

    >>> bool(np.array_equal(dynamic_ntk(8, 1e4, 4.0, 2048, 2048), rope(8, 1e4)))
    True
    >>> round(float(dynamic_ntk(8, 1e4, 4.0, 2048, 4096)[1] / rope(8, 1e4)[1]), 4)
    0.5848
    """
    d = _v.head_dim(d)
    if d < 4:
        raise ValueError(f"dynamic NTK needs a rotary dimension >= 4 (it divides by d - 2), got {d}")
    theta = _v.base(theta)
    factor = _v.positive(factor, "factor", minimum=1.0, inclusive=True)
    context = _v.positive(original_context, "max_position_embeddings")
    n = max(_v.positive(sequence_length, "sequence_length"), context)
    grown = theta * (factor * n / context - (factor - 1.0)) ** (d / (d - 2))
    return rope(d, grown)


def longrope(
    d: int,
    theta: float,
    short_factor: list[float],
    long_factor: list[float],
    original_context: int,
    sequence_length: int | None = None,
    factor: float | None = None,
    max_position_embeddings: int | None = None,
    attention_factor: float | None = None,
) -> tuple[np.ndarray, float]:
    r"""LongRoPE (Ding et al. 2024; Phi-3): per-pair rescaling, short or long by sequence length.

    :math:`g_m = \theta^{-2m/d} / \lambda_m` with :math:`\lambda` = ``short_factor`` while the
    sequence holds at most ``original_context`` tokens and ``long_factor`` beyond (HF switches
    at ``max(position_ids) + 1 > original``). The attention factor defaults to
    :math:`\sqrt{1 + \ln s / \ln L}` with ``s = factor`` or ``max_position_embeddings / L``.

    >>> f, a = longrope(4, 100.0, [1.0, 1.0], [2.0, 4.0], 64, 65, max_position_embeddings=256)
    >>> f.tolist(), round(a, 4)
    ([0.5, 0.025], 1.1547)
    """
    d = _v.head_dim(d)
    theta = _v.base(theta)
    context = int(_v.positive(original_context, "original_max_position_embeddings"))
    chosen = long_factor if sequence_length is not None and sequence_length > context else short_factor
    which = "long_factor" if chosen is long_factor else "short_factor"
    scale = np.asarray(chosen, dtype=np.float64)
    if scale.shape != (d // 2,) or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise ValueError(f"{which} must be {d // 2} finite positive numbers (one per pair), got {chosen!r}")
    if factor is None:
        if max_position_embeddings is None:
            raise ValueError("longrope needs 'factor' or max_position_embeddings to set its attention factor")
        factor = max_position_embeddings / context
    if attention_factor is None:
        attention_factor = 1.0 if factor <= 1.0 else math.sqrt(1.0 + math.log(factor) / math.log(context))
    return rope(d, theta) / scale, float(attention_factor)


ROPE_TYPES = ("default", "linear", "dynamic", "yarn", "longrope", "llama3", "proportional")

# Keys each rope type reads (besides rope_type / type, rope_theta, partial_rotary_factor).
TYPE_KEYS: dict[str, frozenset[str]] = {
    "default": frozenset(),
    "linear": frozenset({"factor"}),
    "dynamic": frozenset({"factor"}),
    "yarn": frozenset({"factor", "original_max_position_embeddings", "beta_fast", "beta_slow", "truncate",
                       "attention_factor", "mscale", "mscale_all_dim"}),
    "longrope": frozenset({"factor", "original_max_position_embeddings", "short_factor", "long_factor",
                           "attention_factor"}),
    "llama3": frozenset({"factor", "original_max_position_embeddings", "low_freq_factor", "high_freq_factor"}),
    "proportional": frozenset({"factor"}),
}
COMMON_KEYS = frozenset({"rope_type", "type", "rope_theta", "partial_rotary_factor"})
KNOWN_KEYS = COMMON_KEYS.union(*TYPE_KEYS.values())
# Fields that only shape how the schedule is used elsewhere (not the schedule itself).
SCHEDULE_NEUTRAL_KEYS = frozenset({"max_position_embeddings"})


def from_hf_parameters(
    head_dim: int,
    parameters: dict,
    sequence_length: int | None = None,
    max_position_embeddings: int | None = None,
) -> tuple[np.ndarray, float]:
    """The schedule an HF transformers RoPE configuration describes, and its attention factor.

    ``parameters`` holds ``rope_type`` (one of ``ROPE_TYPES``; ``"default"`` when absent),
    ``rope_theta`` and the type's own keys (:data:`TYPE_KEYS`). A schedule with
    ``partial_rotary_factor`` f (other than ``proportional``) is the GPT-NeoX prefix scheme:
    its length is ``int(head_dim * f) / 2`` and it covers only that prefix. ``proportional``
    is p-RoPE over the whole head (then divided by ``factor``). ``dynamic`` and ``longrope``
    depend on ``sequence_length`` (the number of tokens read, ``max(position) + 1``) and on
    ``max_position_embeddings``; without a sequence length they give the schedule HF builds
    at start-up (unscaled NTK, short longrope factors). A key no type reads raises
    "not supported yet"; keys another type reads are ignored, as HF does.

    >>> f, a = from_hf_parameters(8, {"rope_theta": 100.0, "partial_rotary_factor": 0.5})
    >>> f.tolist(), a
    ([1.0, 0.1], 1.0)
    """
    d = _v.head_dim(head_dim, "head_dim")
    rope_type = parameters.get("rope_type", parameters.get("type", "default"))
    if rope_type not in ROPE_TYPES:
        raise ValueError(f"rope_type {rope_type!r} is not supported yet: rope_type must be one of {ROPE_TYPES}")
    unknown = sorted(set(parameters) - KNOWN_KEYS - SCHEDULE_NEUTRAL_KEYS)
    if unknown:
        raise ValueError(f"RoPE parameter(s) {', '.join(map(repr, unknown))} not supported yet "
                         f"(rope_type {rope_type!r} reads {sorted(COMMON_KEYS | TYPE_KEYS[rope_type])})")
    if "rope_theta" not in parameters:
        raise ValueError("rope_theta (the base wavelength) is missing from the RoPE parameters")
    theta = _v.base(parameters["rope_theta"], "rope_theta")
    fraction = parameters.get("partial_rotary_factor")
    fraction = 1.0 if fraction is None else _v.fraction(fraction, "partial_rotary_factor")
    max_positions = parameters.get("max_position_embeddings", max_position_embeddings)

    def need(key: str) -> float:
        if parameters.get(key) is None:
            raise ValueError(f"rope_type {rope_type!r} needs {key!r} in the RoPE parameters")
        return parameters[key]

    if rope_type == "proportional":
        factor = _v.positive(parameters.get("factor", 1.0), "factor", minimum=1.0, inclusive=True)
        return p_rope(d, theta, fraction) / factor, 1.0
    d_rot = int(d * fraction)
    if d_rot < 2:
        raise ValueError(f"partial_rotary_factor={fraction} leaves int(head_dim * f) = {d_rot} rotating "
                         "coordinates; it must be at least 2")
    if d_rot % 2:  # HF would build ceil(dim/2) frequencies for an odd prefix and fail to apply them
        raise ValueError(f"partial_rotary_factor={fraction} gives an odd rotary dimension int(head_dim * f) = "
                         f"{d_rot}; it must be even")
    if rope_type == "default":
        return rope(d_rot, theta), 1.0
    if rope_type == "linear":
        return linear(d_rot, theta, need("factor")), 1.0
    if rope_type == "dynamic":
        if max_positions is None:
            raise ValueError("rope_type 'dynamic' needs max_position_embeddings (the context it scales from)")
        length = max_positions if sequence_length is None else sequence_length
        return dynamic_ntk(d_rot, theta, need("factor"), max_positions, length), 1.0
    if rope_type == "llama3":
        return (
            llama3(
                d_rot, theta, need("factor"), need("low_freq_factor"), need("high_freq_factor"),
                need("original_max_position_embeddings"),
            ),
            1.0,
        )
    if rope_type == "longrope":
        return longrope(
            d_rot, theta, need("short_factor"), need("long_factor"), need("original_max_position_embeddings"),
            sequence_length, parameters.get("factor"), max_positions, parameters.get("attention_factor"),
        )
    factor = parameters.get("factor")
    if factor is None:
        if max_positions is None:
            raise ValueError("rope_type 'yarn' needs 'factor' in the RoPE parameters")
        factor = max_positions / need("original_max_position_embeddings")
    return yarn(
        d_rot, theta, factor, need("original_max_position_embeddings"),
        beta_fast=parameters.get("beta_fast") or 32.0,
        beta_slow=parameters.get("beta_slow") or 1.0,
        truncate=parameters.get("truncate", True),
        attention_factor=parameters.get("attention_factor"),
        mscale=parameters.get("mscale"),
        mscale_all_dim=parameters.get("mscale_all_dim"),
    )
