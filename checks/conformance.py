r"""Conformance of a RoPE implementation: vectors over rope types, layouts, dtypes and long positions.

An implementation under test is a function ``f(x, positions, config) -> rotated x`` where

- ``x`` is a NumPy array of shape ``(n, d)`` in the dtype under test (``float64``, ``float32``,
  ``float16`` or ``ml_dtypes.bfloat16``), one query/key row per position;
- ``positions`` is an ``int64`` array of shape ``(n,)``, sorted; the sequence length is
  ``positions.max() + 1`` (what HF transformers uses for ``dynamic`` and ``longrope``);
- ``config`` is a plain ``dict``: ``head_dim``, ``layout`` (``"half"``: pair m is
  ``(x[m], x[m + d_rot/2])``; ``"interleaved"``: ``(x[2m], x[2m+1])``, as in GGUF/Meta
  checkpoints), ``max_position_embeddings``, the HF RoPE parameters (``rope_type``,
  ``rope_theta``, ``partial_rotary_factor`` and the type's keys), and, for implementations that
  take a schedule rather than a config, ``inv_freq`` (ropelab's float64 schedule of the rotating
  prefix, a list) and ``attention_scaling`` (the factor cos and sin are multiplied by; HF's
  name for it; ``attention_factor``, where present, is the YaRN/longrope input of that name).

The result may have any float dtype and must have shape ``(n, d)``. Each case is judged on its
own (:func:`run`): against the exact reference (float64 angles from exact integer positions,
float64 cos/sin, in NumPy whatever JAX's x64 setting; SPEC §1), where a NaN/inf row is a failure
(``non_finite``), and against the outputs of known bugs (:data:`BUGS`): a case "matches" a bug
when, on every row where that bug is distinguishable from the reference, the output agrees with
the bug and not with the reference. Cases an implementation does not support are skipped by
:func:`select`, never failed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import ml_dtypes
import numpy as np

from ropelab.constructions import frequencies

__all__ = [
    "BASES",
    "BUGS_BY_NAME",
    "ROPE_CASES",
    "cases",
    "eps",
    "inputs",
    "ml_dtypes",
    "rotate",
    "round_tf32",
    "round_to",
    "run",
    "select",
]

DTYPES: dict[str, Any] = {"float64": np.float64, "float32": np.float32, "bfloat16": ml_dtypes.bfloat16,
                          "float16": np.float16}
LAYOUTS = ("half", "interleaved")
# Positions from 0 to 10^6: small ones, powers of two and their neighbours, bf16's 15962 -> 15936.
PROBE_POSITIONS = (0, 1, 2, 3, 7, 100, 255, 257, 1000, 4095, 4096, 8191, 15962, 32767, 65535, 100_000,
                   262_143, 500_000, 1_000_000)
OPERATIONS = 8.0  # correctly rounded operations per output coordinate (angle, cos/sin, two products, a sum)
EPS32 = float(np.finfo(np.float32).eps)
EPS64 = float(np.finfo(np.float64).eps)


def eps(dtype: str) -> float:
    """Machine epsilon of a dtype name in :data:`DTYPES`.

    >>> eps("bfloat16"), eps("float16")
    (0.0078125, 0.0009765625)
    """
    return float(ml_dtypes.finfo(DTYPES[dtype]).eps)


@dataclass(frozen=True)
class Case:
    """One conformance vector set: a RoPE configuration at some positions, in one layout and dtype."""

    name: str
    head_dim: int
    rope: dict
    max_position_embeddings: int
    positions: tuple[int, ...] = PROBE_POSITIONS
    layout: str = "half"
    dtype: str = "float32"

    @property
    def sequence_length(self) -> int:
        return max(self.positions) + 1

    def schedule(self) -> tuple[np.ndarray, float]:
        """ropelab's float64 schedule of the rotating prefix and its attention factor."""
        return frequencies.from_hf_parameters(self.head_dim, self.rope, self.sequence_length,
                                              self.max_position_embeddings)

    def config(self) -> dict:
        """The ``config`` dict passed to the implementation under test."""
        freqs, attention = self.schedule()
        return {"head_dim": self.head_dim, "layout": self.layout,
                "max_position_embeddings": self.max_position_embeddings, **self.rope,
                "inv_freq": freqs.tolist(), "attention_scaling": attention}


