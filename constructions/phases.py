r"""Rotation phases of exact integer positions: ``position * freq`` reduced modulo :math:`2\pi`.

The float64 product ``p * g`` is rounded to 53 bits *before* the periodic reduction that
``cos``/``sin`` perform, so at ``p = 10^6`` its phase is already off by up to
:math:`\tfrac12 u\, p g \approx 10^{-10}` rad (``u = 2^{-53}``), and the error grows with
``p``. Here the phase is carried in *turns* as a 96-bit fixed-point fraction instead:

.. math:: \frac{p g}{2\pi} \bmod 1 \;=\; \Bigl(p_{lo}\, w_0 + p_{hi}\, w_{32}\Bigr) \bmod 1,
          \qquad p = p_{hi} 2^{32} + p_{lo},\quad w_s = \frac{2^s g}{2\pi} \bmod 1,

where ``w_0`` and ``w_32`` are computed once per frequency to 96 bits with mpmath, and the
products are exact unsigned-integer arithmetic on 32-bit limbs (wrap-around is exactly the
``mod 1``). Only the final fraction in ``[-1/2, 1/2)`` turns is converted to float64 and
scaled by :math:`2\pi`, so the angle is within :data:`ANGLE_ERROR` of the true reduced
phase for every position ``|p| < 2^53``, independent of ``p``:

- truncating ``w_0``, ``w_32`` to 96 bits: ``< (2^32 + 2^21) 2^{-96}`` turns;
- dropping the lowest 32-bit limb: ``< 2^{-64}`` turns;
- int64 -> float64, the rounded constant ``fl(2*pi)`` and the product: three relative
  roundings of an angle of at most ``pi``: ``<= pi ((1+u)^3 - 1)``.

The arithmetic is integer-exact on every backend (no fused multiply-add can change it), and
works under ``jit``, ``vmap`` and sharding. Needs ``jax_enable_x64`` (64-bit integers).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import mpmath
import numpy as np

from . import validation as _v

__all__ = [
    "ANGLE_ERROR",
    "TRIG_ERROR",
    "U",
    "angles_from_turns",
    "cos_sin",
    "frequency_turns",
    "reduced_angles",
    "require_x64",
]

U = 2.0**-53  # unit roundoff of float64
_LIMB = 32
_MASK = (1 << _LIMB) - 1
FRACTION_BITS = 96
# fl(2*pi) * 2**-64: turns carried as a signed 64-bit fraction times this give radians.
_RADIANS_PER_UNIT = 2.0 * math.pi * 2.0**-64

# pi ((1+u)^3 - 1) written out (1 + u rounds to 1), plus 2pi times the turn truncations;
# the last factor covers the rounding of this expression itself.
ANGLE_ERROR = (math.pi * (3 * U + 3 * U**2 + U**3) + 2 * math.pi * (2.0**-63 + 2.0**-75)) * (1 + 1e-9)
"""Largest distance, in radians modulo 2*pi, between :func:`reduced_angles` and ``p*g``.

About ``9.43 u = 2.1e-15`` rad (derivation in the module docstring), for every ``|p| < 2^53``.
"""

TRIG_ERROR = 4.0 * U
"""Absolute error allowed for float64 ``cos``/``sin`` on ``[-pi, pi]``: 2 ulp of a value in
``[-1, 1]`` (glibc and CUDA's libdevice document at most 2 ulp; XLA's CPU kernels measure
about half an ulp). ``tests/test_relative_position.py`` measures the backend against long double."""


def require_x64() -> None:
    """Raise ``ValueError`` unless ``jax_enable_x64`` is on (64-bit integer phases need it)."""
    _v.require_x64("exact phases (64-bit integers and floats)")


def _checked_freqs(freqs: object) -> np.ndarray:
    g = _v.frequency_vector(freqs)
    if np.any(np.abs(g) > 2.0**64):
        raise ValueError("freqs must have |freq| <= 2**64 rad per position")
    return g


def frequency_turns(freqs: object) -> np.ndarray:
    r"""Fixed-point turns per position: limbs of :math:`(2^s g / 2\pi) \bmod 1` for ``s = 0, 32``.

    Each float64 frequency is taken as the exact rational it stores. Returns ``(d/2, 2, 3)``
    uint64: ``[m, 0]`` holds ``w_0`` and ``[m, 1]`` holds ``w_32`` as three 32-bit limbs,
    most significant first, each the 96-bit truncation of the fraction.

    >>> frequency_turns([math.pi])[0, 0].tolist()  # fl(pi) is 1.2e-16 below pi: just under half a turn
    [2147483647, 4294966936, 1963269283]
    """
    g = _checked_freqs(freqs)
    return _turns_of(g.tobytes()).copy()


@functools.lru_cache(maxsize=64)
def _turns_of(freq_bytes: bytes) -> np.ndarray:
    # Keyed on every byte of the float64 schedule, so equal keys mean equal frequencies.
    g = np.frombuffer(freq_bytes, dtype=np.float64)
    out = np.zeros((g.size, 2, 3), dtype=np.uint64)
    # 64 bits for the integer part of 2^32 g / 2pi, 96 fraction bits, ample guard bits.
    with mpmath.workprec(64 + 32 + FRACTION_BITS + 96):
        inv_two_pi = 1 / (2 * mpmath.pi)
        for m, value in enumerate(g):
            for s in (0, 1):
                x = mpmath.mpf(float(value)) * mpmath.mpf(2) ** (_LIMB * s) * inv_two_pi
                frac = x - mpmath.floor(x)
                fixed = int(mpmath.floor(frac * mpmath.mpf(2) ** FRACTION_BITS))
                out[m, s] = [(fixed >> 64) & _MASK, (fixed >> 32) & _MASK, fixed & _MASK]
    return out


def _times_fraction(x: jax.Array, limbs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``x * W mod 2^96`` as 32-bit limbs ``(hi, mid, lo)``; ``x < 2^32``, ``W`` given by limbs.

    Each limb product is below ``2^64`` and the carries below ``2^33``, so uint64 is exact.
    """
    p_hi, p_mid, p_lo = (x * limbs[..., i] for i in range(3))
    lo = p_lo & _MASK
    t = (p_mid & _MASK) + (p_lo >> _LIMB)
    mid = t & _MASK
    t = (p_hi & _MASK) + (p_mid >> _LIMB) + (t >> _LIMB)
    return t & _MASK, mid, lo


