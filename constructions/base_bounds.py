r"""Men et al.'s lower bound on the RoPE base: when the cosine sum stays non-negative.

For ``k = q + noise`` the expected logit at distance ``r`` is proportional to
:math:`B_\theta(r) = \sum_{m=0}^{d/2-1} \cos(r\,\theta^{-2m/d})` (Men et al. 2024, "Base of
RoPE bounds context length"); they ask for :math:`B_\theta(r) \ge 0` for every
:math:`0 \le r \le L`. The set of bases that satisfy it is *not* an interval: it is a
union of islands, so "the smallest base for context L" depends on how the base axis is
searched. Here it is scanned on a log grid and refined by bisection
(:func:`feasible_bases`).

:func:`first_negative_distance` evaluates many bases at once with angle addition,
:math:`\cos((s + j)g) = \cos sg\cos jg - \sin sg\sin jg`, so that a block of ``T`` distances
starting at ``s`` costs one matrix product instead of ``T d/2`` cosines; blocks are
visited in order and a base leaves the batch at its first negative value.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import validation as _v

__all__ = ["FeasibleBases", "cosine_sum", "feasible_bases", "first_negative_distance", "scans_by_context"]

# Each kernel call covers T x J distances for BATCH bases: cos/sin of T offsets and J block
# starts per pair (T + J of them, balanced near sqrt(T J)) and one matrix product.
# (T, J) per call: spans 64, 192, 832 (reaching 1088 > 1024), 1024, 2048, 4096, then 8192
# repeated; most bases fail early, so the spans double while the batch thins out.
STAGES = ((8, 8), (16, 12), (32, 26), (32, 32), (64, 32), (64, 64), (128, 64))
BATCH = 128  # bases per kernel call


@functools.partial(jax.jit, static_argnames=("half", "offsets", "starts"))
def _chunk(log_thetas: jax.Array, first: jax.Array, half: int, offsets: int, starts: int) -> jax.Array:
    """``B_theta(first + s*offsets + j)`` for a batch of bases: shape ``(BATCH, starts*offsets)``."""
    m = jnp.arange(half, dtype=jnp.float64)
    g = jnp.exp(-(2.0 / (2 * half)) * m[None, :] * log_thetas[:, None])  # (B, K)
    j = jnp.arange(offsets, dtype=jnp.float64)
    s = first.astype(jnp.float64) + offsets * jnp.arange(starts, dtype=jnp.float64)
    offset = j[None, :, None] * g[:, None, :]  # (B, T, K), angles formed in float64
    start = s[None, None, :] * g[:, :, None]  # (B, K, J)
    values = jnp.einsum("btk,bkj->bjt", jnp.cos(offset), jnp.cos(start)) - jnp.einsum(
        "btk,bkj->bjt", jnp.sin(offset), jnp.sin(start))
    return values.reshape(values.shape[0], -1)


def _stages(limit: int):
    """``(first, T, J)`` kernel calls covering distances ``0 .. limit``: the short stages first,
    so that bases which fail early cost little, then the last stage repeated."""
    first = 0
    for index, (offsets, starts) in enumerate(STAGES):
        last = index == len(STAGES) - 1
        while first <= limit:
            yield first, offsets, starts
            first += offsets * starts
            if not last:
                break


def cosine_sum(theta: float, d: int, length: int) -> np.ndarray:
    r""":math:`B_\theta(r)` for ``r = 0 .. length-1`` (one base), by the same kernel.

    >>> np.round(cosine_sum(100.0, 4, 3), 6).tolist()   # cos(r) + cos(r/10)
    [2.0, 1.535306, 0.56392]
    """
    _v.require_x64("base_bounds.cosine_sum")
    d = _v.head_dim(d)
    theta = _v.base(theta)
    out = []
    for first, offsets, starts in _stages(length - 1):
        block = _chunk(jnp.full(BATCH, math.log(theta)), jnp.int64(first), d // 2, offsets, starts)
        out.append(np.asarray(block[0]))
    return np.concatenate(out)[:length]


def first_negative_distance(thetas: np.ndarray, d: int, limit: int) -> np.ndarray:
    r"""For each base, the first distance ``r <= limit`` with :math:`B_\theta(r) < 0`, or -1.

    Shapes: ``thetas`` ``(n,)``; returns ``(n,)`` int64. Work is proportional to the sum of
    the answers (each base stops at its first negative block), memory to ``BATCH x 8192``.

    >>> first_negative_distance(np.array([100.0, 1e6]), 128, 1000).tolist()
    [59, -1]
    """
    _v.require_x64("base_bounds.first_negative_distance")
    d = _v.head_dim(d)
    thetas = np.asarray(thetas, dtype=np.float64)
    for t in thetas:
        _v.base(float(t))
    answer = np.full(thetas.size, -1, dtype=np.int64)
    alive = np.arange(thetas.size)
    for first, offsets, starts in _stages(limit):
        if not alive.size:
            break
        still = []
        for lo in range(0, alive.size, BATCH):
            idx = alive[lo: lo + BATCH]
            logs = np.full(BATCH, math.log(thetas[idx[0]]))
            logs[: idx.size] = np.log(thetas[idx])
            values = np.asarray(_chunk(jnp.asarray(logs), jnp.int64(first), d // 2, offsets, starts))[: idx.size]
            values = values[:, : limit + 1 - first]
            negative = values < 0
            hit = negative.any(axis=1)
            answer[idx[hit]] = first + np.argmax(negative[hit], axis=1)
            still.append(idx[~hit])
        alive = np.concatenate(still)
    return answer


@dataclass(frozen=True)
class FeasibleBases:
    """The scan of :math:`\\min_{r \\le L} B_\\theta(r) \\ge 0` over a log grid of bases."""

    context: int
    grid: np.ndarray  # (n,) bases, increasing
    feasible: np.ndarray  # (n,) bool
    smallest: float  # left edge of the first feasible island, refined by bisection
    monotone_from: float  # every grid base from here to the end of the grid is feasible (inf: none)
    islands: list[tuple[float, float]]  # (first, last) grid bases of each feasible run

    @property
    def is_monotone(self) -> bool:
        return len(self.islands) <= 1


def feasible_bases(d: int, context: int, low: float, high: float, step: float = 1e-3,
                   refine: int = 2) -> FeasibleBases:
    r"""Scan bases :math:`\theta_j = \text{low}\,e^{j\,\text{step}} \le \text{high}` for
    :math:`B_\theta(r) \ge 0` at every ``r <= context``.

    ``smallest`` is the first feasible grid base, moved left through ``refine`` rounds of a
    ``BATCH``-point finer grid between it and its infeasible neighbour (islands narrower
    than one step can be missed: that is the definition checked). ``monotone_from`` is the grid base after the last
    infeasible one.

    >>> f = feasible_bases(128, 1024, 3000.0, 8000.0, step=0.01)
    >>> round(f.smallest, -1), f.is_monotone
    (4290.0, False)
    """
    _v.require_x64("base_bounds.feasible_bases")
    d = _v.head_dim(d)
    low, high = _v.base(low, "low"), _v.base(high, "high")
    grid = low * np.exp(step * np.arange(int(math.log(high / low) / step) + 1))
    feasible = first_negative_distance(grid, d, context) < 0
    if not feasible.any():
        raise ValueError(f"no base in [{low:g}, {high:g}] keeps the cosine sum non-negative up to {context}")
    first = int(np.argmax(feasible))
    smallest = float(grid[first])
    if first > 0:
        # the left edge of the first island: a finer geometric grid between the infeasible
        # neighbour and the first feasible base, one batch per round
        bad, good = float(grid[first - 1]), smallest
        for _ in range(refine):
            fine = bad * (good / bad) ** (np.arange(1, BATCH + 1) / (BATCH + 1))
            ok = first_negative_distance(fine, d, context) < 0
            if ok.any():
                hit = int(np.argmax(ok))
                good, bad = float(fine[hit]), float(fine[hit - 1]) if hit else bad
            else:
                bad = float(fine[-1])
        smallest = good
    infeasible = np.flatnonzero(~feasible)
    if not infeasible.size:
        monotone_from = float(grid[0])
    else:
        monotone_from = float(grid[infeasible[-1] + 1]) if infeasible[-1] + 1 < grid.size else math.inf
    edges = np.diff(np.concatenate([[0], feasible.astype(np.int8), [0]]))
    runs = zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1)
    islands = [(float(grid[a]), float(grid[b])) for a, b in runs]
    return FeasibleBases(context, grid, feasible, smallest, monotone_from, islands)


def scans_by_context(d: int, tops: dict[int, float], low: float = 2.0) -> dict[int, FeasibleBases]:
    """:func:`feasible_bases` for each context of ``tops`` (context -> highest base scanned), in order.

    A base infeasible for ``L`` is infeasible for every longer context, so each scan starts just
    below the previous context's smallest base.

    >>> scans = scans_by_context(128, {1024: 8000.0}, low=3000.0)
    >>> round(scans[1024].smallest, -1)
    4290.0
    """
    out = {}
    for length in sorted(tops):
        out[length] = feasible_bases(d, length, low, tops[length])
        low = out[length].smallest * 0.999
    return out
