r"""Semantic channels over long contexts: when a rotating pair stops preferring its key.

Everything here is built from position-only logit curves (:mod:`.relative_position`): with one query
``q`` and one key ``k`` the logit at distance ``r`` is :math:`c(r) = q^\top R^{-r} k`. Curves
are *streamed* in blocks of ``block`` distances, so a search over :math:`10^7` tokens holds
one block at a time; the block starting at ``s`` is the curve of ``q`` against
:math:`R^{-s}k` (since :math:`R^{-(s+t)} = R^{-t}R^{-s}`), whose angle ``s g`` is formed in
float64 from the exact integer ``s`` (error at most :math:`2^{-53} s g` radians).

- :func:`breaking_context` searches, by brute force over every distance, the first context
  in which a rival key out-scores an aligned target in one channel (Thm 6.1; the closed
  form is :func:`ropelab.theory.semantic_channels.breaking_context`).
- :func:`drift_envelope` follows an aligned target's logit out to long distances.
- :func:`diagonal_head_curve`, :func:`diagonal_head_min_weight`,
  :func:`sufficient_scale_sq` and :func:`cheapest_scale_sq` build the Thm 5.3 diagonal head
  from a chosen set of pairs and measure how sharp it is (the positional half of Table 1).
- :func:`completed_turns` counts, per pair, the full turns a rotated vector makes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from . import relative_position, rotary
from . import validation as _v

__all__ = [
    "DriftEnvelope",
    "breaking_context",
    "cheapest_scale_sq",
    "completed_turns",
    "curve_blocks",
    "diagonal_head_curve",
    "diagonal_head_min_weight",
    "drift_envelope",
    "first_overtaking",
    "rival_key",
    "sample_distances",
    "sufficient_scale_sq",
    "target_weight",
    "top_band",
    "weight_among_rivals",
]

BLOCK = 1 << 16  # distances per streamed block: two float64 curves of 0.5 MB each


def _length(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def curve_blocks(q: np.ndarray, k: np.ndarray, freqs: np.ndarray, length: int,
                 block: int = BLOCK, first: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    r"""Stream :math:`c(r) = q^\top R^{-r}k`, ``r = 0 .. length-1``, as ``(start, values)`` blocks.

    Shapes: ``q``, ``k`` ``(d,)``, ``freqs`` ``(d/2,)``; each ``values`` has at most
    ``block`` entries. With ``first`` given, blocks start at that size and double up to
    ``block`` (searches that usually stop early then compute little). Needs ``jax_enable_x64``.

    >>> [(s, np.round(v, 6).tolist()) for s, v in curve_blocks(np.array([1.0, 0.0]),
    ...     np.array([1.0, 0.0]), np.array([np.pi / 2]), 5, block=2)]
    [(0, [1.0, 0.0]), (2, [-1.0, -0.0]), (4, [1.0])]
    """
    length = _length(length, "length")
    block = _length(block, "block")
    size = block if first is None else min(_length(first, "first"), block)
    g = np.asarray(freqs, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    start = 0
    while start < length:
        shifted = np.asarray(rotary.apply(k, start, -g)) if start else k
        yield start, relative_position.logit_curve(q, shifted, g, min(size, length - start))
        start += size
        size = min(2 * size, block)


def rival_key(angle: float, ratio: float = 1.0) -> np.ndarray:
    r"""The 2-vector :math:`\rho(\cos\phi, \sin\phi)`: a key at angle ``phi`` from the query (1, 0).

    >>> np.round(rival_key(np.pi / 2, 2.0), 12).tolist()
    [0.0, 2.0]
    """
    ratio = _v.positive(ratio, "ratio")
    return ratio * np.array([math.cos(angle), math.sin(angle)])


@dataclass(frozen=True)
class Break:
    """The first context ``N`` in which a rival out-scores the target, and where they sit."""

    context: int  # N*: distances 0 .. N*-1 are available
    target_distance: int
    rival_distance: int
    margin: float  # rival minus target logit in that placement (> 0)
    closest_before: float  # the best such margin in a context one token shorter (<= 0)


def breaking_context(freq: float, rival_angle: float, ratio: float = 1.0, limit: int = 10**7,
                     block: int = BLOCK) -> Break | None:
    r"""Brute force over every distance: the first context where a rival beats the target.

    One channel of frequency ``freq``; query (1, 0); the target key (1, 0) sits at one
    distance and copies of :func:`rival_key` fill the others, so the logits are
    :math:`t(r) = \cos(rg)` and :math:`o(r) = \rho\cos(\phi - rg)`. The rival wins in a
    context of ``N`` tokens iff some :math:`r_t \ne r_o < N` has :math:`o(r_o) > t(r_t)`;
    with the later of the two at ``r``, that is
    :math:`m(r) = \max(o(r) - \min_{s<r} t(s),\ \max_{s<r} o(s) - t(r)) > 0`, so
    :math:`N^* = 1 + \min\{r : m(r) > 0\}`. Prefix minima and maxima carry across blocks;
    memory is ``O(block)``. Returns ``None`` when no context up to ``limit`` breaks.

    >>> b = breaking_context(0.01, np.pi)
    >>> b.context, b.target_distance, b.rival_distance
    (159, 157, 158)
    >>> breaking_context(0.0, np.pi, limit=1000) is None
    True
    """
    limit = _length(limit, "limit")
    g = np.array([_v.positive(freq, "freq", minimum=0.0, inclusive=True)])
    query, target = np.array([1.0, 0.0]), np.array([1.0, 0.0])
    rival = rival_key(rival_angle, ratio)
    min_t, min_t_at = math.inf, -1
    max_o, max_o_at = -math.inf, -1
    closest = -math.inf
    blocks = zip(curve_blocks(query, target, g, limit, block, first=4096),
                 curve_blocks(query, rival, g, limit, block, first=4096))
    for (start, t), (_, o) in blocks:
        # exclusive prefix extrema: everything strictly before each distance
        prefix_min_t = np.minimum(min_t, np.concatenate([[math.inf], np.minimum.accumulate(t)[:-1]]))
        prefix_max_o = np.maximum(max_o, np.concatenate([[-math.inf], np.maximum.accumulate(o)[:-1]]))
        rival_later = o - prefix_min_t
        target_later = prefix_max_o - t
        m = np.maximum(rival_later, target_later)
        hits = np.flatnonzero(m > 0)
        if hits.size:
            r = int(hits[0])
            before = float(np.max(m[:r])) if r else -math.inf
            if rival_later[r] >= target_later[r]:
                local = int(np.argmin(t[:r])) if r else -1
                t_at = local + start if r and t[local] < min_t else min_t_at
                return Break(start + r + 1, t_at, start + r, float(m[r]), max(closest, before))
            local = int(np.argmax(o[:r])) if r else -1
            o_at = local + start if r and o[local] > max_o else max_o_at
            return Break(start + r + 1, start + r, o_at, float(m[r]), max(closest, before))
        closest = max(closest, float(np.max(m)))
        i_t, i_o = int(np.argmin(t)), int(np.argmax(o))
        if t[i_t] < min_t:
            min_t, min_t_at = float(t[i_t]), start + i_t
        if o[i_o] > max_o:
            max_o, max_o_at = float(o[i_o]), start + i_o
    return None


def target_weight(freq: float, rival_angle: float, ratio: float, context: int, target_distance: int,
                  scale: float = 1.0) -> float:
    r"""The target's attention weight when it sits at ``target_distance`` among rivals.

    Row of a query of norm ``scale`` over ``context`` keys: the target at one distance,
    :func:`rival_key` at every other. Lemma A.3: once a rival out-scores the target this is
    below 1/2 for every ``scale``.

    >>> round(target_weight(0.01, np.pi, 1.0, 2, 0, scale=1.0), 6)   # cos 0 vs -cos(0.01)
    0.880792
    """
    context = _length(context, "context")
    if not 0 <= target_distance < context:
        raise ValueError(f"target_distance must be an integer in [0, {context - 1}], got {target_distance}")
    g = np.array([_v.positive(freq, "freq", minimum=0.0, inclusive=True)])
    query = scale * np.array([1.0, 0.0])
    target = relative_position.logit_curve(query, np.array([1.0, 0.0]), g, context)[target_distance]
    rivals = relative_position.logit_curve(query, rival_key(rival_angle, ratio), g, context)
    rivals = np.delete(rivals, target_distance)
    top = max(float(target), float(np.max(rivals)) if rivals.size else -math.inf)
    total = math.exp(target - top) + float(np.sum(np.exp(rivals - top)))
    return math.exp(target - top) / total


@dataclass(frozen=True)
class DriftEnvelope:
    """An aligned target's logit at sampled distances and its running minimum up to each."""

    distances: np.ndarray  # (S,) int64, increasing
    values: np.ndarray  # (S,) c(r) at those distances
    running_min: np.ndarray  # (S,) min_{r' <= r} c(r'): the worst placement within context r + 1


