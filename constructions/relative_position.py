r"""Position-only logits: curves over the distance ``r = i - j`` and heads built from them.

When every token carries the same query ``q`` and key ``k`` (the constructed heads of the
paper), :math:`a_{ij} = q^\top R^{j-i} k` depends on ``r = i - j`` only:

.. math:: c(r) = \sum_m A_m \cos(r g_m) + B_m \sin(r g_m),\quad
          A_m = q_1k_1 + q_2k_2,\; B_m = q_1k_2 - q_2k_1

(pair ``m`` is ``(x[m], x[m+d/2])``). Every row of the ``N``-token head follows from prefix
sums over this one curve (SPEC §10), never from an ``N x N`` matrix.

How the curve is computed (fast and exact):

- **Angle addition by blocks.** Distances are cut into blocks ``r = s + j``,
  ``0 <= j < BLOCK``. With :math:`\alpha_m(s) = A_m\cos sg_m + B_m\sin sg_m` and
  :math:`\beta_m(s) = B_m\cos sg_m - A_m\sin sg_m`, exactly
  :math:`c(s+j) = \sum_m \alpha_m(s)\cos jg_m + \beta_m(s)\sin jg_m`: ``cos``/``sin`` are
  evaluated once per block start and once for the shared offset table, ``(L/BLOCK +
  BLOCK) d/2`` times instead of ``L d/2``, and the rest is one matrix product.
- **Exact phases.** Every angle comes from :mod:`.phases` (integer positions reduced modulo
  :math:`2\pi` in fixed point), so the error does not grow with the distance;
  :func:`logit_curve_error_bound` states the proven bound.
- **Static shapes, streaming, devices.** One jitted kernel per (``d``, chunk size), chunk
  sizes from the short ladder :data:`CHUNK_BLOCKS`, so a sweep over lengths, starts and
  vectors never recompiles; :func:`logit_curve_chunks` streams a curve in pieces of bounded
  size; ``mesh=`` shards the block axis of every chunk over a :class:`jax.sharding.Mesh`,
  each device running the same per-block program as the single-device path (the results
  agree bit for bit).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from . import phases as _ph
from . import validation as _v

__all__ = [
    "BLOCK",
    "CHUNK_BLOCKS",
    "direct_logit_error_bound",
    "logit_curve",
    "logit_curve_chunks",
    "logit_curve_error_bound",
    "logits_at_distances",
    "pair_coefficients",
    "row_log_normalisers",
    "weight_at_distance",
    "weight_at_distance_chunks",
]

BLOCK = 1024  # distances per angle-addition block (the offset table is BLOCK x d/2)
CHUNK_BLOCKS = (1, 16, 256)  # blocks per device per kernel call: the only shapes compiled
NORMALISER_CHUNK = 1 << 16  # curve entries per prefix-log-sum-exp call


def pair_coefficients(q: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(A, B)`` with ``c(r) = sum_m A_m cos(r g_m) + B_m sin(r g_m)`` (half layout).

    Shapes: ``q``, ``k`` ``(..., d)`` with the same last dimension (leading axes broadcast);
    returns two ``(..., d/2)`` arrays.

    >>> pair_coefficients(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    (array([0.]), array([1.]))
    """
    q = np.asarray(_v.finite_vector(q, "q"), dtype=np.float64)
    k = np.asarray(_v.finite_vector(k, "k"), dtype=np.float64)
    if q.ndim == 0 or k.ndim == 0 or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must have the same last dimension d, got {q.shape} and {k.shape}")
    d = _v.head_dim(q.shape[-1], "q.shape[-1]")
    q1, q2, k1, k2 = q[..., : d // 2], q[..., d // 2 :], k[..., : d // 2], k[..., d // 2 :]
    return q1 * k1 + q2 * k2, q1 * k2 - q2 * k1


# --- error bounds -----------------------------------------------------------------------

def _gamma(n: int) -> float:
    """Higham's :math:`\\gamma_n = nu/(1-nu)`: bound on the relative error of n roundings."""
    return n * _ph.U / (1.0 - n * _ph.U)


def _pair_scales(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    # rho_m = |q_m| |k_m| = sqrt(A_m^2 + B_m^2): the amplitude of pair m's term in c(r).
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    h = q.shape[-1] // 2
    return np.hypot(q[:h], q[h:]) * np.hypot(k[:h], k[h:])


def logit_curve_error_bound(q: np.ndarray, k: np.ndarray) -> float:
    r"""Proven bound on ``|logit_curve(...)[r] - c(r)|`` for every distance ``r``.

    With ``e = ANGLE_ERROR + TRIG_ERROR`` (each computed cos/sin is within ``e`` of the exact
    value of the exact angle), :math:`\rho_m = |q_m||k_m|` and Higham's :math:`\gamma_n`:
    the rounded ``A, B`` are within :math:`\gamma_2\rho_m` (Cauchy–Schwarz), so the block
    coefficients :math:`\tilde\alpha, \tilde\beta` are within :math:`\eta\rho_m`,
    :math:`\eta = 2\gamma_2(1+e) + \sqrt2 e + \gamma_2(\sqrt2+2\gamma_2)(1+e)`
    (:math:`|A|+|B| \le \sqrt2\rho`); the ``d``-term product with the offset table adds
    :math:`\rho_m[\eta(\sqrt2+2e) + 2e]` per pair from perturbed factors and
    :math:`\gamma_d(1+\eta)(\sqrt2+2e)\rho_m` from its roundings (any summation order):

    .. math:: |\tilde c(r) - c(r)| \le \sum_m \rho_m\bigl[(\eta + \gamma_d(1+\eta))(\sqrt2+2e) + 2e\bigr].

    It does not depend on ``r``: about ``(1.4 d + 64) u sum_m rho_m``.

    >>> b = logit_curve_error_bound(np.ones(256), np.ones(256))  # sum rho = 256
    >>> round(b / (256 * 2.0**-53))
    425
    """
    rho = _pair_scales(q, k)
    d = 2 * rho.size
    e = _ph.ANGLE_ERROR + _ph.TRIG_ERROR
    g2, gd = _gamma(2), _gamma(d)
    eta = 2 * g2 * (1 + e) + math.sqrt(2) * e + g2 * (math.sqrt(2) + 2 * g2) * (1 + e)
    per_pair = (eta + gd * (1 + eta)) * (math.sqrt(2) + 2 * e) + 2 * e
    return float(per_pair * np.sum(rho) * (1 + 1e-9))


def direct_logit_error_bound(q: np.ndarray, k: np.ndarray) -> float:
    r"""Proven bound on ``|logits_at_distances(...) - c(r)|`` (no angle addition).

    Same ingredients as :func:`logit_curve_error_bound` with one level less:
    :math:`\sum_m \rho_m[2\gamma_2(1+e) + \sqrt2 e + \gamma_d(\sqrt2+2\gamma_2)(1+e)]`.

    >>> direct_logit_error_bound(np.ones(2), np.ones(2)) < logit_curve_error_bound(np.ones(2), np.ones(2))
    True
    """
    rho = _pair_scales(q, k)
    d = 2 * rho.size
    e = _ph.ANGLE_ERROR + _ph.TRIG_ERROR
    g2, gd = _gamma(2), _gamma(d)
    per_pair = 2 * g2 * (1 + e) + math.sqrt(2) * e + gd * (math.sqrt(2) + 2 * g2) * (1 + e)
    return float(per_pair * np.sum(rho) * (1 + 1e-9))


# --- kernels ----------------------------------------------------------------------------

def _offset_table(turns: jax.Array) -> jax.Array:
    """``[cos(j g); sin(j g)]`` for ``j = 0 .. BLOCK-1``: shape ``(d, BLOCK)``."""
    phi = _ph.angles_from_turns(jnp.arange(BLOCK, dtype=jnp.int64), turns)
    return jnp.concatenate([jnp.cos(phi).T, jnp.sin(phi).T], axis=0)


def _curve_blocks(starts: jax.Array, coeffs: jax.Array, turns: jax.Array, table: jax.Array) -> jax.Array:
    """``c(s + j)`` for each block start ``s`` (shape ``(c,)``) and ``j < BLOCK``: ``(c, BLOCK)``."""
    phi = _ph.angles_from_turns(starts, turns)  # (c, d/2): the only cos/sin per block
    cs, sn = jnp.cos(phi), jnp.sin(phi)
    a, b = coeffs[0][None, :], coeffs[1][None, :]
    # Angle addition: rotate the coefficients to the block start, then the offsets finish it.
    rotated = jnp.concatenate([a * cs + b * sn, b * cs - a * sn], axis=-1)
    return rotated @ table


_offset_table_jit = jax.jit(_offset_table)
_curve_blocks_jit = jax.jit(_curve_blocks)


@functools.lru_cache(maxsize=16)
def _sharded_curve_blocks(mesh: Mesh):
    # The block axis is split over every axis of the mesh; each device runs _curve_blocks on
    # its slice, the same program (and local shape) as the single-device path.
    spec = P(mesh.axis_names)
    kernel = jax.shard_map(_curve_blocks, mesh=mesh, in_specs=(spec, P(), P(), P()), out_specs=spec)
    return jax.jit(kernel), NamedSharding(mesh, spec)


def _chunk_blocks(total_blocks: int) -> int:
    """Blocks per device per call: the smallest ladder size holding them all, else the largest."""
    for size in CHUNK_BLOCKS:
        if size >= total_blocks:
            return size
    return CHUNK_BLOCKS[-1]


def _checked_length(length: object, name: str = "length") -> int:
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {length!r}")
    return int(length)


def _checked_start(start: object, length: int) -> int:
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)):
        raise ValueError(f"start must be an integer, got {start!r}")
    start = int(start)
    if abs(start) >= 2**52 or abs(start + length + BLOCK) >= 2**52:
        raise ValueError("start and start + length must stay within |r| < 2**52")
    return start


