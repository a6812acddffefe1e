r"""Precision of RoPE angles in low-precision formats: phase error bounds and the positions where they bite.

An implementation forms the angle of pair m at position p as
:math:`\tilde\phi = \mathrm{fl}_{out}(\mathrm{fl}_{in}(p)\,\mathrm{fl}_{in}(g_m))`. In the standard
model of floating point (Higham 2002, Thm 2.2) each rounding multiplies by :math:`1 + \delta`,
:math:`|\delta| \le u`, so

.. math:: |\tilde\phi - p g_m| \le p g_m \left((1+u_{in})^{k_{in}} (1+u_{out}) - 1\right),

with :math:`k_{in} = 1` (the frequency) plus 1 more once :math:`p` exceeds the largest integer the
input format holds exactly. Formats (:data:`FORMATS`): float32, bfloat16 and float16 round inputs
and product alike; TF32 rounds the inputs of the angle matmul to 10 mantissa bits and
accumulates in float32. From that bound follow three thresholds (first positions where, in the
worst case, RoPE's guarantees can fail): (a) the relative-position property by more than a
given logit error, (b) a Thm 5.3 diagonal head at ropelab's scale keeping its target with weight
at least 1/2, (c) a semantic channel's preferred key against a rival at a given angle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ml_dtypes
import mpmath
import numpy as np
from scipy import special

__all__ = [
    "FORMATS",
    "Format",
    "describe_position",
    "exact_phase_error",
    "format_phase",
    "format_phases",
    "get_format",
    "head_threshold",
    "head_weight_lower_bound",
    "phase_error_bound",
    "relative_phase_bound",
    "relative_position_threshold",
    "semantic_threshold",
    "thresholds",
]


@dataclass(frozen=True)
class Format:
    """A floating-point format for the angle arithmetic: input and product unit roundoffs."""

    name: str
    input_bits: int  # significand bits of the inputs (implicit bit included)
    output_bits: int  # significand bits of the product
    max_finite: float

    @property
    def u_in(self) -> float:
        return 2.0 ** -self.input_bits

    @property
    def u_out(self) -> float:
        return 2.0 ** -self.output_bits

    @property
    def exact_integers(self) -> int:
        """Largest ``N`` such that every integer ``0..N`` is exact in the input format."""
        return 2**self.input_bits


FORMATS = {
    "float32": Format("float32", 24, 24, float(np.finfo(np.float32).max)),
    "bf16": Format("bf16", 8, 8, float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)),
    "fp16": Format("fp16", 11, 11, float(np.finfo(np.float16).max)),
    "tf32": Format("tf32", 11, 24, float(np.finfo(np.float32).max)),
}
ALIASES = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "fp32": "float32"}


def get_format(name: str) -> Format:
    """A format by name (``float32``, ``bf16``/``bfloat16``, ``fp16``/``float16``, ``tf32``).

    >>> get_format("bfloat16").u_in
    0.00390625
    """
    key = ALIASES.get(name, name)
    if key not in FORMATS:
        raise ValueError(f"dtype must be one of {sorted(FORMATS) + sorted(ALIASES)}, got {name!r}")
    return FORMATS[key]


def relative_phase_bound(u_in, u_out, roundings_in):
    r"""The relative bound :math:`(1+u_{in})^{k}(1+u_{out}) - 1` of ``k`` input roundings and one product.

    Plain arithmetic, so SymPy symbols pass through (claim ``rope_phase_error_within_format_bound``).

    >>> relative_phase_bound(2.0**-8, 2.0**-8, 1) == (1 + 2.0**-8) ** 2 - 1
    True
    """
    return (1 + u_in) ** roundings_in * (1 + u_out) - 1


def phase_error_bound(position: float, freq: float, fmt: Format) -> float:
    r"""Worst phase error :math:`|\tilde\phi - p g|` of one pair at one position (``inf`` on overflow).

    >>> f = get_format("bf16")
    >>> round(phase_error_bound(4095, 1.0, f), 2), phase_error_bound(10**6, 1.0, get_format("fp16"))
    (48.18, inf)
    """
    if position > fmt.max_finite or position * freq > fmt.max_finite:
        return math.inf
    roundings = 1 + (position > fmt.exact_integers)
    return position * freq * relative_phase_bound(fmt.u_in, fmt.u_out, roundings)


def _round_to(values: np.ndarray, bits: int) -> np.ndarray:
    mantissa, exponent = np.frexp(np.asarray(values, dtype=np.float64))
    return np.ldexp(np.round(mantissa * 2.0**bits) / 2.0**bits, exponent)  # numpy rounds half to even


def format_phase(position: int, freq: float, fmt: Format) -> float:
    r"""The angle the format computes, :math:`\mathrm{fl}_{out}(\mathrm{fl}_{in}(p)\mathrm{fl}_{in}(g))`.

    Inputs of at most 24 significand bits multiply exactly in float64, so the only roundings are
    the format's own (round to nearest, ties to even; overflow gives ``inf``).

    >>> format_phase(15962, 1.0, get_format("bf16"))
    15936.0
    """
    if position > fmt.max_finite:
        return math.inf
    p, g = _round_to(np.array([float(position), freq]), fmt.input_bits)
    out = float(_round_to(np.array([p * g]), fmt.output_bits)[0])
    return out if abs(out) <= fmt.max_finite else math.inf


def format_phases(positions: np.ndarray, freq: float, fmt: Format) -> np.ndarray:
    """:func:`format_phase` for an array of positions (``inf`` where the format overflows).

    >>> format_phases(np.array([1, 15962]), 1.0, get_format("bf16")).tolist()
    [1.0, 15936.0]
    """
    pos = np.asarray(positions, dtype=np.float64)
    g = float(_round_to(np.array([freq]), fmt.input_bits)[0])
    out = _round_to(_round_to(pos, fmt.input_bits) * g, fmt.output_bits)
    return np.where((pos > fmt.max_finite) | (np.abs(out) > fmt.max_finite), np.inf, out)


def exact_phase_error(position: int, freq: float, fmt: Format) -> float:
    """``|format_phase - p g|`` with ``p g`` exact (mpmath, 160 bits; ``g`` the float64 frequency).

    >>> exact_phase_error(15962, 1.0, get_format("bf16"))
    26.0
    """
    phase = format_phase(position, freq, fmt)
    if not math.isfinite(phase):
        return math.inf
    with mpmath.workprec(160):
        return float(abs(mpmath.mpf(phase) - mpmath.mpf(int(position)) * mpmath.mpf(freq)))


def _first_position(fails, limit: int) -> int | None:
    """Smallest integer p in [0, limit] with ``fails(p)``, for a monotone predicate; None if none."""
    if not fails(limit):
        return None
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi) // 2
        if fails(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


LIMIT = 10**9


def logit_error_bound(position: int, freqs: np.ndarray, pair_products: np.ndarray, fmt: Format,
                      bound=phase_error_bound) -> float:
    r"""Worst change of one logit with query and key near ``position``:
    :math:`\sum_m |q_m||k_m| \min(2\beta_m(p), 2)` (each phase off by at most :math:`\beta_m`)."""
    beta = np.array([bound(position, float(g), fmt) if g > 0 else 0.0 for g in freqs])
    return float(np.sum(pair_products * np.minimum(2 * beta, 2.0)))


def relative_position_threshold(freqs: np.ndarray, fmt: Format, logit_error: float,
                                pair_products: np.ndarray | None = None, bound=phase_error_bound) -> int | None:
    r"""(a) First position where the relative-position property can fail by more than ``logit_error``.

    ``pair_products`` are :math:`|q_m||k_m|` (default 2 per pair: unit-variance coordinates).

    >>> from ropelab.constructions import frequencies
    >>> relative_position_threshold(frequencies.rope(128, 1e4), get_format("bf16"), 0.1)
    1
    >>> relative_position_threshold(frequencies.rope(128, 1e4), get_format("float32"), 0.1)
    28113
    """
    g = np.asarray(freqs, dtype=np.float64)
    products = np.full(g.size, 2.0) if pair_products is None else np.asarray(pair_products, dtype=np.float64)
    return _first_position(lambda p: logit_error_bound(p, g, products, fmt, bound) > logit_error, LIMIT)


def head_weight_lower_bound(curve: np.ndarray, scale_sq: float, logit_error: float) -> float:
    r"""Guaranteed :math:`\alpha_{ii}` of a diagonal head with logits :math:`s^2 c(r)` when every
    off-diagonal logit may rise by ``logit_error`` (the diagonal one is exact: query and key share
    a position, so their angles round alike): :math:`1/(1 + \sum_{r \ge 1} e^{-(s^2(c_0 - c_r) - \Delta)})`."""
    c = np.asarray(curve, dtype=np.float64)
    gaps = scale_sq * (c[0] - c[1:]) - logit_error
    # 1 / (1 + sum exp(-gap)) in log space: large negative gaps would overflow exp
    return float(np.exp(-np.logaddexp(0.0, special.logsumexp(-gaps)))) if gaps.size else 1.0


def head_threshold(freqs: np.ndarray, band: np.ndarray, context: int, scale_sq: float, fmt: Format,
                   bound=phase_error_bound) -> int | None:
    r"""(b) First position where the Thm 5.3 diagonal head (equal weights on ``band``, scale
    ``scale_sq``) can lose its target: the guaranteed :math:`\alpha_{ii}` drops below 1/2.

    >>> from ropelab.constructions import frequencies
    >>> from ropelab.constructions import semantic_channels as channels
    >>> g = frequencies.rope(256, 1e4)
    >>> band = channels.top_band(g, 16)
    >>> head_threshold(g, band, 8192, 23.6, get_format("bf16"))
    21
    """
    from . import semantic_channels as channels

    g = np.asarray(freqs, dtype=np.float64)
    curve = channels.diagonal_head_curve(g, band, context)
    weights = np.zeros(g.size)
    weights[band] = 1.0 / band.size  # |psi_m|^2 on the band (a unit psi): s^2 scales it below

    def fails(p: int) -> bool:
        error = scale_sq * logit_error_bound(p, g, weights, fmt, bound)
        return head_weight_lower_bound(curve, scale_sq, error) < 0.5

    return _first_position(fails, LIMIT)


def semantic_threshold(freq: float, rival_angle: float, fmt: Format, bound=phase_error_bound) -> int | None:
    r"""(c) First position where a channel of frequency ``freq`` can prefer a rival key at
    ``rival_angle`` from the aligned target (equal norms): the query-key phases, each off by up to
    :math:`2\beta(p)`, can close the angle: :math:`4\beta(p) \ge` ``rival_angle``.

    >>> semantic_threshold(1.07e-4, 0.1, get_format("bf16"))
    19861
    """
    return _first_position(lambda p: 4 * bound(p, freq, fmt) >= rival_angle, LIMIT)


def describe_position(position: int | None, fmt: Format) -> str:
    """A threshold as text: ``"> 10^9"`` for none, and the overflow where that is what set it.

    >>> describe_position(None, get_format("float32")), describe_position(65505, get_format("fp16"))
    ('> 10^9', '65,505 (fp16 overflows beyond 65,504)')
    """
    if position is None:
        return "> 10^9"
    if position > fmt.max_finite:
        return f"{position:,} ({fmt.name} overflows beyond {int(fmt.max_finite):,})"
    return f"{position:,}"


@dataclass(frozen=True)
class Thresholds:
    """The three first positions for one schedule and format (``None``: not below 10^9)."""

    format: str
    relative_position: int | None
    head: int | None
    semantic: int | None
    semantic_freq: float


def thresholds(freqs: np.ndarray, fmt: Format, context: int, logit_error: float = 0.1, rival_angle: float = 0.1,
               head_eps: float = 0.01, band_size: int = 16) -> Thresholds:
    """(a), (b) and (c) for a schedule: the head on its ``band_size`` fastest pairs at the cheapest
    scale with ``min alpha_ii >= 1 - head_eps`` over ``context`` tokens; the channel is the slowest
    rotating pair.

    >>> from ropelab.constructions import frequencies
    >>> t = thresholds(frequencies.rope(256, 1e4), get_format("float32"), 8192)
    >>> t.relative_position, t.head, t.semantic
    (14562, 1326514, None)
    """
    from . import semantic_channels as channels

    g = np.asarray(freqs, dtype=np.float64)
    band = channels.top_band(g, band_size)
    head = None
    if band.size:
        scale_sq = channels.cheapest_scale_sq(channels.diagonal_head_curve(g, band, context), head_eps)
        head = head_threshold(g, band, context, scale_sq, fmt) if math.isfinite(scale_sq) else None
    rotating = g[g > 0]
    slowest = float(rotating.min()) if rotating.size else 0.0
    return Thresholds(fmt.name, relative_position_threshold(g, fmt, logit_error), head,
                      semantic_threshold(slowest, rival_angle, fmt) if slowest > 0 else None, slowest)
