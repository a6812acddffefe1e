r"""Which frequency pairs decide a head's attention: exact per-pair shares of its logits.

RoPE rotates each pair on its own, so a logit is a sum of one term per pair (Eq. 3):

.. math:: a_{ij} = (R^i q_i)^\top (R^j k_j) = \sum_m c_{ijm},\qquad
          c_{ijm} = q_i^{(m)\top}\rho\bigl((j-i)g_m\bigr)k_j^{(m)}.

The decomposition is exact (no linearisation): the shares of any logit, of the *margin*
:math:`a_{ij^*} - a_{ij'}` of a row's argmax :math:`j^*` over its runner-up :math:`j'`, or of a
band of pairs (the top, middle and bottom quarter of the spectrum) add up to the whole.
Everything here is a pure NumPy function of captured (unrotated) ``q`` and ``k``, any model.

Also here: the *shift test* of a head (does the argmax keep its target token when every key
is seen ``s`` tokens further away?), which separates heads that choose by content from heads
that choose by position, and Thm 6.1 on a real query (:func:`margin_breaking_context`): the
first context in which some placement of the runner-up key out-scores the winning key through
a chosen set of pairs.
Reference: Barbero et al. (2025) §4-§6, Figs 7, 12, 17, 18, Thm 6.1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ropelab.theory import semantic_channels as th_sc

from . import relative_position, rotary

__all__ = [
    "BANDS",
    "Decisions",
    "band_slices",
    "band_sums",
    "channel_breaking_contexts",
    "decisions",
    "margin_breaking_context",
    "pair_logits",
    "shift_keep_rate",
]

BANDS = ("top", "middle", "bottom")


def band_slices(n_pairs: int) -> dict[str, slice]:
    """The three bands of a spectrum of ``n_pairs`` pairs (pair 0 the highest frequency).

    ``top`` is the highest quarter, ``bottom`` the lowest quarter, ``middle`` the half between.

    >>> band_slices(128)
    {'top': slice(0, 32, None), 'middle': slice(32, 96, None), 'bottom': slice(96, 128, None)}
    """
    if n_pairs < 4:
        raise ValueError(f"n_pairs must be >= 4 to form quarter bands, got {n_pairs}")
    quarter = n_pairs // 4
    return {"top": slice(0, quarter), "middle": slice(quarter, n_pairs - quarter), "bottom": slice(n_pairs - quarter, n_pairs)}


def pair_logits(q: object, k: object, freqs: object, layout: str = "half",
                query_positions: object = None, key_positions: object = None) -> np.ndarray:
    r"""Every pair's term :math:`c_{ijm}` of every logit; shape ``(n_q, n_k, d/2)``, float64.

    ``q`` is ``(n_q, d)`` and ``k`` is ``(n_k, d)``, unrotated (as captured before RoPE);
    ``freqs`` ``(d/2,)``. Positions default to ``0 .. n-1``; pass others for counterfactuals
    (the same vectors at other positions). Summing over the last axis gives
    :math:`a_{ij} = (R^i q_i)^\top(R^j k_j)` (no ``1/sqrt(d)``, no mask).

    >>> c = pair_logits(np.array([[1.0, 0.0, 0.0, 2.0]]), np.array([[1.0, 0.0, 0.0, 1.0]]), [1.0, 0.1])
    >>> c.shape, c.sum(-1).tolist()
    ((1, 1, 2), [[3.0]])
    """
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    if q.ndim != 2 or k.ndim != 2 or q.shape[1] != k.shape[1]:
        raise ValueError(f"q and k must have shapes (n_q, d) and (n_k, d), got {q.shape} and {k.shape}")
    qp = np.arange(q.shape[0]) if query_positions is None else np.asarray(query_positions)
    kp = np.arange(k.shape[0]) if key_positions is None else np.asarray(key_positions)
    qr = np.asarray(rotary.apply(q, qp, freqs, layout), dtype=np.float64)
    kr = np.asarray(rotary.apply(k, kp, freqs, layout), dtype=np.float64)
    first, second = rotary.pair_indices(q.shape[1], layout)
    return (np.einsum("im,jm->ijm", qr[:, first], kr[:, first])
            + np.einsum("im,jm->ijm", qr[:, second], kr[:, second]))


def band_sums(terms: object) -> dict[str, np.ndarray]:
    """Sum of per-pair terms ``(..., d/2)`` over each band of :func:`band_slices`: ``{band: (...)}``.

    >>> {b: float(v) for b, v in band_sums(np.arange(8.0)).items()}
    {'top': 1.0, 'middle': 14.0, 'bottom': 13.0}
    """
    t = np.asarray(terms, dtype=np.float64)
    return {name: t[..., s].sum(-1) for name, s in band_slices(t.shape[-1]).items()}


@dataclass(frozen=True)
class Decisions:
    """Per row of one head: the argmax key, the runner-up key and the margin, split by pair.

    Shapes (``R`` decided rows): ``rows``, ``winner``, ``runner_up``, ``margin`` ``(R,)``;
    ``terms (R, d/2)`` with ``terms.sum(-1) == margin`` exactly up to rounding.
    """

    rows: np.ndarray
    winner: np.ndarray
    runner_up: np.ndarray
    margin: np.ndarray
    terms: np.ndarray

    def band_shares(self) -> dict[str, float]:
        r"""Share of the summed margin carried by each band: :math:`\sum_i c_{i,b} / \sum_i M_i`."""
        total = float(self.margin.sum())
        return {name: float(v.sum()) / total for name, v in band_sums(self.terms).items()}


def decisions(terms: object, mask: object, first_row: int = 2) -> Decisions:
    r"""Argmax, runner-up and per-pair margin of every row from ``first_row`` on.

    ``terms`` is :func:`pair_logits`' ``(n, n, d/2)``; ``mask (n, n)`` says which keys a row
    reads (causal, windowed). Row ``i``'s margin :math:`M_i = a_{ij^*} - a_{ij'} \ge 0` and its
    terms :math:`c_{ij^*m} - c_{ij'm}`. Rows with fewer than two readable keys are skipped.

    >>> t = np.zeros((3, 3, 1)); t[2, :, 0] = [1.0, 3.0, 2.0]
    >>> d = decisions(t, np.tril(np.ones((3, 3), bool)))
    >>> d.winner.tolist(), d.runner_up.tolist(), d.margin.tolist()
    ([1], [2], [1.0])
    """
    t = np.asarray(terms, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    logits = np.where(mask, t.sum(-1), -np.inf)
    rows = np.flatnonzero(mask.sum(-1) >= 2)
    rows = rows[rows >= first_row]
    order = np.argsort(-logits[rows], axis=-1, kind="stable")
    winner, runner = order[:, 0], order[:, 1]
    diff = t[rows, winner] - t[rows, runner]
    margin = logits[rows, winner] - logits[rows, runner]
    return Decisions(rows, winner, runner, margin, diff)


def shift_keep_rate(q: object, k: object, freqs: object, mask: object, shift: int,
                    layout: str = "half", first_row: int = 2) -> float:
    r"""Share of rows whose argmax key stays the same when every key is seen ``shift`` tokens further.

    The same vectors with query ``i`` at position ``i + shift``: :math:`\tilde a_{ij} =
    q_i^\top R^{j-i-shift}k_j`. A head that chooses by content keeps its targets; a head that
    chooses by distance (diagonal, previous-token) moves them. Shapes as :func:`pair_logits`.

    >>> q = k = np.tile([1.0, 0.0], (4, 1))   # one pair at frequency 0: content only
    >>> shift_keep_rate(q, k, [0.0], np.tril(np.ones((4, 4), bool)), 5)
    1.0
    """
    if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)) or shift < 1:
        raise ValueError(f"shift must be an integer >= 1, got {shift!r}")
    n = np.asarray(q).shape[0]
    base = decisions(pair_logits(q, k, freqs, layout), mask, first_row)
    moved = decisions(pair_logits(q, k, freqs, layout, query_positions=np.arange(n) + shift), mask, first_row)
    return float(np.mean(base.winner == moved.winner))


@dataclass(frozen=True)
class MarginBreak:
    """Where a multi-pair margin breaks: ``context`` tokens, with the winner and rival at those distances."""

    context: int
    target_distance: int
    rival_distance: int


def margin_breaking_context(q: object, target: object, rival: object, freqs: object, pairs: object,
                            limit: int, layout: str = "half") -> MarginBreak | None:
    r"""Thm 6.1 on a real query: the first context where the rival key can out-score the target.

    Through the pairs ``pairs`` only: :math:`t(r) = \sum_{m\in S} q^{(m)\top}\rho(-rg_m)k_t^{(m)}`
    and :math:`o(r)` alike for the rival. In a context of ``N`` tokens the rival wins iff some
    distinct :math:`r_t, r_o < N` have :math:`o(r_o) > t(r_t)`; with the later of the two at
    ``r`` that is :math:`\max(o(r) - \min_{s<r}t(s),\ \max_{s<r}o(s) - t(r)) > 0`, so
    :math:`N^* = 1 + \min\{r\}` (the argument of
    :func:`ropelab.constructions.semantic_channels.breaking_context`, here for many pairs and any
    target). For one pair with the target aligned to the query it is the closed form
    :func:`ropelab.theory.semantic_channels.breaking_context` (tested). ``None`` when no
    context up to ``limit`` breaks. Shapes: ``q``, ``target``, ``rival`` ``(d,)``.

    >>> b = margin_breaking_context([1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.01], [0], 10_000)
    >>> b.context == th_sc.breaking_context(0.01, math.pi)
    True
    """
    first, second = rotary.pair_indices(np.asarray(q).shape[-1], layout)
    pairs = np.asarray(pairs, dtype=int)

    def sub(x):  # the chosen pairs, in the half layout relative_position.logit_curve reads
        x = np.asarray(x, dtype=np.float64)
        return np.concatenate([x[first[pairs]], x[second[pairs]]])

    g = np.asarray(freqs, dtype=np.float64)[pairs]
    t = np.asarray(relative_position.logit_curve(sub(q), sub(target), g, int(limit)), dtype=np.float64)
    o = np.asarray(relative_position.logit_curve(sub(q), sub(rival), g, int(limit)), dtype=np.float64)
    prefix_min_t = np.concatenate([[math.inf], np.minimum.accumulate(t)[:-1]])
    prefix_max_o = np.concatenate([[-math.inf], np.maximum.accumulate(o)[:-1]])
    rival_later, target_later = o - prefix_min_t, prefix_max_o - t
    hits = np.flatnonzero(np.maximum(rival_later, target_later) > 0)
    if not hits.size:
        return None
    r = int(hits[0])
    if rival_later[r] >= target_later[r]:
        return MarginBreak(r + 1, int(np.argmin(t[:r])), r)
    return MarginBreak(r + 1, r, int(np.argmax(o[:r])))


def channel_breaking_contexts(target: object, rival: object, freqs: object, pairs: object,
                              layout: str = "half") -> np.ndarray:
    r"""Per pair, Thm 6.1's closed form with the pair's own rival angle and norm ratio; ``(len(pairs),)``.

    Pair ``m`` is read as the theorem's channel: the query aligned with the target's chunk,
    the rival at angle :math:`\phi_m = \angle k_o^{(m)} - \angle k_t^{(m)}` with norm ratio
    :math:`|k_o^{(m)}|/|k_t^{(m)}|`; :func:`ropelab.theory.semantic_channels.breaking_context`
    gives its breaking context (``inf`` at ``g = 0``; 0 where :math:`\rho\cos\phi \ge 1`: the
    rival already beats the target in that pair at distance 0).

    >>> channel_breaking_contexts([1.0, 0.0], [-1.0, 0.0], [0.01], [0]).tolist()
    [159.0]
    """
    first, second = rotary.pair_indices(np.asarray(target).shape[-1], layout)
    kt, ko = np.asarray(target, dtype=np.float64), np.asarray(rival, dtype=np.float64)
    out = []
    for m in np.asarray(pairs, dtype=int):
        a, b = first[m], second[m]
        ratio = math.hypot(ko[a], ko[b]) / math.hypot(kt[a], kt[b])
        angle = math.atan2(ko[b], ko[a]) - math.atan2(kt[b], kt[a])
        angle = math.remainder(angle, 2 * math.pi)
        if ratio * math.cos(angle) >= 1:
            out.append(0.0)
        else:
            out.append(float(th_sc.breaking_context(float(freqs[m]), angle, ratio)))
    return np.asarray(out)