def _add_fractions(a: tuple, b: tuple) -> tuple[jax.Array, jax.Array]:
    """The top two limbs of ``(a + b) mod 2^96`` (limbs most significant first)."""
    t = a[2] + b[2]
    t = a[1] + b[1] + (t >> _LIMB)
    mid = t & _MASK
    hi = (a[0] + b[0] + (t >> _LIMB)) & _MASK
    return hi, mid


def angles_from_turns(positions: jax.Array, turns: jax.Array) -> jax.Array:
    r"""Reduced angles ``(p * g) mod 2pi`` in ``[-pi, pi)`` from :func:`frequency_turns` limbs.

    Traceable (use under ``jit``). Shapes: ``positions`` integer ``(...)`` with
    ``|p| < 2^53``; ``turns`` ``(m, 2, 3)`` uint64; returns float64 ``(..., m)``. Negative
    positions use :math:`\phi(-p) = -\phi(p)`.
    """
    p = jnp.asarray(positions, dtype=jnp.int64)
    magnitude = jnp.abs(p).astype(jnp.uint64)[..., None]
    low = magnitude & _MASK
    high = magnitude >> _LIMB
    # The limbs gain one leading axis per position axis, so they meet ``(..., 1)`` at equal rank.
    leading = tuple(range(p.ndim))
    hi, mid = _add_fractions(
        _times_fraction(low, jnp.expand_dims(turns[:, 0], leading)),
        _times_fraction(high, jnp.expand_dims(turns[:, 1], leading)),
    )
    fraction = jax.lax.bitcast_convert_type((hi << _LIMB) | mid, jnp.int64)  # turns * 2^64, signed
    angle = fraction.astype(jnp.float64) * _RADIANS_PER_UNIT
    return jnp.where(p[..., None] < 0, -angle, angle)


@jax.jit
def _reduced(positions: jax.Array, turns: jax.Array) -> jax.Array:
    return angles_from_turns(positions, turns)


def _checked_positions(positions: object) -> np.ndarray:
    p = np.asarray(positions)
    if p.dtype == bool or not np.issubdtype(p.dtype, np.integer):
        if not (np.issubdtype(p.dtype, np.floating) and np.all(np.isfinite(p)) and np.all(p == np.round(p))):
            raise ValueError(f"positions must be integers, got {p.dtype} values")
    if p.size and np.max(np.abs(p)) >= 2**53:
        raise ValueError("positions must satisfy |p| < 2**53")
    return p.astype(np.int64)


def reduced_angles(positions: object, freqs: object) -> np.ndarray:
    r"""Angles :math:`\phi \equiv p\,g_m \pmod{2\pi}` in ``[-pi, pi)``, within :data:`ANGLE_ERROR`.

    Shapes: ``positions`` any integer shape, ``freqs`` ``(d/2,)``; returns float64
    ``(*positions.shape, d/2)``. Compare ``np.multiply.outer(p, g)``, whose error grows
    like ``u p g``.

    >>> import numpy as np
    >>> float(reduced_angles([10**15], [1.0])[0, 0])  # 10^15 mod 2pi, to 16 digits
    2.109698117070...
    """
    require_x64()
    p = _checked_positions(positions)
    turns = frequency_turns(freqs)
    return np.asarray(_reduced(jnp.asarray(p), jnp.asarray(turns)))


def cos_sin(positions: object, freqs: object) -> tuple[np.ndarray, np.ndarray]:
    """``(cos, sin)`` of :func:`reduced_angles`, each float64 ``(*positions.shape, d/2)``.

    Each entry is within ``ANGLE_ERROR + TRIG_ERROR`` of the exact ``cos(p g)``, ``sin(p g)``.

    >>> c, s = cos_sin([2], [np.pi / 2])
    >>> np.round([c[0, 0], s[0, 0]], 15).tolist()
    [-1.0, 0.0]
    """
    phi = reduced_angles(positions, freqs)
    return np.cos(phi), np.sin(phi)