def _longrope_factors(pairs: int) -> dict:
    # Phi-3-like shapes: short factors grow to ~2.8, long ones to ~64 over the pairs
    return {"short_factor": np.linspace(1.0, 2.84, pairs).tolist(),
            "long_factor": np.geomspace(1.08, 64.8, pairs).tolist()}


ROPE_CASES: tuple[Case, ...] = (
    Case("default (Llama 2)", 128, {"rope_type": "default", "rope_theta": 10_000.0}, 4096),
    Case("default theta 5e5 (Llama 3 8B)", 128, {"rope_type": "default", "rope_theta": 500_000.0}, 8192),
    Case("default theta 1e6 (Qwen2 7B)", 128, {"rope_type": "default", "rope_theta": 1e6}, 32768),
    Case("default d 256 (Gemma 7B)", 256, {"rope_type": "default", "rope_theta": 10_000.0}, 8192),
    Case("linear x8 (Gemma 3 global)", 128, {"rope_type": "linear", "rope_theta": 1e6, "factor": 8.0}, 131072),
    Case("dynamic NTK x4, within the context", 128, {"rope_type": "dynamic", "rope_theta": 1e4, "factor": 4.0}, 4096,
         tuple(p for p in PROBE_POSITIONS if p < 4096)),
    Case("dynamic NTK x4, beyond the context", 128, {"rope_type": "dynamic", "rope_theta": 1e4, "factor": 4.0}, 4096),
    Case("yarn x4 (Qwen2.5)", 128, {"rope_type": "yarn", "rope_theta": 1e6, "factor": 4.0,
                                    "original_max_position_embeddings": 32768}, 131072),
    Case("yarn x40, mscale == mscale_all_dim (DeepSeek-V3)", 64,
         {"rope_type": "yarn", "rope_theta": 1e4, "factor": 40.0, "mscale": 1.0, "mscale_all_dim": 1.0,
          "beta_fast": 32.0, "beta_slow": 1.0, "original_max_position_embeddings": 4096}, 163840),
    Case("longrope at exactly the original context", 96,
         {"rope_type": "longrope", "rope_theta": 1e4, "original_max_position_embeddings": 4096,
          **_longrope_factors(48)}, 131072, tuple(p for p in PROBE_POSITIONS if p < 4096)),
    Case("longrope one token beyond", 96,
         {"rope_type": "longrope", "rope_theta": 1e4, "original_max_position_embeddings": 4096,
          **_longrope_factors(48)}, 131072, tuple(p for p in PROBE_POSITIONS if p <= 4096)),
    Case("llama3 x8 (Llama 3.1)", 128, {"rope_type": "llama3", "rope_theta": 5e5, "factor": 8.0, "low_freq_factor": 1.0,
                                        "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}, 131072),
    Case("llama3 x16, low == high (Llama 4)", 128,
         {"rope_type": "llama3", "rope_theta": 5e5, "factor": 16.0, "low_freq_factor": 1.0, "high_freq_factor": 1.0,
          "original_max_position_embeddings": 8192}, 10485760),
    Case("proportional p=0.25 (Gemma 4 global)", 512,
         {"rope_type": "proportional", "rope_theta": 1e6, "partial_rotary_factor": 0.25}, 131072),
    Case("partial rotary 0.25 (GPT-NeoX)", 64, {"rope_type": "default", "rope_theta": 1e4,
                                                 "partial_rotary_factor": 0.25}, 2048),
)


BASES = (10_000.0, 500_000.0, 1e6)
"""The bases of the default cases: a cache that ignores theta is caught between any two of them."""


def cases(quick: bool = False) -> list[Case]:
    """Every rope case in every layout and dtype (quick: float32 and bfloat16 only).

    >>> len(cases()), len(cases(quick=True))
    (120, 60)
    """
    dtypes = ("float32", "bfloat16") if quick else tuple(DTYPES)
    return [replace(c, layout=layout, dtype=dtype) for c in ROPE_CASES for layout in LAYOUTS for dtype in dtypes]


def rotary_dim(case: Case) -> int:
    """Coordinates the schedule rotates (the prefix of partial rotary; all of p-RoPE's head)."""
    return 2 * case.schedule()[0].size


def rotate(x: np.ndarray, angles: np.ndarray, layout: str, scale: float = 1.0) -> np.ndarray:
    r"""Float64 rotation of the prefix ``x[:, :2 * angles.shape[1]]`` by ``angles``, times ``scale``.

    Pair m of the prefix is ``(x[m], x[m + n])`` (half) or ``(x[2m], x[2m+1])`` (interleaved); the
    rest of ``x`` passes through unscaled. The same convention as
    :func:`ropelab.constructions.rotary.rotate`, written in NumPy so that the reference is float64
    whatever JAX's x64 setting.

    >>> rotate(np.array([[1.0, 0.0]]), np.array([[np.pi / 2]]), "half").round(6).tolist()
    [[0.0, 1.0]]
    """
    x = np.asarray(x, dtype=np.float64)
    n = angles.shape[-1]
    out = x.copy()
    first = np.arange(n) if layout == "half" else 2 * np.arange(n)
    second = first + n if layout == "half" else first + 1
    cos, sin = scale * np.cos(angles), scale * np.sin(angles)
    a, b = x[:, first], x[:, second]
    out[:, first] = a * cos - b * sin
    out[:, second] = a * sin + b * cos
    return out


def reference(case: Case, x: np.ndarray) -> np.ndarray:
    """The exact output: float64 angles ``position * g`` from exact integers, float64 cos/sin."""
    freqs, attention = case.schedule()
    return rotate(x, np.multiply.outer(np.asarray(case.positions, dtype=np.float64), freqs), case.layout, attention)


def inputs(case: Case, seed: int = 0) -> np.ndarray:
    """Gaussian rows ``(n, d)`` rounded to the case's dtype (the reference uses these rounded values)."""
    rng = np.random.default_rng([seed, case.head_dim, len(case.positions)])
    return rng.standard_normal((len(case.positions), case.head_dim)).astype(DTYPES[case.dtype])


def round_to(values: np.ndarray, dtype: Any) -> np.ndarray:
    """``values`` rounded to ``dtype`` and back to float64."""
    return np.asarray(values).astype(dtype).astype(np.float64)


def round_tf32(values: np.ndarray) -> np.ndarray:
    """Round float64 ``values`` to TF32 (8 exponent bits, 10 mantissa bits), nearest even.

    >>> round_tf32(np.array([1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11])).tolist()
    [1.0, 1.001953125]
    """
    mantissa, exponent = np.frexp(np.asarray(values, dtype=np.float64))
    return np.ldexp(np.round(mantissa * 2.0**11) / 2.0**11, exponent)


# ---------------------------------------------------------------- known bugs


@dataclass(frozen=True)
class Bug:
    """A known RoPE bug: what it computes (``None`` where it does not apply) and one line about it."""

    name: str
    description: str
    output: Callable[[Case, np.ndarray], np.ndarray | list[np.ndarray] | None]
    """What the bug computes on a case: one array, several alternatives (the bug matches when any
    one of them does) or ``None`` where the bug does not apply."""


def _with_schedule(case: Case, x: np.ndarray, freqs: np.ndarray, attention: float,
                   positions: np.ndarray | None = None, layout: str | None = None) -> np.ndarray:
    pos = np.asarray(case.positions, dtype=np.float64) if positions is None else positions
    return rotate(x, np.multiply.outer(pos, freqs), layout or case.layout, attention)


def _proportional_denominator(case: Case, x: np.ndarray) -> np.ndarray | None:
    if case.rope["rope_type"] != "proportional":
        return None
    freqs, attention = case.schedule()
    kept = int(np.sum(freqs > 0))
    wrong = np.zeros_like(freqs)
    wrong[:kept] = frequencies.rope(2 * kept, case.rope["rope_theta"])  # exponent 2m / (2n), not 2m / d
    return _with_schedule(case, x, wrong, attention)


def _yarn_attention(transform: Callable[[float], float]) -> Callable[[Case, np.ndarray], np.ndarray | None]:
    def output(case: Case, x: np.ndarray) -> np.ndarray | None:
        if case.rope["rope_type"] != "yarn":
            return None
        freqs, attention = case.schedule()
        return _with_schedule(case, x, freqs, transform(attention))

    return output


def _yarn_mscale_ignored(case: Case, x: np.ndarray) -> np.ndarray | None:
    if case.rope["rope_type"] != "yarn" or not (case.rope.get("mscale") and case.rope.get("mscale_all_dim")):
        return None
    freqs, _ = case.schedule()
    return _with_schedule(case, x, freqs, frequencies.yarn_mscale(case.rope["factor"]))


def _llama3_blend_inverted(case: Case, x: np.ndarray) -> np.ndarray | None:
    r = case.rope
    if r["rope_type"] != "llama3" or r["low_freq_factor"] == r["high_freq_factor"]:
        return None
    g = frequencies.rope(case.head_dim, r["rope_theta"])
    wavelength = 2 * math.pi / g
    s = np.clip((r["original_max_position_embeddings"] / wavelength - r["low_freq_factor"])
                / (r["high_freq_factor"] - r["low_freq_factor"]), 0.0, 1.0)
    blended = (s > 0) & (s < 1)
    wrong = frequencies.llama3(case.head_dim, r["rope_theta"], r["factor"], r["low_freq_factor"],
                               r["high_freq_factor"], r["original_max_position_embeddings"])
    wrong[blended] = (s * g / r["factor"] + (1 - s) * g)[blended]  # the two weights swapped
    return _with_schedule(case, x, wrong, 1.0)


def _longrope_switch_early(case: Case, x: np.ndarray) -> np.ndarray | None:
    r = case.rope
    if r["rope_type"] != "longrope" or case.sequence_length != r["original_max_position_embeddings"]:
        return None
    # long factors chosen when the sequence *reaches* the original context (>= instead of >)
    freqs, attention = frequencies.from_hf_parameters(case.head_dim, r, case.sequence_length + 1,
                                                      case.max_position_embeddings)
    return _with_schedule(case, x, freqs, attention)


def _dynamic_constant(case: Case, x: np.ndarray) -> np.ndarray | None:
    r = case.rope
    if r["rope_type"] != "dynamic":
        return None
    d = rotary_dim(case)
    # the multiplier frozen at its value for factor x the context, whatever the sequence length
    freqs = frequencies.dynamic_ntk(d, r["rope_theta"], r["factor"], case.max_position_embeddings,
                                    int(r["factor"] * case.max_position_embeddings))
    return _with_schedule(case, x, freqs, 1.0)


def _bf16_inv_freq(case: Case, x: np.ndarray) -> np.ndarray:
    freqs, attention = case.schedule()
    return _with_schedule(case, x, round_to(freqs, ml_dtypes.bfloat16), attention)


def _bf16_positions(case: Case, x: np.ndarray) -> np.ndarray:
    freqs, attention = case.schedule()
    return _with_schedule(case, x, freqs, attention, round_to(np.asarray(case.positions), ml_dtypes.bfloat16))


def _tf32_angles(case: Case, x: np.ndarray) -> np.ndarray:
    freqs, attention = case.schedule()
    pos = round_tf32(np.asarray(case.positions, dtype=np.float64))
    return _with_schedule(case, x, round_tf32(freqs), attention, pos)


def _layout_confused(case: Case, x: np.ndarray) -> np.ndarray:
    freqs, attention = case.schedule()
    other = "half" if case.layout == "interleaved" else "interleaved"
    return _with_schedule(case, x, freqs, attention, layout=other)


def _sign_flip(case: Case, x: np.ndarray) -> np.ndarray:
    freqs, attention = case.schedule()
    return _with_schedule(case, x, -freqs, attention)


def _exponent_off_by_one(case: Case, x: np.ndarray) -> list[np.ndarray] | None:
    r = case.rope
    if r["rope_type"] not in ("default", "linear"):
        return None
    freqs, attention = case.schedule()
    n = freqs.size
    theta = r["rope_theta"]
    factor = r.get("factor", 1.0) if r["rope_type"] == "linear" else 1.0
    shifted = np.power(theta, -2.0 * np.arange(1, n + 1) / (2 * n)) / factor  # pairs counted from 1
    narrower = np.power(theta, -2.0 * np.arange(n) / max(2 * n - 2, 1)) / factor  # denominator d - 2
    return [_with_schedule(case, x, shifted, attention), _with_schedule(case, x, narrower, attention)]


def _low_precision_angles(dtype: Any) -> Callable[[Case, np.ndarray], list[np.ndarray]]:
    def output(case: Case, x: np.ndarray) -> list[np.ndarray]:
        freqs, attention = case.schedule()
        pos = np.asarray(case.positions, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            rounded = round_to(np.multiply.outer(pos, freqs), dtype)  # the angle product stored in the format
            inputs_too = round_to(np.multiply.outer(round_to(pos, dtype), round_to(freqs, dtype)), dtype)
            return [rotate(x, rounded, case.layout, attention), rotate(x, inputs_too, case.layout, attention)]

    return output


def _theta_blind_cache(case: Case, x: np.ndarray) -> list[np.ndarray] | None:
    r = case.rope
    others = [b for b in BASES if b != r["rope_theta"]]
    out = []
    for other in others:
        freqs, attention = frequencies.from_hf_parameters(case.head_dim, {**r, "rope_theta": other},
                                                          case.sequence_length, case.max_position_embeddings)
        out.append(_with_schedule(case, x, freqs, attention))
    return out


BUGS: tuple[Bug, ...] = (
    Bug("proportional_denominator", "p-RoPE exponents divided by the rotated width 2n (128 for Gemma 4's "
        "512-wide global head at p = 0.25) instead of the head dimension d", _proportional_denominator),
    Bug("yarn_attention_squared", "YaRN's attention factor applied twice (to cos/sin and again to the logits)",
        _yarn_attention(lambda a: a * a)),
    Bug("yarn_attention_dropped", "YaRN's attention factor dropped (cos/sin not scaled)", _yarn_attention(lambda a: 1.0)),
    Bug("yarn_mscale_ignored", "mscale / mscale_all_dim ignored: 0.1 ln(factor) + 1 where equal values give exactly "
        "1.0 (DeepSeek-V3: 1.369 instead of 1.0)", _yarn_mscale_ignored),
    Bug("llama3_blend_inverted", "llama3's blend weights swapped in the band between L/high and L/low",
        _llama3_blend_inverted),
    Bug("longrope_switch_early", "longrope takes its long factors at exactly the original context (>= instead of >)",
        _longrope_switch_early),
    Bug("dynamic_ntk_constant", "dynamic NTK's base multiplier frozen (at factor x the context) instead of "
        "recomputed from the sequence length", _dynamic_constant),
    Bug("bf16_inv_freq", "inv_freq stored in bfloat16 (8-bit mantissa): angles wrong by radians at position 4095",
        _bf16_inv_freq),
    Bug("bf16_positions", "positions cast to bfloat16 before the angle (bf16(15962) = 15936)", _bf16_positions),
    Bug("tf32_angles", "angle matmul positions x inv_freq in TF32 (10-bit mantissa inputs)", _tf32_angles),
    Bug("layout_confused", "half-split and interleaved pairs confused (a GGUF/Meta checkpoint rotated as HF's, "
        "or the reverse)", _layout_confused),
    Bug("sign_flip", "rotation by -angle (sin with the wrong sign: the transpose of each 2x2 rotation)", _sign_flip),
    Bug("exponent_off_by_one", "frequency exponents off by one: theta^(-2(m+1)/d) (pairs counted from 1) or "
        "theta^(-2m/(d-2))", _exponent_off_by_one),
    Bug("float16_angles", "angles position x g stored in float16 (10-bit mantissa; inf past 65504, so cos/sin "
        "NaN there)", _low_precision_angles(np.float16)),
    Bug("bf16_angles", "angles position x g stored in bfloat16 (8-bit mantissa: radians off past position 256)",
        _low_precision_angles(ml_dtypes.bfloat16)),
    Bug("theta_blind_cache", "a cos/sin cache keyed without theta: another base's rotation served (bases tried: "
        + ", ".join(f"{b:g}" for b in BASES) + ")", _theta_blind_cache),
)
BUGS_BY_NAME = {b.name: b for b in BUGS}


# ---------------------------------------------------------------- bounds


def strict_bound(case: Case, scale: np.ndarray) -> np.ndarray:
    r"""Per position: what an implementation forming float64 angles and rounding its output to the
    case's dtype achieves, :math:`c\,|x|\,(\epsilon_T + (A + 1)\epsilon_{64})` (``A`` = largest angle)."""
    freqs, attention = case.schedule()
    angle = np.asarray(case.positions, dtype=np.float64) * (freqs.max() if freqs.size else 0.0)
    return OPERATIONS * scale * max(attention, 1.0) * (eps(case.dtype) + (angle + 1.0) * EPS64)


def float32_angle_bound(case: Case, scale: np.ndarray) -> np.ndarray:
    r"""Per position: what float32 arithmetic achieves (HF forms angles and cos/sin in float32):
    the strict bound with :math:`\max(\epsilon_T, \epsilon_{32})`, plus
    :math:`|x|\,A\,(3 + \ln(1/g_{min}))\,\epsilon_{32}` for the float32 angle."""
    freqs, attention = case.schedule()
    rotating = freqs[freqs > 0]
    effective_log_base = math.log(1.0 / rotating.min()) if rotating.size else 0.0
    angle = np.asarray(case.positions, dtype=np.float64) * (rotating.max() if rotating.size else 0.0)
    extra = scale * max(attention, 1.0) * angle * (3.0 + effective_log_base) * EPS32
    floor = OPERATIONS * scale * max(attention, 1.0) * max(EPS32 - eps(case.dtype), 0.0)
    return strict_bound(case, scale) + floor + extra


# ---------------------------------------------------------------- choosing cases


def select(all_cases: list[Case], rope_types: list[str] | None = None, layouts: list[str] | None = None,
           dtypes: list[str] | None = None, max_position: int | None = None) -> tuple[list[Case], list[tuple[Case, str]]]:
    """Split ``all_cases`` into those run and those skipped (with the reason), by what the implementation supports.

    A case whose positions exceed ``max_position`` runs on the positions up to it, unless its schedule
    depends on the sequence length (``dynamic``, ``longrope``): then it is skipped whole. Unknown
    names raise a ``ValueError`` naming the parameter and the allowed values.

    >>> run_, skipped = select(cases(quick=True), rope_types=["default"], max_position=4096)
    >>> len(run_), len(skipped), max(run_[0].positions), skipped[0][1]
    (20, 40, 4096, 'rope type linear not asked (--rope-types)')
    """
    known_types = sorted({c.rope["rope_type"] for c in all_cases})
    for option, asked, allowed in (("--rope-types", rope_types, known_types), ("--layouts", layouts, list(LAYOUTS)),
                                   ("--dtypes", dtypes, list(DTYPES))):
        unknown = [a for a in asked or [] if a not in allowed]
        if unknown:
            raise ValueError(f"{option}: unknown {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")
    if max_position is not None and (isinstance(max_position, bool) or not isinstance(max_position, int)
                                     or max_position < 1):
        raise ValueError(f"--max-position must be an integer >= 1, got {max_position!r}")
    kept, skipped = [], []
    for case in all_cases:
        kind = case.rope["rope_type"]
        if rope_types and kind not in rope_types:
            skipped.append((case, f"rope type {kind} not asked (--rope-types)"))
        elif layouts and case.layout not in layouts:
            skipped.append((case, f"layout {case.layout} not asked (--layouts)"))
        elif dtypes and case.dtype not in dtypes:
            skipped.append((case, f"dtype {case.dtype} not asked (--dtypes)"))
        elif max_position is not None and max(case.positions) > max_position:
            inside = tuple(p for p in case.positions if p <= max_position)
            if kind in ("dynamic", "longrope"):
                skipped.append((case, f"its {kind} schedule is set by the sequence length {case.sequence_length:,} "
                                      f"> --max-position {max_position:,}"))
            else:
                kept.append(replace(case, positions=inside))
        else:
            kept.append(case)
    return kept, skipped


# ---------------------------------------------------------------- running an implementation


@dataclass
class DtypeSummary:
    worst_error: float = 0.0
    worst_case: str = ""
    worst_position: int | None = None
    first_failing_position: int | None = None
    first_failing_case: str = ""


@dataclass
class CaseResult:
    """The verdict on one case: ``pass``, ``fail`` (rows off, non-finite rows or a bug), ``error`` or ``skipped``."""

    case: str
    rope_type: str
    layout: str
    dtype: str
    verdict: str
    positions: int = 0  # rows run
    worst_error: float | None = None
    worst_position: int | None = None
    first_past_dtype_bound: int | None = None
    outside_float32_angle_bound: int = 0
    non_finite: int = 0
    bugs: list[str] = field(default_factory=list)
    detail: str = ""  # the exception of an error, the reason of a skip, positions left out by --max-position

    @property
    def label(self) -> str:
        return f"{self.case} [{self.layout}, {self.dtype}]"


@dataclass
class Report:
    """What ``ropelab conform`` prints: a verdict per case, errors per dtype, the layout implemented, bugs matched."""

    target: str
    cases: int = 0  # cases run (skipped ones not counted)
    results: list[CaseResult] = field(default_factory=list)
    dtypes: dict[str, DtypeSummary] = field(default_factory=dict)
    layouts: dict[str, str] = field(default_factory=dict)  # requested layout -> what the output matched
    bugs: dict[str, list[str]] = field(default_factory=dict)  # bug name -> cases where it matched
    non_finite: int = 0  # rows with NaN/inf where the reference is finite
    outside_float32_angle_bound: int = 0

    @property
    def errors(self) -> list[str]:
        """One line per case where the function raised or returned junk."""
        return [f"{r.label}: {r.detail}" for r in self.results if r.verdict == "error"]

    @property
    def skipped(self) -> list[CaseResult]:
        return [r for r in self.results if r.verdict == "skipped"]

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if r.verdict in ("fail", "error")]

    @property
    def conformant(self) -> bool:
        """Every case run passes (and at least one ran); skipped cases are neither."""
        return self.cases > 0 and not self.failed

    def as_dict(self) -> dict:
        def clean(value):
            if isinstance(value, float) and not math.isfinite(value):
                return str(value)
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, list):
                return [clean(v) for v in value]
            return value

        return clean({"target": self.target, "cases": self.cases, "conformant": self.conformant,
                      "failed": len(self.failed), "skipped": len(self.skipped),
                      "dtypes": {k: vars(v) for k, v in self.dtypes.items()}, "layouts": self.layouts,
                      "bugs": self.bugs, "errors": self.errors, "non_finite": self.non_finite,
                      "rows_outside_float32_angle_bound": self.outside_float32_angle_bound,
                      "per_case": [{"label": r.label, **vars(r)} for r in self.results]})


def _row_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, ``max |a - b|``; a row where ``a`` and ``b`` are non-finite in different places is ``inf``
    (NaN never compares as close); the same NaN/inf in both counts as agreement."""
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - b)
    same = (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & (a == b))
    diff = np.where(same, 0.0, diff)
    return np.max(np.where(np.isfinite(diff), diff, np.inf), axis=1)


def _alternatives(wrong: np.ndarray | list[np.ndarray] | None) -> list[np.ndarray]:
    return [] if wrong is None else list(wrong) if isinstance(wrong, list) else [wrong]


def run(function: Callable[[np.ndarray, np.ndarray, dict], Any], target: str = "function",
        quick: bool = False, seed: int = 0, rope_types: list[str] | None = None, layouts: list[str] | None = None,
        dtypes: list[str] | None = None, max_position: int | None = None) -> Report:
    """Run ``function`` on every conformance vector and judge each case against the reference and the bugs.

    Every row is judged: a row with NaN or inf where the reference is finite is a failure
    (``non_finite``), as is a row further from the reference than float32 arithmetic allows. A bug
    matches a case when it is distinguishable from the reference on at least one row of it
    (``|bug - reference| > 4 x`` the float32-angle bound) and on every such row the output is within
    that bound of the bug and outside it of the reference; bugs are named per case, beside any
    other failure. Cases outside ``rope_types``/``layouts``/``dtypes``/``max_position`` are skipped
    (see :func:`select`), never failed.

    >>> from ropelab.checks import conformance as cf
    >>> def exact(x, positions, config):
    ...     case = cf.Case("x", config["head_dim"], {k: v for k, v in config.items() if k not in
    ...                    ("head_dim", "layout", "max_position_embeddings", "inv_freq", "attention_scaling")},
    ...                    config["max_position_embeddings"], tuple(positions.tolist()), config["layout"])
    ...     return cf.reference(case, x)
    >>> report = cf.run(exact, quick=True, rope_types=["default", "linear"])
    >>> report.conformant, report.bugs, report.layouts, report.cases, len(report.skipped)
    (True, {}, {'half': 'half', 'interleaved': 'interleaved'}, 24, 36)
    """
    chosen, skipped = select(cases(quick), rope_types, layouts, dtypes, max_position)
    report = Report(target)
    layout_votes: dict[str, dict[str, int]] = {layout: {} for layout in LAYOUTS}
    for case in chosen:
        report.cases += 1
        result = _judge(function, case, seed, report, layout_votes)
        full = next((c for c in cases(quick) if (c.name, c.layout, c.dtype) == (case.name, case.layout, case.dtype)),
                    case)
        left_out = len(full.positions) - len(case.positions)
        if left_out and result.verdict != "error":
            result.detail = f"{left_out} positions above --max-position {max_position:,} not run"
        report.results.append(result)
        for bug in result.bugs:
            report.bugs.setdefault(bug, []).append(result.label)
    for case, reason in skipped:
        report.results.append(CaseResult(case.name, case.rope["rope_type"], case.layout, case.dtype, "skipped",
                                         detail=reason))
    for layout, votes in layout_votes.items():
        if votes:
            best = max(votes, key=votes.get)
            others = sum(votes.values()) - votes[best]
            report.layouts[layout] = best if not others else f"{best} ({others} of {sum(votes.values())} cases: " + \
                ", ".join(f"{k} x{v}" for k, v in sorted(votes.items()) if k != best) + ")"
    return report


def _judge(function: Callable, case: Case, seed: int, report: Report,
           layout_votes: dict[str, dict[str, int]]) -> CaseResult:
    result = CaseResult(case.name, case.rope["rope_type"], case.layout, case.dtype, "pass",
                        positions=len(case.positions))
    x = inputs(case, seed)
    positions = np.asarray(case.positions, dtype=np.int64)
    try:
        out = np.asarray(function(x.copy(), positions.copy(), case.config()))
        if out.shape != x.shape:
            raise ValueError(f"returned shape {out.shape}, expected {x.shape}")
        if not (np.issubdtype(out.dtype, np.floating) or out.dtype == ml_dtypes.bfloat16):
            raise ValueError(f"returned dtype {out.dtype}, expected a float dtype")
        out = out.astype(np.float64)
    except Exception as err:  # the report names the case and the error instead of stopping
        result.verdict, result.detail = "error", f"{type(err).__name__}: {err}"
        return result
    x64 = x.astype(np.float64)
    scale = np.max(np.abs(x64), axis=1)
    ref = reference(case, x64)
    error = _row_error(out, ref)
    finite = np.all(np.isfinite(out), axis=1)
    strict = strict_bound(case, scale)
    loose = float32_angle_bound(case, scale)
    i = int(np.argmax(error))
    result.worst_error, result.worst_position = float(error[i]), case.positions[i]
    summary = report.dtypes.setdefault(case.dtype, DtypeSummary())
    if error[i] > summary.worst_error:
        summary.worst_error, summary.worst_case, summary.worst_position = float(error[i]), case.name, case.positions[i]
    failing = np.nonzero(error > strict)[0]
    if failing.size:
        result.first_past_dtype_bound = int(case.positions[failing[0]])
        if summary.first_failing_position is None or case.positions[failing[0]] < summary.first_failing_position:
            summary.first_failing_position = int(case.positions[failing[0]])
            summary.first_failing_case = f"{case.name} [{case.layout}]"
    informative = loose < scale  # rows where the bound leaves cos/sin anything to check
    result.non_finite = int(np.sum(~finite))
    result.outside_float32_angle_bound = int(np.sum((error > loose) & (informative | ~finite)))
    report.non_finite += result.non_finite
    report.outside_float32_angle_bound += result.outside_float32_angle_bound
    other = "half" if case.layout == "interleaved" else "interleaved"
    swapped = _row_error(out, _layout_confused(case, x64))
    # the layout is read where angles are still small (positions 1..7), so that precision or
    # schedule bugs at long positions do not hide it
    small = (np.asarray(case.positions) >= 1) & (np.asarray(case.positions) <= 7)
    if np.any(small):
        own_err = float(np.max(error[small] / scale[small]))
        other_err = float(np.max(swapped[small] / scale[small]))
        vote = "neither" if min(own_err, other_err) > 0.25 else case.layout if own_err <= other_err else other
        layout_votes[case.layout][vote] = layout_votes[case.layout].get(vote, 0) + 1
    fits: dict[str, float] = {}  # bug -> its worst distance to the output over its distinct rows / the bound
    for bug in BUGS:
        for wrong in _alternatives(bug.output(case, x64)):
            distinct = (_row_error(wrong, ref) > 4 * loose) & informative
            if not np.any(distinct):
                continue
            distance = _row_error(out, wrong)
            if np.all((distance <= loose)[distinct] & (error > loose)[distinct]):
                fit = float(np.max(distance[distinct] / loose[distinct]))
                fits[bug.name] = min(fit, fits.get(bug.name, math.inf))
    if fits:  # two signatures that both fit (TF32 and float16 angles share a 10-bit mantissa): the closer one
        best = min(fits.values())
        result.bugs = [name for name, fit in fits.items() if fit <= 2 * best + 1e-3]
    if result.outside_float32_angle_bound or result.non_finite or result.bugs:
        result.verdict = "fail"
    return result