def sample_distances(length: int, samples: int) -> np.ndarray:
    """About ``samples`` distinct log-spaced integers in ``[0, length)``, 0 and ``length - 1`` included.

    >>> sample_distances(1000, 5).tolist()
    [0, 5, 31, 177, 999]
    """
    length = _length(length, "length")
    grid = np.unique(np.round(np.geomspace(1, length, max(samples, 2)) - 1).astype(np.int64))
    return np.unique(np.concatenate([[0], grid, [length - 1]]))


def drift_envelope(q: np.ndarray, k: np.ndarray, freqs: np.ndarray, length: int, samples: int = 400,
                   block: int = BLOCK) -> DriftEnvelope:
    r"""Stream :math:`c(r)` over ``r < length`` and keep samples and the running minimum.

    Memory is ``O(block + samples)`` for any ``length`` (e.g. :math:`10^7`). Pairs with
    zero weight in ``q`` or ``k`` may be dropped by the caller to save time.

    >>> e = drift_envelope(np.array([1.0, 0.0]), np.array([1.0, 0.0]), np.array([0.001]), 5000, 4)
    >>> e.distances.tolist(), np.round(e.running_min, 4).tolist()
    ([0, 16, 291, 4999], [1.0, 0.9999, 0.958, -1.0])
    """
    wanted = sample_distances(length, samples)
    values = np.empty(wanted.size)
    running = np.empty(wanted.size)
    lowest = math.inf
    for start, c in curve_blocks(q, k, freqs, length, block):
        prefix = np.minimum(lowest, np.minimum.accumulate(c))
        inside = (wanted >= start) & (wanted < start + c.size)
        values[inside] = c[wanted[inside] - start]
        running[inside] = prefix[wanted[inside] - start]
        lowest = float(prefix[-1])
    return DriftEnvelope(wanted, values, running)


