"""Argument checks shared by the constructions: each failure names the parameter and its range."""

from __future__ import annotations

import math
import numbers

import jax
import numpy as np

__all__ = [
    "base",
    "finite_vector",
    "fraction",
    "frequency_vector",
    "head_dim",
    "is_traced",
    "keeps_float64",
    "layout",
    "positions",
    "positive",
    "positive_integers",
    "require_x64",
]

LAYOUTS = ("half", "interleaved")


def head_dim(d: object, name: str = "d") -> int:
    """Return ``d`` as an int if it is an even integer >= 2, else raise ``ValueError``.

    >>> head_dim(8)
    8
    """
    if isinstance(d, bool) or not isinstance(d, numbers.Integral):
        raise ValueError(f"{name} (head dimension) must be an even integer >= 2, got {d!r}")
    d = int(d)
    if d < 2 or d % 2:
        raise ValueError(f"{name} (head dimension) must be an even integer >= 2, got {d}")
    return d


def base(theta: object, name: str = "theta") -> float:
    """Return ``theta`` as a float if it is a finite number > 1, else raise ``ValueError``."""
    if isinstance(theta, bool) or not isinstance(theta, numbers.Real):
        raise ValueError(f"{name} (base wavelength) must be a finite number > 1, got {theta!r}")
    theta = float(theta)
    if not math.isfinite(theta) or theta <= 1.0:
        raise ValueError(f"{name} (base wavelength) must be a finite number > 1, got {theta}")
    return theta


def fraction(p: object, name: str = "p") -> float:
    """Return ``p`` as a float if it lies in [0, 1], else raise ``ValueError``."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {p!r}")
    return float(p)


def positive(x: object, name: str, *, minimum: float = 0.0, inclusive: bool = False) -> float:
    """Return ``x`` as a float if it is finite and above ``minimum``, else raise ``ValueError``."""
    bad = isinstance(x, bool) or not isinstance(x, numbers.Real) or not math.isfinite(float(x))
    if not bad:
        bad = float(x) < minimum if inclusive else float(x) <= minimum
    if bad:
        bound = f">= {minimum}" if inclusive else f"> {minimum}"
        raise ValueError(f"{name} must be a finite number {bound}, got {x!r}")
    return float(x)


def positive_integers(record: object, names: tuple[str, ...]) -> None:
    """Refuse, naming the field, any of ``record``'s fields ``names`` that is not an integer >= 1.

    >>> from types import SimpleNamespace
    >>> positive_integers(SimpleNamespace(steps=0), ("steps",))
    Traceback (most recent call last):
    ...
    ValueError: steps must be a positive integer, got 0
    """
    for name in names:
        value = getattr(record, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def layout(name: object) -> str:
    """Return ``name`` if it is a known pair layout, else raise ``ValueError``."""
    if name not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {name!r}")
    return str(name)


def is_traced(x: object) -> bool:
    """True inside ``jit``/``vmap`` tracing, where values cannot be inspected."""
    return isinstance(x, jax.core.Tracer)


def positions(pos: object, name: str = "positions") -> np.ndarray | jax.Array:
    """Check that concrete positions are non-negative integers; traced ones pass through.

    Returns an int64 NumPy array for concrete input (exact up to 2**53 when turned into
    float64 angles) and the tracer itself under ``jit``.
    """
    if is_traced(pos):
        if not np.issubdtype(pos.dtype, np.integer):
            raise ValueError(f"{name} must have an integer dtype, got {pos.dtype}")
        return pos
    arr = np.asarray(pos)
    if arr.dtype == bool:
        raise ValueError(f"{name} must be non-negative integers, got booleans")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be non-negative integers, got {arr.dtype} values")
        if np.any(arr != np.round(arr)):
            raise ValueError(f"{name} must be non-negative integers, got non-integer values")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative integers (>= 0), got {arr.min()}")
    if np.any(np.abs(arr) > 2**53):
        raise ValueError(f"{name} must be at most 2**53 so that float64 holds them exactly")
    return arr.astype(np.int64)


def finite_vector(x: object, name: str = "x") -> object:
    """Reject NaN or inf in a concrete vector (traced values pass through)."""
    if is_traced(x):
        return x
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite: it contains NaN or inf")
    return x


def frequency_vector(freqs: object, name: str = "freqs") -> np.ndarray:
    """Return ``freqs`` as a non-empty, finite, 1-D float64 array (one frequency per pair)."""
    g = np.asarray(freqs, dtype=np.float64)
    if g.ndim != 1 or g.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of length d/2, got shape {g.shape}")
    if not np.all(np.isfinite(g)):
        raise ValueError(f"{name} must be finite: it contains NaN or inf")
    return g


ENABLE_X64 = 'jax.config.update("jax_enable_x64", True)'
"""How to switch JAX to 64 bits (once, before any computation)."""


def require_x64(what: str) -> None:
    """Raise ``ValueError`` unless JAX computes in 64 bits (``jax_enable_x64`` on).

    Importing ropelab never changes JAX's configuration: the ``ropelab`` command and the
    tests switch it on at the process edge, and a library caller does it once.

    >>> import jax
    >>> require_x64("this example") if jax.config.jax_enable_x64 else None
    """
    if not jax.config.jax_enable_x64:
        raise ValueError(f"{what} computes in float64, but JAX is in 32-bit mode (jax_enable_x64 is off); "
                         f"switch it on first with {ENABLE_X64}")


def keeps_float64(x: object, what: str) -> None:
    """Raise ``ValueError`` if float64 input would silently come back as float32.

    A function that returns its input's dtype can keep float64 only when JAX is in 64-bit
    mode; float32 input, and traced values (the caller chose the mode), pass.
    """
    if is_traced(x) or jax.config.jax_enable_x64:
        return
    if getattr(x, "dtype", None) == np.float64 or (not hasattr(x, "dtype") and np.asarray(x).dtype == np.float64):
        raise ValueError(f"{what} returns the input's dtype, float64 here, but JAX is in 32-bit mode "
                         f"(jax_enable_x64 is off) and would return float32; switch it on first with {ENABLE_X64}, "
                         "or pass float32 input")