def _curve_inputs(q, k, freqs):
    if np.ndim(q) != 1 or np.shape(q) != np.shape(k):
        raise ValueError(f"q and k must be vectors of the same length d, got {np.shape(q)} and {np.shape(k)}")
    a, b = pair_coefficients(q, k)
    g = np.asarray(freqs, dtype=np.float64)
    if g.shape != a.shape:
        raise ValueError(f"freqs must have length d/2 = {a.size}, got {g.shape}")
    turns = jnp.asarray(_ph.frequency_turns(g))
    return jnp.asarray(np.stack([a, b])), turns


def logit_curve_chunks(
    q: np.ndarray,
    k: np.ndarray,
    freqs: np.ndarray,
    length: int,
    *,
    start: int = 0,
    mesh: Mesh | None = None,
) -> Iterator[np.ndarray]:
    r"""Stream :math:`c(r)` for ``r = start .. start+length-1`` in consecutive float64 pieces.

    Memory stays bounded by one piece (``CHUNK_BLOCKS[-1] * BLOCK`` distances per device)
    whatever the length; the next piece is computed while the caller consumes the current
    one. With ``mesh``, each piece's blocks are sharded over all its devices.

    >>> import numpy as np
    >>> pieces = list(logit_curve_chunks(np.ones(2), np.ones(2), [0.0], 3))
    >>> [p.tolist() for p in pieces]
    [[2.0, 2.0, 2.0]]
    """
    _ph.require_x64()
    length = _checked_length(length)
    start = _checked_start(start, length)
    coeffs, turns = _curve_inputs(q, k, freqs)
    table = _offset_table_jit(turns)
    total_blocks = -(-length // BLOCK)
    local = _chunk_blocks(total_blocks)
    if mesh is None:
        kernel, devices, placement = _curve_blocks_jit, 1, None
    else:
        kernel, placement = _sharded_curve_blocks(mesh)
        devices = mesh.size
    step = local * devices
    pending: tuple[jax.Array, int] | None = None
    for first in range(0, total_blocks, step):
        starts = start + BLOCK * np.arange(first, first + step, dtype=np.int64)
        starts_dev = jnp.asarray(starts) if placement is None else jax.device_put(starts, placement)
        current = (kernel(starts_dev, coeffs, turns, table), first * BLOCK)
        if pending is not None:
            yield np.asarray(pending[0]).reshape(-1)
        pending = current
    values, offset = pending
    yield np.asarray(values).reshape(-1)[: length - offset]


def logit_curve(q: np.ndarray, k: np.ndarray, freqs: np.ndarray, length: int, *, start: int = 0,
                mesh: Mesh | None = None) -> np.ndarray:
    r"""The logit at distances ``r = start .. start+length-1``: :math:`c(r) = q^\top R^{-r} k`.

    Shapes: ``q``, ``k`` are ``(d,)``; ``freqs`` ``(d/2,)``; returns ``(length,)`` float64,
    each entry within :func:`logit_curve_error_bound` of the exact value whatever the
    distance. ``mesh`` shards the distance axis over devices (bit-identical results).
    Needs ``jax_enable_x64``.

    >>> import numpy as np
    >>> c = logit_curve(np.array([1.0, 0.0]), np.array([1.0, 0.0]), np.array([np.pi / 2]), 4)
    >>> np.round(c, 12).tolist()
    [1.0, 0.0, -1.0, -0.0]
    """
    out = np.empty(_checked_length(length), dtype=np.float64)
    filled = 0
    for piece in logit_curve_chunks(q, k, freqs, length, start=start, mesh=mesh):
        out[filled : filled + piece.size] = piece
        filled += piece.size
    return out


@jax.jit
def _direct_logits(distances: jax.Array, coeffs: jax.Array, turns: jax.Array) -> jax.Array:
    phi = _ph.angles_from_turns(distances, turns)
    return jnp.cos(phi) @ coeffs[0] + jnp.sin(phi) @ coeffs[1]


def logits_at_distances(q: np.ndarray, k: np.ndarray, freqs: np.ndarray, distances: object) -> np.ndarray:
    r""":math:`c(r)` at chosen integer distances, each evaluated directly (no angle addition).

    Shapes: ``distances`` ``(n,)`` integers with ``|r| < 2^53``; returns ``(n,)`` float64
    within :func:`direct_logit_error_bound`. For a few far distances (``r = 10^{12}``) without
    the whole curve.

    >>> import numpy as np
    >>> logits_at_distances(np.array([1.0, 0.0]), np.array([1.0, 0.0]), [np.pi], [2]).round(12).tolist()
    [1.0]
    """
    _ph.require_x64()
    r = _ph._checked_positions(distances)
    if r.ndim != 1:
        raise ValueError(f"distances must be a 1-D array of integers, got shape {r.shape}")
    coeffs, turns = _curve_inputs(q, k, freqs)
    return np.asarray(_direct_logits(jnp.asarray(r), coeffs, turns))


# --- heads from one curve: prefix log-sum-exp ------------------------------------------

_ROW = 64  # entries per row of the two-level prefix sum
_TINY = 2.0**-600  # a scaled prefix sum below this may hide underflowed terms


def _prefix_log_sum_exp(x: np.ndarray) -> np.ndarray:
    r"""``log(cumsum(exp(x)))`` without overflow, in ``O(n)`` with ``O(log_64 n)`` levels.

    Rows of ``_ROW`` entries are scaled by their maximum ``m`` and summed cumulatively with
    compensation (relative error about ``2u``); the row totals are prefixed the same way, one
    level up, and joined with one ``logaddexp``. A prefix whose scaled sum is tiny (every term
    far below the row maximum, so some may have underflowed) is redone by sequential
    ``logaddexp`` within its row. The exact prefixes never decrease, so a running maximum
    removes rounding-level dips without moving any value further from the exact one.
    """
    n = x.size
    rows = -(-n // _ROW)
    y = np.full(rows * _ROW, -np.inf)
    y[:n] = x
    y = y.reshape(rows, _ROW)
    with np.errstate(divide="ignore", under="ignore"):
        top = np.max(y, axis=1, keepdims=True)
        scale = np.where(np.isfinite(top), top, 0.0)  # an all -inf row stays -inf
        terms = np.exp(y - scale)
        sums = np.cumsum(terms, axis=1)
        # Knuth's TwoSum recovers each addition's rounding error exactly; adding their running
        # sum back makes the prefix sums as accurate as compensated summation.
        prior = np.concatenate([np.zeros((rows, 1)), sums[:, :-1]], axis=1)
        added = sums - prior
        sums = sums + np.cumsum((prior - (sums - added)) + (terms - added), axis=1)
        local = scale + np.log(sums)
        hidden = (sums < _TINY) & (np.maximum.accumulate(y, axis=1) > -np.inf)
        if np.any(hidden):
            redo = np.flatnonzero(np.any(hidden, axis=1))
            sequential = np.logaddexp.accumulate(y[redo], axis=1)
            local[redo] = np.where(hidden[redo], sequential, local[redo])
        if rows > 1:
            before = np.concatenate([[-np.inf], _prefix_log_sum_exp(local[:, -1])[:-1]])
            local = np.logaddexp(before[:, None], local)
    return np.maximum.accumulate(local.reshape(-1)[:n])


def _normalisers(values: np.ndarray, carry: float) -> tuple[np.ndarray, float]:
    """Prefix log-sum-exp of ``values`` continued from ``carry``, in fixed-size pieces."""
    out = np.empty(values.size, dtype=np.float64)
    for first in range(0, values.size, NORMALISER_CHUNK):
        piece = values[first : first + NORMALISER_CHUNK]
        with np.errstate(divide="ignore", under="ignore"):
            prefix = np.logaddexp(carry, _prefix_log_sum_exp(piece))
        out[first : first + piece.size] = prefix
        carry = float(prefix[-1])
    return out, carry


def row_log_normalisers(curve: np.ndarray) -> np.ndarray:
    r"""For a head with logits ``a_ij = curve[i - j]``: :math:`L_i = \log\sum_{r=0}^{i} e^{c(r)}`.

    Row ``i`` of the causal softmax is ``alpha_{i, i-r} = exp(c(r) - L_i)``. Prefix sums over
    the one curve give every row in ``O(N)``: a running log-sum-exp over pieces of
    ``NORMALISER_CHUNK`` entries, each a two-level scaled prefix sum (nothing to compile).

    >>> np.round(np.exp(row_log_normalisers(np.zeros(3))), 12).tolist()
    [1.0, 2.0, 3.0]
    """
    values = np.asarray(curve, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"curve must be a non-empty 1-D array, got shape {values.shape}")
    if np.any(np.isnan(values)) or np.any(values == np.inf):
        raise ValueError("curve must not contain NaN or +inf")
    return _normalisers(values, -np.inf)[0]


def weight_at_distance(curve: np.ndarray, distance: int) -> np.ndarray:
    r"""Every row's weight on the key at ``distance`` behind it, rows ``i = distance .. N-1``.

    :math:`\alpha_{i,i-t} = e^{c(t) - L_i} = 1 / \sum_{r \le i} e^{c(r) - c(t)}`; e.g.
    ``distance=0`` is the diagonal, ``1`` the previous token. The prefix sums run over the
    offsets ``c(r) - c(t)`` (the target's own term is exactly 1), so a weight near 1 is not
    the difference of two large log-normalisers. Shapes: ``curve`` ``(N,)``, returns
    ``(N - distance,)``.

    >>> np.round(weight_at_distance(np.array([0.0, 0.0, 0.0]), 0), 6).tolist()
    [1.0, 0.5, 0.333333]
    """
    values = np.asarray(curve, dtype=np.float64)
    if isinstance(distance, bool) or not isinstance(distance, (int, np.integer)) or not 0 <= distance < len(values):
        raise ValueError(f"distance must be an integer in [0, {len(values) - 1}], got {distance!r}")
    norm = row_log_normalisers(values - values[distance])
    return np.exp(-norm[distance:])


def weight_at_distance_chunks(
    q: np.ndarray,
    k: np.ndarray,
    freqs: np.ndarray,
    length: int,
    distance: int,
    *,
    mesh: Mesh | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    r"""Stream :func:`weight_at_distance` for the ``length``-token head of ``(q, k)``.

    Yields ``(first_row, weights)`` pieces covering rows ``distance .. length-1`` in order,
    holding one curve piece and a running log-normaliser at a time (bounded memory for any
    ``length``). Concatenated, the pieces equal
    ``weight_at_distance(logit_curve(q, k, freqs, length), distance)`` bit for bit. When the
    target lies beyond the first piece, the pieces up to it are computed twice (once to read
    ``c(t)``).

    >>> import numpy as np
    >>> [(i, w.round(6).tolist()) for i, w in weight_at_distance_chunks(np.ones(2), np.ones(2), [0.0], 3, 1)]
    [(1, [0.5, 0.333333])]
    """
    length = _checked_length(length)
    if isinstance(distance, bool) or not isinstance(distance, (int, np.integer)) or not 0 <= distance < length:
        raise ValueError(f"distance must be an integer in [0, {length - 1}], got {distance!r}")
    pieces = logit_curve_chunks(q, k, freqs, length, mesh=mesh)
    head = next(pieces)
    if distance < head.size:
        target, stream = head[distance], itertools.chain([head], pieces)
    else:
        first = head.size
        for piece in pieces:
            if distance < first + piece.size:
                target = piece[distance - first]
                break
            first += piece.size
        pieces.close()
        stream = logit_curve_chunks(q, k, freqs, length, mesh=mesh)
    carry, first = -np.inf, 0
    for piece in stream:
        norm, carry = _normalisers(piece - target, carry)
        last = first + piece.size
        if last > distance:
            lo = max(first, distance)
            yield lo, np.exp(-norm[lo - first :])
        first = last