def top_band(freqs: np.ndarray, size: int) -> np.ndarray:
    """Indices of the ``size`` highest *rotating* pairs (nonzero frequency), fewer if absent.

    >>> top_band(np.array([1.0, 0.1, 0.0, 0.01]), 2).tolist()
    [0, 1]
    """
    g = np.asarray(freqs, dtype=np.float64)
    rotating = np.flatnonzero(g > 0)
    return rotating[np.argsort(-g[rotating], kind="stable")][:size]


def diagonal_head_curve(freqs: np.ndarray, pairs: np.ndarray, context: int) -> np.ndarray:
    r"""Logit curve of the Thm 5.3 head :math:`q = k = \psi`, :math:`\psi` a unit vector with
    equal weight on ``pairs``: :math:`c(r) = \frac{1}{|P|}\sum_{m \in P}\cos(r g_m)`.

    An empty ``pairs`` gives the zero head (all logits 0). Shapes: returns ``(context,)``.

    >>> np.round(diagonal_head_curve(np.array([np.pi / 2, 0.1]), np.array([0]), 3), 12).tolist()
    [1.0, 0.0, -1.0]
    """
    g = np.asarray(freqs, dtype=np.float64)
    context = _length(context, "context")
    pairs = np.asarray(pairs, dtype=np.int64)
    if not pairs.size:
        return np.zeros(context)
    # Pairs outside the band carry no weight, so the curve is computed over the band alone.
    psi = np.zeros(2 * pairs.size)
    psi[: pairs.size] = 1.0 / math.sqrt(pairs.size)
    return relative_position.logit_curve(psi, psi, g[pairs], context)


def diagonal_head_min_weight(curve: np.ndarray, scale_sq: float) -> float:
    r"""Smallest diagonal weight :math:`\min_i \alpha_{ii}` of the head with logits
    :math:`s^2 c(i - j)`, read off every row with :func:`.relative_position.weight_at_distance`.

    >>> round(diagonal_head_min_weight(np.zeros(4), 7.0), 6)   # the zero head: 1/N
    0.25
    """
    return float(np.min(relative_position.weight_at_distance(scale_sq * np.asarray(curve), 0)))


def sufficient_scale_sq(curve: np.ndarray, eps: float) -> float:
    r"""The explicit scale of Thm 5.3's proof: :math:`s^2 = \ln\frac{(N-1)(1-\epsilon)}{\epsilon}/\delta_N`,
    :math:`\delta_N = c(0) - \max_{1 \le r < N} c(r)`; ``inf`` when :math:`\delta_N \le 0`
    (no scale separates the diagonal, e.g. when no pair rotates).

    At this scale every off-diagonal term is at most :math:`\epsilon/((N-1)(1-\epsilon))` of
    the diagonal one, so :math:`\alpha_{ii} \ge 1-\epsilon` on every row.

    >>> round(sufficient_scale_sq(np.array([1.0, 0.0, -1.0]), 0.01), 4)
    5.2883
    """
    c = np.asarray(curve, dtype=np.float64)
    if c.size < 2:
        return 0.0
    eps = _v.positive(eps, "eps")
    if eps >= 1:
        raise ValueError(f"eps must lie in (0, 1), got {eps}")
    delta = float(c[0] - np.max(c[1:]))
    if delta <= 0:
        return math.inf
    return math.log((c.size - 1) * (1 - eps) / eps) / delta


def cheapest_scale_sq(curve: np.ndarray, eps: float, rel_tol: float = 1e-6) -> float:
    r"""Smallest :math:`s^2` with :math:`\min_i\alpha_{ii} \ge 1-\epsilon`, by bisection.

    :math:`\alpha_{ii}` increases with ``s`` (every off-diagonal logit is below the diagonal
    one), so bisection between 0 and :func:`sufficient_scale_sq` converges; ``inf`` if no
    scale works.

    >>> round(cheapest_scale_sq(np.array([1.0, 0.0, -1.0]), 0.01), 3)
    4.605
    """
    upper = sufficient_scale_sq(curve, eps)
    if not math.isfinite(upper):
        return math.inf
    lower = 0.0
    while upper - lower > rel_tol * upper:
        middle = 0.5 * (lower + upper)
        if diagonal_head_min_weight(curve, middle) >= 1 - eps:
            upper = middle
        else:
            lower = middle
    return upper


def completed_turns(freqs: np.ndarray, length: int, block: int = 1 << 14) -> np.ndarray:
    r"""Full turns each pair's rotated vector completes over positions ``0 .. length``.

    Measured, not computed from :math:`Lg/2\pi`: the unit vector of every pair is rotated by
    :func:`.rotary.apply` at each position and a turn is counted whenever its angle in
    :math:`[0, 2\pi)` drops from one position to the next (for :math:`g < \pi`). Positions
    are streamed in blocks. Shapes: ``freqs`` ``(d/2,)`` with entries in ``[0, pi)``;
    returns ``(d/2,)`` int64.

    >>> completed_turns(np.array([1.0, 0.1, 0.0]), 100).tolist()
    [15, 1, 0]
    """
    g = np.asarray(freqs, dtype=np.float64)
    if np.any(g < 0) or np.any(g >= math.pi):
        raise ValueError("freqs must lie in [0, pi) for turns to be counted from consecutive positions")
    length = _length(length, "length")
    d = 2 * g.size
    unit = np.zeros(d)
    unit[: g.size] = 1.0  # the first coordinate of every pair (half layout)
    turns = np.zeros(g.size, dtype=np.int64)
    previous = None
    for start in range(0, length + 1, block):
        positions = np.arange(start, min(start + block, length + 1))
        rotated = np.asarray(rotary.apply(unit, positions, g))
        angle = np.mod(np.arctan2(rotated[:, g.size:], rotated[:, : g.size]), 2 * math.pi)
        if previous is not None:
            angle = np.concatenate([previous[None, :], angle])
        turns += np.sum(np.diff(angle, axis=0) < 0, axis=0)
        previous = angle[-1]
    return turns


def first_overtaking(query: np.ndarray, target: np.ndarray, rival: np.ndarray, freqs: np.ndarray,
                     limit: int) -> Break | None:
    r"""Brute force for any vectors: the first context in which a copy of ``rival`` out-scores ``target``.

    The general form of :func:`breaking_context`: the target key sits at one distance and
    copies of the rival fill the others, with logits :math:`t(r) = q^\top R^{-r}k_t` and
    :math:`o(r) = q^\top R^{-r}k_o` (any angles and norms, any number of pairs). The first
    ``N`` with some :math:`r_t \ne r_o < N` and :math:`o(r_o) > t(r_t)`; ``None`` within ``limit``.
    Shapes: ``query``, ``target``, ``rival`` ``(d,)``, ``freqs`` ``(d/2,)``; memory ``O(limit)``.

    >>> b = first_overtaking(np.array([1.0, 0.0]), np.array([1.0, 0.0]), np.array([-1.0, 0.0]), np.array([0.01]), 1000)
    >>> b.context == breaking_context(0.01, np.pi).context
    True
    """
    limit = _length(limit, "limit")
    g = np.asarray(freqs, dtype=np.float64)
    t = relative_position.logit_curve(query, target, g, limit)
    o = relative_position.logit_curve(query, rival, g, limit)
    prefix_min_t = np.concatenate([[math.inf], np.minimum.accumulate(t)[:-1]])
    prefix_max_o = np.concatenate([[-math.inf], np.maximum.accumulate(o)[:-1]])
    rival_later, target_later = o - prefix_min_t, prefix_max_o - t
    m = np.maximum(rival_later, target_later)
    hits = np.flatnonzero(m > 0)
    if not hits.size:
        return None
    r = int(hits[0])
    before = float(np.max(m[:r])) if r else -math.inf
    if rival_later[r] >= target_later[r]:
        return Break(r + 1, int(np.argmin(t[:r])), r, float(m[r]), before)
    return Break(r + 1, r, int(np.argmax(o[:r])), float(m[r]), before)


def weight_among_rivals(query: np.ndarray, target: np.ndarray, rival: np.ndarray, freqs: np.ndarray,
                        context: int, target_distance: int) -> float:
    r"""The target's attention weight at ``target_distance`` with copies of ``rival`` at every other distance.

    The general form of :func:`target_weight` (any vectors, any pairs). Shapes: ``query``,
    ``target``, ``rival`` ``(d,)``, ``freqs`` ``(d/2,)``.

    >>> round(weight_among_rivals(np.array([1.0, 0.0]), np.array([1.0, 0.0]), np.array([-1.0, 0.0]),
    ...                           np.array([0.01]), 2, 0), 6)
    0.880792
    """
    context = _length(context, "context")
    if not 0 <= target_distance < context:
        raise ValueError(f"target_distance must be an integer in [0, {context - 1}], got {target_distance}")
    g = np.asarray(freqs, dtype=np.float64)
    t = float(relative_position.logit_curve(query, target, g, context)[target_distance])
    others = np.delete(relative_position.logit_curve(query, rival, g, context), target_distance)
    top = max(t, float(np.max(others)) if others.size else -math.inf)
    return math.exp(t - top) / (math.exp(t - top) + float(np.sum(np.exp(others - top))))
